"""``helm.release`` (``--release``): is the release stuck in ``pending-*``? A pending revision
younger than helm's ``--timeout`` is a deploy in progress; an older one needs a rollback.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kube_client._durations import format_age

from .._engine.model import Finding, Outcome
from .._facts.cluster import HelmRelease
from .._facts.policy import Policy

__all__ = ["PENDING", "helm_release"]

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


def helm_release(policy: Policy, helm_release: HelmRelease | None, *, deploy_window: timedelta = timedelta(minutes=5)) -> Finding:
    """``deploy_window``: helm's --timeout; a pending revision younger than it is a deploy in progress."""
    if helm_release is None:
        return Finding(outcome=Outcome.SKIP, message="no --release given")
    rel = helm_release
    latest = rel.latest
    evidence: dict[str, Any] = {"release": rel.name, "namespace": rel.namespace, "storage": rel.driver,
                                "revisions": [{"revision": r.version, "status": r.status} for r in sorted(rel.revisions, key=lambda r: r.version)]}
    if latest is None:
        return Finding(outcome=Outcome.PASS, evidence=evidence,
                       message=f"no release {rel.name} in {rel.namespace} yet: helm upgrade --install will create it")
    now = rel.server_time or policy.now
    age = (now - latest.modified) if latest.modified else None
    since = f" for {format_age(age)}" if age is not None else ""
    if latest.status in PENDING:
        if age is not None and age < deploy_window:
            return Finding(outcome=Outcome.FAIL, evidence=evidence,
                           message=f"release {rel.name} revision {latest.version} is {latest.status} since {format_age(age)} ago: "
                           "another deploy is probably running right now",
                           remediation="wait for it to finish; two deploys of one release at once fail with 'another operation is in progress'")
        good = [r for r in rel.revisions if r.status in ("deployed", "superseded") and r.version < latest.version]
        if latest.status == "pending-install" or not good:
            fix = f"nothing to roll back to: helm uninstall {rel.name} -n {rel.namespace}, then install again"
        else:
            target = max(good, key=lambda r: r.version).version
            fix = f"helm rollback {rel.name} {target} -n {rel.namespace} (the last good revision), then deploy again"
        return Finding(outcome=Outcome.FAIL, evidence=evidence,
                       message=f"release {rel.name} is stuck in {latest.status} (revision {latest.version}){since}: helm upgrade will refuse with "
                       "'another operation (install/upgrade/rollback) is in progress'",
                       remediation=fix)
    if latest.status == "failed":
        deployed = [r for r in rel.revisions if r.status == "deployed"]
        if not deployed:
            return Finding(outcome=Outcome.WARN, evidence=evidence,
                           message=f"release {rel.name}'s last revision {latest.version} failed and no revision is deployed",
                           remediation="a plain helm upgrade may refuse ('has no deployed releases'); use --install, or uninstall first")
        return Finding(outcome=Outcome.WARN, evidence=evidence,
                       message=f"release {rel.name}'s last attempt (revision {latest.version}) failed; revision {max(r.version for r in deployed)} is deployed")
    return Finding(outcome=Outcome.PASS, evidence=evidence,
                   message=f"release {rel.name} is {latest.status} at revision {latest.version}")
