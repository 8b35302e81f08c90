"""Judge a kubeconfig context offline: its credential, its TLS settings, its file.

Pure functions over a resolved ``ContextView``; ``preflight kubeconfig`` runs them for one
or every context, and ``preflight check`` runs ``judge_credentials`` for the context it is
about to use (the incident's stale copy of admin.conf is found here, before any request).

Never puts a token, key or certificate body into a message or evidence: only subjects,
dates, serials and the claims that identify a ServiceAccount.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kube_client._durations import format_age
from kube_client._errors import ConfigError
from kube_client._kubeconfig import ContextView, Credentials, Material, decode_jwt_claims, file_mode_problem
from kube_client._pem import key_matches, load_certificates, load_private_key

from .._engine.expiry import expiring
from .._engine.model import Finding, Outcome
from .._facts.policy import ExpiryPolicy, Policy
from .._facts.x509 import describe, rfc3339
from .auth import _view

if TYPE_CHECKING:  # judges read a Target; resolving one (and its ssl) is the command's job
    from kube_client._target import Target

__all__ = ["judge_credentials", "judge_file", "judge_tls"]

Which = Callable[[str], "str | None"]

# Long enough for a helm upgrade --wait with its default 5m timeout, plus margin.
DEPLOY_SPAN = timedelta(minutes=10)

CLIENT_CERT_RENEWAL = ("a new client certificate from the cluster's issuer (kubeadm: 'kubeadm certs renew admin.conf' or "
                       "'kubeadm kubeconfig user' on a control-plane node), then replace every copy of this kubeconfig, CI's included")
TOKEN_RENEWAL = "a fresh token (kubectl create token, or sa-tokens ensure for a long-lived one), then replace it in this kubeconfig"

# client-go removed the in-tree gcp and azure auth providers in 1.26 (KEP-2133 / release
# notes 1.26); oidc still exists but is deprecated in favour of exec plugins such as kubelogin.
_REMOVED_PROVIDERS = {"gcp": "gke-gcloud-auth-plugin", "azure": "kubelogin"}


def _worst(*outcomes: Outcome) -> Outcome:
    order = [Outcome.PASS, Outcome.SKIP, Outcome.WARN, Outcome.ERROR, Outcome.FAIL]
    return max(outcomes, key=order.index)


def _material_problem(material: Material) -> str:
    return f"{material.source} {material.problem}" if material.problem else ""


def _judge_client_cert(creds: Credentials, now: datetime, expiry: ExpiryPolicy) -> tuple[Outcome, str, str, dict[str, object]]:
    assert creds.client_cert is not None
    if creds.client_cert.problem:
        return Outcome.FAIL, _material_problem(creds.client_cert), "fix the path or re-export the kubeconfig", {}
    if creds.client_key is None:
        return Outcome.FAIL, f"user {creds.user!r} has a client certificate but no client key", "add client-key or client-key-data", {}
    if creds.client_key.problem:
        return Outcome.FAIL, _material_problem(creds.client_key), "fix the path or re-export the kubeconfig", {}
    cert = load_certificates(creds.client_cert.require(), source=creds.client_cert.source)[0]
    info = describe(cert)
    where = {"path": str(creds.client_cert.path)} if creds.client_cert.path else {"embedded_kind": "user", "embedded_key": creds.user}
    evidence: dict[str, object] = {"credential": "client-certificate", **info.evidence(now),
                                   **expiring(creds.user, "kubeconfig", CLIENT_CERT_RENEWAL, **where)}
    if not key_matches(cert, load_private_key(creds.client_key.require(), source=creds.client_key.source)):
        return Outcome.FAIL, f"user {creds.user!r}: the client key does not match the client certificate", (
            "re-export both from the same source (e.g. a fresh copy of admin.conf)"
        ), evidence
    outcome, phrase = expiry.judge(info, now)
    message = f"client certificate {info.subject} {phrase}"
    fix = ""
    if outcome is not Outcome.PASS:
        fix = (
            "get a renewed credential: on a kubeadm cluster run 'kubeadm certs renew admin.conf' (or 'kubeadm "
            "kubeconfig user') on a control-plane node and replace this copy, including the one stored in CI"
        )
    return outcome, message, fix, evidence


def _judge_token(creds: Credentials, now: datetime, expiry: ExpiryPolicy) -> tuple[Outcome, str, str, dict[str, object]]:
    assert creds.token is not None
    if creds.token.problem:
        return Outcome.FAIL, _material_problem(creds.token), "fix tokenFile or put the token back", {}
    claims = decode_jwt_claims(creds.token.require().decode(errors="replace"))
    if claims is None:
        return Outcome.PASS, "bearer token (opaque: its validity is known only to the server)", "", {"credential": "token"}
    evidence: dict[str, object] = {"credential": "token", "jwt": True}
    for claim in ("iss", "sub", "kubernetes.io/serviceaccount/namespace", "kubernetes.io/serviceaccount/service-account.name"):
        if isinstance(claims.get(claim), str):
            evidence[claim] = claims[claim]
    legacy = claims.get("iss") == "kubernetes/serviceaccount"
    evidence["legacy_secret_token"] = legacy
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        kind = "a ServiceAccount token Secret's token" if legacy else "a token"
        return Outcome.PASS, f"bearer token without expiry ({kind})", "", evidence
    try:
        expires = datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        return Outcome.WARN, "bearer token has an unreadable exp claim", "", evidence
    evidence["exp"] = rfc3339(expires)
    evidence.update(not_after=rfc3339(expires), **expiring(creds.user, "kubeconfig", TOKEN_RENEWAL, kind="token",
                                                           embedded_kind="user", embedded_key=creds.user))
    if expires <= now:
        return Outcome.FAIL, f"bearer token expired on {expires:%Y-%m-%d %H:%M} UTC", (
            "issue a new token (sa-tokens ensure for a long-lived one, or kubectl create token)"
        ), evidence
    remaining = expires - now
    issued = claims.get("iat")
    lifetime = expires - datetime.fromtimestamp(issued, UTC) if isinstance(issued, (int, float)) else None
    if lifetime is not None and lifetime <= expiry.warn_within:
        # Short-lived by design (TokenRequest, OIDC): only too short for a deploy is a problem.
        outcome = Outcome.FAIL if remaining <= DEPLOY_SPAN else Outcome.PASS
    else:
        outcome = expiry.judge_remaining(remaining)
    fix = "" if outcome is Outcome.PASS else "issue a fresh token (sa-tokens ensure for a long-lived one)"
    return outcome, f"bearer token expires {expires:%Y-%m-%d %H:%M} UTC (in {format_age(remaining)})", fix, evidence


def _judge_exec(creds: Credentials, which: Which) -> tuple[Outcome, str, str, dict[str, object]]:
    assert creds.exec is not None
    command = creds.exec.command
    found = command if os.path.isabs(command) and os.access(command, os.X_OK) else which(command)
    evidence: dict[str, object] = {"credential": "exec", "command": command, "api_version": creds.exec.api_version}
    if found:
        return Outcome.PASS, f"exec credential plugin {command!r} found at {found}", "", evidence
    hint = creds.exec.install_hint.strip() or f"install {command!r} or put it on PATH"
    return Outcome.FAIL, f"exec credential plugin {command!r} is not on PATH: kubectl and Helm cannot authenticate", hint, evidence



def judge_credentials(view: ContextView, now: datetime, expiry: ExpiryPolicy, *, which: Which = shutil.which) -> Finding:
    """``kubeconfig.credentials``: will the credential this context uses still work?"""
    creds = view.credentials
    base = {"context": view.name, "user": creds.user, "path": str(view.origin)}
    parts: list[tuple[Outcome, str, str, dict[str, object]]] = []
    try:
        if creds.client_cert is not None or creds.client_key is not None:
            if creds.client_cert is None:
                parts.append((Outcome.FAIL, f"user {creds.user!r} has a client key but no client certificate", "add client-certificate-data", {}))
            else:
                parts.append(_judge_client_cert(creds, now, expiry))
        if creds.token is not None:
            parts.append(_judge_token(creds, now, expiry))
        if creds.exec is not None:
            parts.append(_judge_exec(creds, which))
    except ConfigError as exc:
        parts.append((Outcome.FAIL, str(exc), "re-export the kubeconfig from its source", {}))
    if creds.auth_provider is not None:
        replacement = _REMOVED_PROVIDERS.get(creds.auth_provider)
        if replacement:
            parts.append((Outcome.FAIL, f"auth-provider {creds.auth_provider!r} was removed from kubectl and client-go in 1.26", f"switch to the exec plugin {replacement}", {}))
        else:
            parts.append((Outcome.WARN, f"auth-provider {creds.auth_provider!r} is deprecated", "switch to an exec credential plugin", {}))
    if creds.basic_auth and not parts:
        parts.append((Outcome.FAIL, "basic auth (username/password) was removed from kube-apiserver in 1.19", "use a token or client certificate", {}))
    if not parts:
        return Finding(
            outcome=Outcome.WARN,
            message=f"context {view.name!r} has no credentials: requests will be anonymous",
            remediation="set a user with a token, client certificate or exec plugin",
            evidence={**base, "credential": "none"},
        )
    outcome = _worst(*(p[0] for p in parts))
    worst = [p for p in parts if p[0] is outcome]
    evidence: dict[str, object] = dict(base)
    for p in parts:
        evidence.update(p[3])
    return Finding(
        outcome=outcome,
        message="; ".join(p[1] for p in (worst if outcome is not Outcome.PASS else parts)),
        remediation="; ".join(p[2] for p in worst if p[2]) if outcome is not Outcome.PASS else "",
        evidence=evidence,
    )


def judge_tls(view: ContextView, now: datetime, expiry: ExpiryPolicy) -> Finding:
    """``kubeconfig.tls``: how the client will verify the API server."""
    cluster = view.cluster
    evidence: dict[str, object] = {"context": view.name, "cluster": cluster.name, "server": cluster.display}
    if cluster.insecure:
        return Finding(
            outcome=Outcome.WARN,
            message=f"cluster {cluster.name!r} sets insecure-skip-tls-verify: the API server's identity is not checked",
            remediation="set certificate-authority-data to the cluster CA and drop insecure-skip-tls-verify",
            evidence={**evidence, "insecure_skip_tls_verify": True},
        )
    if not cluster.server.startswith("https://"):
        return Finding(
            outcome=Outcome.WARN,
            message=f"server {cluster.display} is not https: credentials travel in the clear",
            evidence=evidence,
        )
    if cluster.ca is None:
        return Finding(
            outcome=Outcome.PASS,
            message=f"cluster {cluster.name!r} trusts the system CAs (no certificate-authority set)",
            evidence=evidence,
        )
    if cluster.ca.problem:
        return Finding(
            outcome=Outcome.FAIL,
            message=_material_problem(cluster.ca),
            remediation="fix certificate-authority or re-export the kubeconfig",
            evidence=evidence,
        )
    try:
        cas = load_certificates(cluster.ca.require(), source=cluster.ca.source)
    except ConfigError as exc:
        return Finding(outcome=Outcome.FAIL, message=str(exc), evidence=evidence)
    judged = [(expiry.judge(describe(c), now), describe(c)) for c in cas]
    (outcome, phrase), info = max(judged, key=lambda j: [Outcome.PASS, Outcome.WARN, Outcome.FAIL].index(j[0][0]))
    return Finding(
        outcome=outcome,
        message=f"cluster CA {info.subject} {phrase}",
        remediation="" if outcome is Outcome.PASS else "the cluster CA is expiring: plan a CA rotation and redistribute kubeconfigs",
        evidence={**evidence, "ca_certificates": len(cas), **info.evidence(now)},
    )


def judge_file(path: Path) -> Finding:
    """``kubeconfig.file``: a kubeconfig holds credentials, so only its owner should read it."""
    problem = file_mode_problem(path)
    if problem:
        return Finding(
            outcome=Outcome.WARN,
            message=f"{path}: {problem}",
            remediation=f"chmod 600 {path}",
            evidence={"path": str(path)},
        )
    return Finding(outcome=Outcome.PASS, message=f"{path} is readable only by its owner", evidence={"path": str(path)})


def kubeconfig_credentials(target: Target, policy: Policy) -> Finding:
    return judge_credentials(_view(target), policy.now, policy.expiry)
