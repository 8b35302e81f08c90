"""``rbac.subjects``: do the bindings for the namespace name ServiceAccounts that exist? A
near match is suggested (``rmxc-jenkinss exists: a typo?``).
"""

from __future__ import annotations

import difflib

from .._engine.model import Finding, Outcome
from .._facts.cluster import Bindings
from .._facts.policy import Policy
from .serviceaccount import _meta

__all__ = ["rbac_subjects"]


def rbac_subjects(policy: Policy, bindings: Bindings) -> Finding:
    problems = []
    for kind, items in (("RoleBinding", bindings.role_bindings), ("ClusterRoleBinding", bindings.cluster_role_bindings)):
        for binding in items:
            meta = _meta(binding)
            for subject in binding.get("subjects") or []:
                if subject.get("kind") != "ServiceAccount":
                    continue
                ns = subject.get("namespace") or meta.get("namespace") or bindings.namespace
                if kind == "ClusterRoleBinding" and ns != bindings.namespace:
                    continue  # only this namespace's accounts concern this deploy
                known = bindings.service_accounts.get(ns)
                if known is None or subject.get("name") in known:
                    continue
                where = f"{meta.get('namespace')}/{meta.get('name')}" if kind == "RoleBinding" else str(meta.get("name"))
                close = difflib.get_close_matches(str(subject.get("name")), sorted(known), n=1, cutoff=0.8)
                hint = f" ({ns}/{close[0]} exists: a typo?)" if close else ""
                problems.append({"binding": f"{kind} {where}", "subject": f"{ns}/{subject.get('name')}", "hint": hint,
                                 "role": (binding.get("roleRef") or {}).get("name")})
    evidence = {"namespace": bindings.namespace, "dangling": problems,
                "role_bindings": len(bindings.role_bindings), "cluster_role_bindings": len(bindings.cluster_role_bindings)}
    if not problems:
        return Finding(outcome=Outcome.PASS, evidence=evidence,
                       message=f"every ServiceAccount named by bindings for namespace {bindings.namespace} exists")
    text = "; ".join(f"{p['binding']} names ServiceAccount {p['subject']}, which does not exist{p['hint']}" for p in problems)
    return Finding(outcome=Outcome.WARN, evidence=evidence, message=text,
                   remediation="fix the subject name in the binding, or create the ServiceAccount it names")
