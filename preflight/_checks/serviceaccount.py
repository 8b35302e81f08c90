"""serviceaccount.token, rbac.subjects and helm.release: the symptoms a deploy trips over.

Each explains its finding by the root cause when the facts show one, e.g. an empty token
Secret next to a stale controller-manager lease is the controller-manager's fault.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from kube_client._cluster import (
    INVALID_SINCE_LABEL,
    LAST_USED_LABEL,
    SA_UID_ANNOTATION,
    Leases,
    ServerVersion,
    parse_time,
    stale_leases,
    token_filled,
)
from kube_client._durations import format_age
from kube_client._errors import ConfigError
from kube_client._pem import load_certificates

from .._engine.expiry import expiring
from .._engine.model import Finding, Outcome
from .._engine.runner import FactError
from .._facts.cluster import KubeObject, ServiceAccountFacts
from .._facts.policy import Policy
from .._facts.x509 import describe, rfc3339
from .controlplane import new_leader_age

__all__ = ["serviceaccount_token"]


def _meta(obj: KubeObject) -> dict[str, Any]:
    return dict(obj.get("metadata") or {})


def _kcm_explanation(leases: Leases | FactError) -> str:
    stale = stale_leases(leases) if isinstance(leases, Leases) else {}
    if "kube-controller-manager" in stale:
        return (f"kube-controller-manager has not renewed its lease for {format_age(stale['kube-controller-manager'])}, "
                "so its token controller is not running (see controlplane.leases)")
    return ""


# --legacy-service-account-token-clean-up-period's default (kube-controller-manager, 1.29+)
CLEANUP_PERIOD = timedelta(days=365)
CA_RENEWAL = ("kube-controller-manager rewrites ca.crt from its --root-ca-file; the cluster CA itself is rotated by hand: "
              "https://kubernetes.io/docs/tasks/tls/manual-rotation-of-ca-certificates/")
CLEANUP_RENEWAL = ("use the token (the legacy token cleaner counts from its last use), or remove the Secret from the "
                   "ServiceAccount's .secrets so the cleaner leaves it alone")


def _ca_of(secret: KubeObject, namespace: str, name: str, now: datetime) -> dict[str, Any] | None:
    """The CA certificate the token controller put in the Secret, as a calendar entry."""
    encoded = (secret.get("data") or {}).get("ca.crt")
    try:
        cert = load_certificates(base64.b64decode(encoded or "", validate=True), source=f"Secret {namespace}/{name} ca.crt")[0]
    except (ConfigError, ValueError, IndexError):
        return None
    return {**describe(cert).evidence(now), **expiring(f"{name}/ca.crt", "secret", CA_RENEWAL, secret=f"{namespace}/{name}",
                                                       secret_key="ca.crt")}


def _cleanup(secret: KubeObject, namespace: str, name: str) -> dict[str, Any] | None:
    """When the legacy token cleaner will invalidate a listed, still valid token left unused."""
    labels = _meta(secret).get("labels") or {}
    used = parse_time(f"{labels[LAST_USED_LABEL]}T00:00:00Z") if labels.get(LAST_USED_LABEL) else None
    used = used or parse_time(str(_meta(secret).get("creationTimestamp") or ""))
    if used is None:
        return None
    return {"not_after": rfc3339(used + CLEANUP_PERIOD),
            **expiring(name, "secret", CLEANUP_RENEWAL, kind="token", secret=f"{namespace}/{name}", secret_key="token")}


def _secret_row(secret: KubeObject, sa: ServiceAccountFacts, now: datetime) -> dict[str, Any]:
    name = str(_meta(secret).get("name"))
    labels = _meta(secret).get("labels") or {}
    listed = name in sa.listed_secrets
    row: dict[str, Any] = {
        "name": name,
        "filled": token_filled(secret),
        "listed_in_serviceaccount": listed,
        "invalid_since": labels.get(INVALID_SINCE_LABEL),
        "last_used": labels.get(LAST_USED_LABEL),
    }
    ca = _ca_of(secret, sa.namespace, name, now)
    if ca is not None:
        row["ca_crt"] = ca
    cleanup = _cleanup(secret, sa.namespace, name) if listed and not labels.get(INVALID_SINCE_LABEL) else None
    if cleanup is not None:
        row["invalidated_after"] = cleanup
    return row


def serviceaccount_token(policy: Policy, service_account: ServiceAccountFacts | None,
                         version: ServerVersion | FactError, leases: Leases | FactError, *, explicit: bool = False) -> Finding:
    """``explicit``: the account was named with --service-account, so a missing token fails
    (for the run's own identity it only warns)."""
    if service_account is None:
        return Finding(outcome=Outcome.SKIP, message="the identity is not a ServiceAccount; pass --service-account NS/NAME to check one")
    sa = service_account
    who = f"{sa.namespace}/{sa.name}"
    if sa.own_token_secret:
        return Finding(outcome=Outcome.PASS, evidence={"service_account": who, "secret": sa.own_token_secret},
                       message=f"{who} authenticates with its own long-lived token Secret {sa.namespace}/{sa.own_token_secret} "
                       "(not allowed to read ServiceAccounts, so nothing more was checked)")
    if sa.account is None:
        return Finding(outcome=Outcome.FAIL, message=f"ServiceAccount {who} does not exist",
                       remediation=f"create it: kubectl create serviceaccount -n {sa.namespace} {sa.name} (or sa-tokens ensure --create-sa)")
    legacy = isinstance(version, ServerVersion) and not version.at_least(1, 24)
    evidence: dict[str, Any] = {"service_account": who, "uid": sa.uid, "server_version": getattr(version, "git_version", None)}
    candidates = sa.secrets_for_account()
    current = [s for s in candidates if (_meta(s).get("annotations") or {}).get(SA_UID_ANNOTATION) in (None, "", sa.uid)]
    usable = [s for s in current if token_filled(s) and not (_meta(s).get("labels") or {}).get(INVALID_SINCE_LABEL)]
    evidence["token_secrets"] = [_secret_row(s, sa, policy.now) for s in candidates]
    if usable:
        names = ", ".join(str(_meta(s).get("name")) for s in usable)
        listed = [s for s in usable if _meta(s).get("name") in sa.listed_secrets]
        if listed and not legacy:
            return Finding(outcome=Outcome.WARN, evidence=evidence,
                           message=f"{who} has a token ({names}) listed in the ServiceAccount's secrets: the legacy token cleaner "
                           "invalidates listed tokens unused for a year (1.29+)",
                           remediation="remove it from .secrets (keep the Secret), or rotate with sa-tokens rotate")
        return Finding(outcome=Outcome.PASS, evidence=evidence, message=f"{who} has a usable token Secret ({names})")
    invalid = [s for s in current if (_meta(s).get("labels") or {}).get(INVALID_SINCE_LABEL)]
    if invalid:
        name = _meta(invalid[0]).get("name")
        since = (_meta(invalid[0]).get("labels") or {}).get(INVALID_SINCE_LABEL)
        return Finding(outcome=Outcome.FAIL, evidence=evidence,
                       message=f"the token Secret {sa.namespace}/{name} was invalidated on {since} by the legacy token cleaner: requests with it get 401",
                       remediation=f"create a new token (sa-tokens ensure -n {sa.namespace} {sa.name}); removing the label re-enables the old one temporarily")
    stale_uid = [s for s in candidates if s not in current]
    empty = [s for s in current if not token_filled(s)]
    why = _kcm_explanation(leases)
    if empty:
        name = _meta(empty[0]).get("name")
        fresh = new_leader_age(leases, "kube-controller-manager") if isinstance(leases, Leases) else None
        if fresh is not None:
            return Finding(outcome=Outcome.WARN, evidence=evidence,
                           message=f"token Secret {sa.namespace}/{name} is still empty, but kube-controller-manager became leader "
                           f"only {format_age(fresh)} ago and is catching up",
                           remediation="run preflight again in a minute")
        return Finding(outcome=Outcome.FAIL, evidence=evidence,
                       message=f"token Secret {sa.namespace}/{name} is still empty" + (f": {why}" if why else ": the token controller has not filled it"),
                       remediation="fix kube-controller-manager first (see controlplane.leases)" if why else "check kube-controller-manager's log")
    if legacy:
        message = (f"{who} has no token Secret. This cluster is {version.git_version}: before 1.24 one is created automatically "  # type: ignore[union-attr]
                   "for every ServiceAccount, so its absence means the token controller is not running")
        message += f" ({why})" if why else ""
        return Finding(outcome=Outcome.FAIL, evidence=evidence, message=message,
                       remediation="fix kube-controller-manager (see controlplane.leases); sa-tokens ensure --force-create creates one by hand")
    extra = f"; {len(stale_uid)} Secret(s) belong to an earlier ServiceAccount of the same name" if stale_uid else ""
    return Finding(
        outcome=Outcome.FAIL if explicit else Outcome.WARN,
        evidence=evidence,
        message=f"{who} has no long-lived token: since Kubernetes 1.24 none is created automatically{extra}",
        remediation=f"sa-tokens ensure -n {sa.namespace} {sa.name} (or preflight check --ensure-token)",
    )


