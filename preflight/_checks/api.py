"""api.reachable and tls.serving-cert: can we reach the API server, and what does it serve?"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kube_client._errors import ForbiddenError, UnauthorizedError, UnreachableError
from .._facts import Health, ServerVersion
from .._model import Finding, Outcome
from .._probe import TlsProbe
from .._runner import FactError, Policy
from kube_client._target import Target
from .._x509 import chains_to, describe, load_certificates, san_matches
from .common import worst

__all__ = ["api_reachable", "tls_serving_cert"]

CLOCK_SKEW_WARN = 30  # seconds; beyond this, certificate validity checks may disagree with the server


def _skew_seconds(server_time: datetime | None, now: datetime) -> float | None:
    return None if server_time is None else (now - server_time).total_seconds()


def api_reachable(policy: Policy, probe: TlsProbe | FactError, version: ServerVersion | FactError,
                  livez: Health | FactError, readyz: Health | FactError) -> Finding:
    if isinstance(probe, FactError):
        err = probe.error
        step = getattr(err, "step", "connect")
        return Finding(
            id="api.reachable",
            outcome=Outcome.FAIL,
            message=f"{step}: {err}" if not isinstance(err, UnreachableError) else f"{err.message}",
            remediation=getattr(err, "fix", ""),
            evidence={"step": step},
        )
    evidence: dict[str, Any] = {
        "address": f"{probe.address}:{probe.port}",
        "tls_version": probe.tls_version,
        "dns_ms": round(probe.dns_ms, 1),
        "connect_ms": round(probe.connect_ms, 1),
        "tls_ms": round(probe.tls_ms, 1),
    }
    if probe.via:
        evidence["via"] = probe.via
    if isinstance(version, FactError):
        err = version.error
        if isinstance(err, UnauthorizedError):
            return Finding(id="api.reachable", outcome=Outcome.PASS, evidence={**evidence, "step": "http", "status": 401},
                           message="the API server answers, but rejects this credential (401): see auth.identity")
        if isinstance(err, ForbiddenError):
            return Finding(id="api.reachable", outcome=Outcome.PASS, evidence={**evidence, "step": "http", "status": 403},
                           message="the API server answers; /version is not public on this cluster (403)")
        step = getattr(err, "step", "http")
        if step == "tls":
            return Finding(
                id="api.reachable",
                outcome=Outcome.FAIL,
                message=f"TCP and TLS connect, but the verified connection fails: {err}",
                remediation="see tls.serving-cert for the served certificate",
                evidence={**evidence, "step": "tls"},
            )
        return Finding(id="api.reachable", outcome=Outcome.FAIL, message=str(err), remediation=getattr(err, "fix", ""),
                       evidence={**evidence, "step": step, "status": getattr(err, "status", 0)})
    evidence["server_version"] = version.git_version
    skew = _skew_seconds(version.server_time, policy.now)
    if skew is not None:
        evidence["clock_skew_seconds"] = round(skew, 1)
    health = [h for h in (livez, readyz) if isinstance(h, Health)]
    failing = [h for h in health if not h.ok]
    evidence["health"] = {h.endpoint: h.status for h in health}
    if failing:
        parts = [f"{h.endpoint} is {h.status}" + (f" (failing: {', '.join(h.failing)})" if h.failing else "") for h in failing]
        etcd = any("etcd" in name for h in failing for name in h.failing)
        return Finding(
            id="api.reachable",
            outcome=Outcome.FAIL,
            message=f"the API server {version.git_version} answers but is not healthy: " + "; ".join(parts),
            remediation="etcd is failing: check etcd's health and log on the control-plane nodes" if etcd
            else "check the kube-apiserver log on the control-plane nodes for the failing checks",
            evidence={**evidence, "failing": sorted({n for h in failing for n in h.failing})},
        )
    outcome = Outcome.PASS
    message = f"{version.git_version} at {probe.address}:{probe.port}" + (f" via {probe.via}" if probe.via else "") + ", healthy (/livez, /readyz)"
    if skew is not None and abs(skew) > CLOCK_SKEW_WARN:
        outcome = worst(outcome, Outcome.WARN)
        message += f"; this machine's clock is {abs(skew):.0f}s {'ahead of' if skew > 0 else 'behind'} the API server's"
    return Finding(id="api.reachable", outcome=outcome, message=message, evidence=evidence,
                   remediation="sync this machine's clock (NTP)" if outcome is not Outcome.PASS else "")


def tls_serving_cert(target: Target, policy: Policy, probe: TlsProbe | FactError) -> Finding:
    if isinstance(probe, FactError):
        return Finding(id="tls.serving-cert", outcome=Outcome.SKIP, message="no TLS handshake: see api.reachable")
    if not target.cluster.server.startswith("https://"):
        return Finding(id="tls.serving-cert", outcome=Outcome.SKIP,
                       message=f"{target.cluster.server} is plain http: no certificate to check, and nothing on the wire is encrypted")
    if not probe.chain:
        return Finding(id="tls.serving-cert", outcome=Outcome.ERROR, message="the server completed TLS but presented no certificate")
    certs = [load_certificates(der, source=f"certificate served by {probe.host}:{probe.port}")[0] for der in probe.chain]
    leaf = describe(certs[0])
    evidence: dict[str, Any] = {**leaf.evidence(policy.now), "chain_length": len(certs)}
    problems: list[tuple[Outcome, str, str]] = []

    outcome, phrase = policy.expiry.judge(leaf, policy.now)
    if outcome is not Outcome.PASS:
        fix = ("renew it ('kubeadm certs renew apiserver' on each control-plane node) and restart kube-apiserver for real; "
               "if it was renewed already, the running kube-apiserver still serves the old one (preflight certs --compare-served)")
        if "clock skew" in phrase:
            fix = "check this machine's clock against the control-plane nodes' (NTP)"
        problems.append((outcome, f"the API server's certificate {phrase}", fix))

    cluster = target.cluster
    if cluster.insecure:
        evidence["ca_ok"] = None
        problems.append((Outcome.WARN, "not verified: the kubeconfig sets insecure-skip-tls-verify", "set certificate-authority-data instead"))
    elif cluster.ca is not None and cluster.ca.data is not None:
        roots = load_certificates(cluster.ca.data, source=cluster.ca.source)
        ca_ok = chains_to(certs[0], roots, certs[1:])
        evidence["ca_ok"] = ca_ok
        if not ca_ok:
            problems.append((
                Outcome.FAIL,
                f"this kubeconfig's CA did not sign the API server's certificate (issuer {leaf.issuer}): "
                "the cluster was rebuilt, the CA rotated, or this is the wrong context",
                "get a current kubeconfig for this cluster (its certificate-authority-data must be the cluster CA)",
            ))
    else:
        evidence["ca_ok"] = None  # system trust store; verified by the HTTP client
    if not cluster.insecure:
        san_ok = san_matches(leaf, target.tls_name)
        evidence["san_ok"] = san_ok
        if not san_ok:
            problems.append((
                Outcome.FAIL,
                f"the certificate does not name {target.tls_name} (it names {', '.join(leaf.sans) or 'nothing'})",
                "use a server name the certificate lists, or add it (kubeadm: apiServer.certSANs, then renew apiserver)",
            ))
    if not problems:
        return Finding(id="tls.serving-cert", outcome=Outcome.PASS, evidence=evidence,
                       message=f"serves {leaf.subject} (serial {leaf.serial}), {phrase}, signed by the kubeconfig's CA")
    final = worst(*(p[0] for p in problems))
    chosen = [p for p in problems if p[0] is final]
    return Finding(id="tls.serving-cert", outcome=final, evidence=evidence,
                   message="; ".join(p[1] for p in chosen), remediation="; ".join(p[2] for p in chosen))
