"""serviceaccount.token, rbac.subjects and helm.release: the symptoms a deploy trips over.

Each explains its finding by the root cause when the facts show one, e.g. an empty token
Secret next to a stale controller-manager lease is the controller-manager's fault.
"""

from __future__ import annotations

import difflib
from datetime import timedelta
from typing import Any

from kube_client._durations import format_age
from .._facts import (
    Bindings,
    HelmRelease,
    KubeObject,
    Leases,
    ServerVersion,
    ServiceAccountFacts,
    token_filled,
)
from .._model import Finding, Outcome
from .._runner import FactError, Policy
from kube_client._cluster import INVALID_SINCE_LABEL, LAST_USED_LABEL, SA_UID_ANNOTATION, stale_leases

from .controlplane import new_leader_age

__all__ = ["helm_release", "rbac_subjects", "serviceaccount_token"]


def _meta(obj: KubeObject) -> dict[str, Any]:
    return dict(obj.get("metadata") or {})


def _kcm_explanation(leases: Leases | FactError) -> str:
    stale = stale_leases(leases) if isinstance(leases, Leases) else {}
    if "kube-controller-manager" in stale:
        return (f"kube-controller-manager has not renewed its lease for {format_age(stale['kube-controller-manager'])}, "
                "so its token controller is not running (see controlplane.leases)")
    return ""


def serviceaccount_token(policy: Policy, service_account: ServiceAccountFacts | None,
                         version: ServerVersion | FactError, leases: Leases | FactError) -> Finding:
    fid = "serviceaccount.token"
    if service_account is None:
        return Finding(id=fid, outcome=Outcome.SKIP, message="the identity is not a ServiceAccount; pass --service-account NS/NAME to check one")
    sa = service_account
    who = f"{sa.namespace}/{sa.name}"
    if sa.own_token_secret:
        return Finding(id=fid, outcome=Outcome.PASS, evidence={"service_account": who, "secret": sa.own_token_secret},
                       message=f"{who} authenticates with its own long-lived token Secret {sa.namespace}/{sa.own_token_secret} "
                       "(not allowed to read ServiceAccounts, so nothing more was checked)")
    if sa.account is None:
        return Finding(id=fid, outcome=Outcome.FAIL, message=f"ServiceAccount {who} does not exist",
                       remediation=f"create it: kubectl create serviceaccount -n {sa.namespace} {sa.name} (or sa-tokens ensure --create-sa)")
    legacy = isinstance(version, ServerVersion) and not version.at_least(1, 24)
    evidence: dict[str, Any] = {"service_account": who, "uid": sa.uid, "server_version": getattr(version, "git_version", None)}
    candidates = sa.secrets_for_account()
    current = [s for s in candidates if (_meta(s).get("annotations") or {}).get(SA_UID_ANNOTATION) in (None, "", sa.uid)]
    usable = [s for s in current if token_filled(s) and not (_meta(s).get("labels") or {}).get(INVALID_SINCE_LABEL)]
    evidence["token_secrets"] = [
        {
            "name": _meta(s).get("name"),
            "filled": token_filled(s),
            "listed_in_serviceaccount": _meta(s).get("name") in sa.listed_secrets,
            "invalid_since": (_meta(s).get("labels") or {}).get(INVALID_SINCE_LABEL),
            "last_used": (_meta(s).get("labels") or {}).get(LAST_USED_LABEL),
        }
        for s in candidates
    ]
    if usable:
        names = ", ".join(str(_meta(s).get("name")) for s in usable)
        listed = [s for s in usable if _meta(s).get("name") in sa.listed_secrets]
        if listed and not legacy:
            return Finding(id=fid, outcome=Outcome.WARN, evidence=evidence,
                           message=f"{who} has a token ({names}) listed in the ServiceAccount's secrets: the legacy token cleaner "
                           "invalidates listed tokens unused for a year (1.29+)",
                           remediation="remove it from .secrets (keep the Secret), or rotate with sa-tokens rotate")
        return Finding(id=fid, outcome=Outcome.PASS, evidence=evidence, message=f"{who} has a usable token Secret ({names})")
    invalid = [s for s in current if (_meta(s).get("labels") or {}).get(INVALID_SINCE_LABEL)]
    if invalid:
        name = _meta(invalid[0]).get("name")
        since = (_meta(invalid[0]).get("labels") or {}).get(INVALID_SINCE_LABEL)
        return Finding(id=fid, outcome=Outcome.FAIL, evidence=evidence,
                       message=f"the token Secret {sa.namespace}/{name} was invalidated on {since} by the legacy token cleaner: requests with it get 401",
                       remediation=f"create a new token (sa-tokens ensure -n {sa.namespace} {sa.name}); removing the label re-enables the old one temporarily")
    stale_uid = [s for s in candidates if s not in current]
    empty = [s for s in current if not token_filled(s)]
    why = _kcm_explanation(leases)
    if empty:
        name = _meta(empty[0]).get("name")
        fresh = new_leader_age(leases, "kube-controller-manager") if isinstance(leases, Leases) else None
        if fresh is not None:
            return Finding(id=fid, outcome=Outcome.WARN, evidence=evidence,
                           message=f"token Secret {sa.namespace}/{name} is still empty, but kube-controller-manager became leader "
                           f"only {format_age(fresh)} ago and is catching up",
                           remediation="run preflight again in a minute")
        return Finding(id=fid, outcome=Outcome.FAIL, evidence=evidence,
                       message=f"token Secret {sa.namespace}/{name} is still empty" + (f": {why}" if why else ": the token controller has not filled it"),
                       remediation="fix kube-controller-manager first (see controlplane.leases)" if why else "check kube-controller-manager's log")
    if legacy:
        message = (f"{who} has no token Secret. This cluster is {version.git_version}: before 1.24 one is created automatically "  # type: ignore[union-attr]
                   "for every ServiceAccount, so its absence means the token controller is not running")
        message += f" ({why})" if why else ""
        return Finding(id=fid, outcome=Outcome.FAIL, evidence=evidence, message=message,
                       remediation="fix kube-controller-manager (see controlplane.leases); sa-tokens ensure --force-create creates one by hand")
    extra = f"; {len(stale_uid)} Secret(s) belong to an earlier ServiceAccount of the same name" if stale_uid else ""
    return Finding(
        id=fid,
        outcome=Outcome.FAIL if policy.options.get("service_account_explicit") else Outcome.WARN,
        evidence=evidence,
        message=f"{who} has no long-lived token: since Kubernetes 1.24 none is created automatically{extra}",
        remediation=f"sa-tokens ensure -n {sa.namespace} {sa.name} (or preflight check --ensure-token)",
    )


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
        return Finding(id="rbac.subjects", outcome=Outcome.PASS, evidence=evidence,
                       message=f"every ServiceAccount named by bindings for namespace {bindings.namespace} exists")
    text = "; ".join(f"{p['binding']} names ServiceAccount {p['subject']}, which does not exist{p['hint']}" for p in problems)
    return Finding(id="rbac.subjects", outcome=Outcome.WARN, evidence=evidence, message=text,
                   remediation="fix the subject name in the binding, or create the ServiceAccount it names")


PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


def helm_release(policy: Policy, helm_release: HelmRelease | None) -> Finding:
    fid = "helm.release"
    if helm_release is None:
        return Finding(id=fid, outcome=Outcome.SKIP, message="no --release given")
    rel = helm_release
    latest = rel.latest
    evidence: dict[str, Any] = {"release": rel.name, "namespace": rel.namespace, "storage": rel.driver,
                                "revisions": [{"revision": r.version, "status": r.status} for r in sorted(rel.revisions, key=lambda r: r.version)]}
    if latest is None:
        return Finding(id=fid, outcome=Outcome.PASS, evidence=evidence,
                       message=f"no release {rel.name} in {rel.namespace} yet: helm upgrade --install will create it")
    now = rel.server_time or policy.now
    age = (now - latest.modified) if latest.modified else None
    since = f" for {format_age(age)}" if age is not None else ""
    if latest.status in PENDING:
        deploy_window = timedelta(seconds=float(policy.options.get("helm_timeout_seconds", 300)))
        if age is not None and age < deploy_window:
            return Finding(id=fid, outcome=Outcome.FAIL, evidence=evidence,
                           message=f"release {rel.name} revision {latest.version} is {latest.status} since {format_age(age)} ago: "
                           "another deploy is probably running right now",
                           remediation="wait for it to finish; two deploys of one release at once fail with 'another operation is in progress'")
        good = [r for r in rel.revisions if r.status in ("deployed", "superseded") and r.version < latest.version]
        if latest.status == "pending-install" or not good:
            fix = f"nothing to roll back to: helm uninstall {rel.name} -n {rel.namespace}, then install again"
        else:
            target = max(good, key=lambda r: r.version).version
            fix = f"helm rollback {rel.name} {target} -n {rel.namespace} (the last good revision), then deploy again"
        return Finding(id=fid, outcome=Outcome.FAIL, evidence=evidence,
                       message=f"release {rel.name} is stuck in {latest.status} (revision {latest.version}){since}: helm upgrade will refuse with "
                       "'another operation (install/upgrade/rollback) is in progress'",
                       remediation=fix)
    if latest.status == "failed":
        deployed = [r for r in rel.revisions if r.status == "deployed"]
        if not deployed:
            return Finding(id=fid, outcome=Outcome.WARN, evidence=evidence,
                           message=f"release {rel.name}'s last revision {latest.version} failed and no revision is deployed",
                           remediation="a plain helm upgrade may refuse ('has no deployed releases'); use --install, or uninstall first")
        return Finding(id=fid, outcome=Outcome.WARN, evidence=evidence,
                       message=f"release {rel.name}'s last attempt (revision {latest.version}) failed; revision {max(r.version for r in deployed)} is deployed")
    return Finding(id=fid, outcome=Outcome.PASS, evidence=evidence,
                   message=f"release {rel.name} is {latest.status} at revision {latest.version}")
