"""api.reachable and tls.serving-cert: can we reach the API server, and what does it serve?"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kube_client._cluster import ServerVersion
from kube_client._errors import ForbiddenError, UnauthorizedError, UnreachableError

from .._engine.model import Finding, Outcome
from .._engine.runner import FactError
from .._facts.cluster import Health, TlsProbe
from .._facts.policy import Policy
from .common import worst

__all__ = ["api_reachable"]

CLOCK_SKEW_WARN = 30  # seconds; beyond this, certificate validity checks may disagree with the server


def _skew_seconds(server_time: datetime | None, now: datetime) -> float | None:
    return None if server_time is None else (now - server_time).total_seconds()


def api_reachable(policy: Policy, probe: TlsProbe | FactError, version: ServerVersion | FactError,
                  livez: Health | FactError, readyz: Health | FactError) -> Finding:
    if isinstance(probe, FactError):
        err = probe.error
        step = getattr(err, "step", "connect")
        return Finding(
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
            return Finding(outcome=Outcome.PASS, evidence={**evidence, "step": "http", "status": 401},
                           message="the API server answers, but rejects this credential (401): see auth.identity")
        if isinstance(err, ForbiddenError):
            return Finding(outcome=Outcome.PASS, evidence={**evidence, "step": "http", "status": 403},
                           message="the API server answers; /version is not public on this cluster (403)")
        step = getattr(err, "step", "http")
        if step == "tls":
            return Finding(
                outcome=Outcome.FAIL,
                message=f"TCP and TLS connect, but the verified connection fails: {err}",
                remediation="see tls.serving-cert for the served certificate",
                evidence={**evidence, "step": "tls"},
            )
        return Finding(outcome=Outcome.FAIL, message=str(err), remediation=getattr(err, "fix", ""),
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
    return Finding(outcome=outcome, message=message, evidence=evidence,
                   remediation="sync this machine's clock (NTP)" if outcome is not Outcome.PASS else "")


