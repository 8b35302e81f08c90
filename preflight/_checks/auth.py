"""kubeconfig.credentials, auth.identity and auth.permissions: who we are and what we may do."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from kube_client._cluster import Identity
from kube_client._errors import ForbiddenError, UnauthorizedError, UnreachableError
from kube_client._kubeconfig import ContextView, decode_jwt_claims
from kube_client._pem import load_certificates

from .._engine.model import Finding, Outcome
from .._engine.runner import FactError
from .._facts.cluster import AccessResult
from .._facts.manifests import DiscoveredKind
from .._facts.permissions import role_yaml
from .._facts.policy import Policy
from .._facts.x509 import describe

if TYPE_CHECKING:  # judges read a Target; resolving one (and its ssl) is the command's job
    from kube_client._target import Target

__all__ = ["auth_identity", "auth_permissions"]


def _view(target: Target) -> ContextView:
    origin = target.kubeconfig[0] if target.kubeconfig else Path("/var/run/secrets/kubernetes.io/serviceaccount")
    return ContextView(name=target.context, cluster=target.cluster, credentials=target.credentials, namespace=target.namespace, origin=origin)


def explain_unauthorized(target: Target, policy: Policy) -> tuple[str, str]:
    """Why a 401 most likely happened, from what we hold locally (the server does not say)."""
    creds = target.credentials
    if creds.client_cert is not None and creds.client_cert.data is not None:
        info = describe(load_certificates(creds.client_cert.data, source=creds.client_cert.source)[0])
        if policy.now > info.not_after:
            return (
                f"the client certificate ({info.subject}) expired on {info.not_after:%Y-%m-%d %H:%M} UTC",
                "replace this kubeconfig with a renewed one (e.g. a fresh copy of admin.conf after 'kubeadm certs renew'); "
                "update the copy stored in CI too",
            )
        if policy.now < info.not_before:
            return f"the client certificate ({info.subject}) is not valid yet: clock skew", "sync the clocks (NTP)"
        return (
            f"the API server does not accept the client certificate {info.subject} issued by {info.issuer}",
            "the cluster CA changed or the certificate belongs to another cluster: get a current kubeconfig",
        )
    if creds.token is not None and creds.token.data is not None:
        claims = decode_jwt_claims(creds.token.data.decode(errors="replace")) or {}
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < policy.now.timestamp():
            return "the bearer token has expired", "issue a new token (sa-tokens ensure for a long-lived one)"
        secret = claims.get("kubernetes.io/serviceaccount/secret.name")
        ns = claims.get("kubernetes.io/serviceaccount/namespace")
        if secret:
            return (
                f"the token of Secret {ns}/{secret} was rejected: the Secret was deleted, its ServiceAccount was recreated, "
                "or the legacy token cleaner marked it invalid (label kubernetes.io/legacy-token-invalid-since)",
                f"ask an admin: kubectl get secret -n {ns} {secret} --show-labels; then recreate it with sa-tokens ensure",
            )
        return "the bearer token was rejected (revoked, expired or for another cluster)", "get a new token for this cluster"
    if creds.exec is not None:
        return f"the credentials from exec plugin {creds.exec.command!r} were rejected", "log in again with that tool"
    return "the request was not authenticated", "configure credentials for this context"


ANONYMOUS = "system:anonymous"
_FORBIDDEN_USER = re.compile(r'User "([^"]*)" cannot')


def _anonymous(evidence: Mapping[str, object]) -> Finding:
    return Finding(outcome=Outcome.FAIL, evidence=evidence,
                   message=f"requests are anonymous: the API server treats them as {ANONYMOUS}, so no credential reached it",
                   remediation="configure a token, client certificate or exec plugin for this context")


def auth_identity(target: Target, policy: Policy, identity: Identity | FactError) -> Finding:
    if isinstance(identity, FactError):
        err = identity.error
        if isinstance(err, UnauthorizedError):
            if "exec credential plugin" in err.message:
                return Finding(outcome=Outcome.FAIL, message=err.message, remediation="run the plugin by hand to see why; log in again")
            why, fix = explain_unauthorized(target, policy)
            return Finding(outcome=Outcome.FAIL, message=f"Unauthorized (401): {why}", remediation=fix, evidence={"status": 401})
        if isinstance(err, ForbiddenError):
            # Every authenticated user may create a SelfSubjectReview (ClusterRole system:basic-user);
            # anonymous requests may not, and the 403 names who asked (the RBAC authorizer's
            # 'User "system:anonymous" cannot create resource ...').
            named = _FORBIDDEN_USER.search(err.message)
            asker = named[1] if named else ""
            if asker == ANONYMOUS:
                return _anonymous({"username": ANONYMOUS, "status": 403})
            if "cannot impersonate" in err.message:  # the kubeconfig's as: is refused before any check runs
                return Finding(outcome=Outcome.FAIL, evidence={"username": asker, "status": 403},
                               message=f"the kubeconfig impersonates (as:), and the API server refuses it: {err.message}",
                               remediation="grant the impersonate verb to this credential, or drop as: from the kubeconfig user")
            return Finding(outcome=Outcome.SKIP, evidence={"username": asker, "status": 403},
                           message=f"authenticated{' as ' + asker if asker else ''}, but not allowed to ask who we are "
                                   "(SelfSubjectReview forbidden)")
        if isinstance(err, UnreachableError):
            return Finding(outcome=Outcome.SKIP, message="not checked: see api.reachable")
        return Finding(outcome=Outcome.ERROR, message=f"SelfSubjectReview failed: {err}")
    evidence = {"username": identity.username, "groups": list(identity.groups), "api": identity.api_version}
    if identity.username in (ANONYMOUS, ""):
        return _anonymous(evidence)
    sa = identity.service_account
    who = f"ServiceAccount {sa[0]}/{sa[1]}" if sa else f"user {identity.username}"
    groups = f" (groups: {', '.join(identity.groups)})" if identity.groups else ""
    return Finding(outcome=Outcome.PASS, message=f"authenticated as {who}{groups}", evidence=evidence)


def auth_permissions(target: Target, policy: Policy, access: list[AccessResult], discovery: list[DiscoveredKind]) -> Finding:
    missing = [r.permission for r in access if not r.allowed]
    unserved = [d.kind for d in discovery if not d.resource]
    evidence: dict[str, object] = {"namespace": target.namespace, "checked": len(access), "missing": [str(p) for p in missing]}
    if unserved:
        evidence["unserved"] = [f"{k.api_version} {k.kind}" for k in unserved]
        names = ", ".join(f"{k.kind} ({k.api_version})" for k in unserved)
        return Finding(
            outcome=Outcome.FAIL,
            evidence=evidence,
            message=f"the manifests use kinds this API server does not serve: {names}; the deploy would fail on them "
            "(an API version removed in this Kubernetes release, or a CRD not installed)",
            remediation="move the chart to the served apiVersion (kubectl api-resources lists them), or install the CRD first",
        )
    if not missing:
        return Finding(outcome=Outcome.PASS, evidence=evidence,
                       message=f"allowed all {len(access)} actions a Helm deploy needs in namespace {target.namespace}")
    evidence["role"] = role_yaml(target.namespace, missing)
    wider = [str(p) for p in missing if p.cluster_scoped or p.namespace not in ("", target.namespace)]
    if wider:
        evidence["beyond_the_role"] = wider  # cluster-scoped or other namespaces: a ClusterRole or other Roles
    shown = ", ".join(str(p) for p in missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    storage = any(p.resource == "secrets" for p in missing)
    return Finding(
        outcome=Outcome.FAIL,
        evidence=evidence,
        message=f"missing {len(missing)} of {len(access)} permissions in namespace {target.namespace}: {shown}"
        + ("; Helm cannot read or write its release records (Secrets)" if storage else ""),
        remediation="ask an admin to apply the Role in evidence.role (preflight check -o json) and bind it to this identity",
    )

