"""controlplane.leases, controlplane.apiservices, controlplane.token-controller.

Lease staleness is judged on the API server's clock (the Date header of the LIST that read
the Leases), never on ours: the leader writes renewTime with its own clock and client-go's
leaderelection trusts only local observation of change (leaderelection.go package doc), so
comparing with a skewed laptop clock would invent or hide staleness.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from kube_client._cluster import Leases, LeaseState, lease_duration, stale_leases
from kube_client._durations import format_age

from .._engine.model import Finding, Outcome
from .._engine.runner import FactError
from .._facts.cluster import ApiServiceState, CanaryResult
from .._facts.manifests import ManifestKind
from .._facts.policy import Policy
from .common import RESTART_HOWTO, worst

__all__ = ["controlplane_apiservices", "controlplane_leases", "controlplane_token_controller"]

# A restarted leader waits out the old holder's lease before taking over (client-go
# leaderelection: leaseDuration after the last observed change), so for up to about two lease
# durations "no renewal" is a normal failover. Beyond this many durations it is an outage.
FAILOVER_DURATIONS = 3

CONSEQUENCE = {
    "kube-controller-manager": "no controllers run: Deployments get no pods and token Secrets stay empty; helm --wait will time out",
    "kube-scheduler": "new pods are not scheduled and stay Pending; helm --wait will time out",
}


# A new leader syncs every object its controllers watch before acting; give it this long.
CATCH_UP = timedelta(seconds=30)


def new_leader_age(leases: Leases, name: str) -> timedelta | None:
    """How long ago ``name``'s current leader took over, when that was within CATCH_UP."""
    lease = leases.items.get(name)
    if lease is None or lease.acquire_time is None or not lease.holder or name in stale_leases(leases):
        return None
    age = leases.server_time - lease.acquire_time
    return age if age <= CATCH_UP else None


def _unrenewed(name: str, lease: LeaseState, age: timedelta) -> str:
    if not lease.holder:
        return f"{name} released its leader lease {format_age(age)} ago (a stop) and no instance has taken it over"
    return f"{name} has not renewed its leader lease for {format_age(age)}"


def _lease_evidence(name: str, lease: LeaseState, now: datetime) -> dict[str, Any]:
    return {
        "lease": name,
        "holder": lease.holder,
        "renew_time": lease.renew_time.isoformat() if lease.renew_time else None,
        "age_seconds": round((now - lease.renew_time).total_seconds(), 1) if lease.renew_time else None,
        "lease_duration_seconds": lease.duration_seconds,
    }


def controlplane_leases(policy: Policy, leases: Leases) -> Finding:
    evidence: dict[str, Any] = {"server_time": leases.server_time.isoformat()}
    stale = stale_leases(leases)
    absent = [name for name in CONSEQUENCE if name not in leases.items]
    for name, lease in leases.items.items():
        evidence[name] = _lease_evidence(name, lease, leases.server_time)
    down = {n: a for n, a in stale.items() if a > FAILOVER_DURATIONS * lease_duration(leases.items[n])}
    if stale and not down:
        return Finding(
            outcome=Outcome.WARN,
            message="; ".join(f"{_unrenewed(n, leases.items[n], a)}: a restart or leader change is under way, "
                              "or it just stopped" for n, a in stale.items()),
            remediation="run preflight again in a minute; if it persists, read the component's log",
            evidence=evidence,
        )
    if down:
        parts = []
        for name, age in down.items():
            parts.append(f"{_unrenewed(name, leases.items[name], age)}: it is not running or cannot "
                         f"authenticate; {CONSEQUENCE[name]}")
        return Finding(
            outcome=Outcome.FAIL,
            message="; ".join(parts),
            remediation=f"read its log for 'Unauthorized' or x509 errors; after a certificate renewal restart it for real: {RESTART_HOWTO}; "
            "on the node, 'preflight certs --compare-served' shows what is still loaded",
            evidence=evidence,
        )
    if absent:
        return Finding(
            outcome=Outcome.WARN,
            message=f"no leader Lease for {', '.join(absent)} in kube-system: it never ran with leader election, "
            "or the control plane is managed and hides it",
            evidence=evidence,
        )
    renewed = ", ".join(f"{n} {format_age(leases.server_time - l.renew_time)} ago" for n, l in leases.items.items() if l.renew_time)
    return Finding(outcome=Outcome.PASS, message=f"leader leases renewed: {renewed}", evidence=evidence)


def controlplane_apiservices(policy: Policy, apiservices: list[ApiServiceState],
                             deploy_kinds: Iterable[ManifestKind] | FactError = ()) -> Finding:
    """``deploy_kinds``: what --manifests or --chart will create (its groups turn a warning
    into a failure); a FactError there (cannot render yet) leaves it a warning."""
    down = [a for a in apiservices if not a.available]
    deploy_groups = set() if isinstance(deploy_kinds, FactError) else {k.group for k in deploy_kinds if k.group}
    evidence: dict[str, Any] = {
        "unavailable": [{"name": a.name, "reason": a.reason, "message": a.message, "service": a.service} for a in down],
        "total": len(apiservices),
    }
    if not down:
        return Finding(outcome=Outcome.PASS, evidence=evidence,
                       message=f"all {len(apiservices)} APIServices are available")
    used = [a for a in down if a.group in deploy_groups]
    outcome = Outcome.FAIL if used else Outcome.WARN
    names = ", ".join(f"{a.name} ({a.reason or 'no reason'})" for a in down)
    message = (f"unavailable APIService: {names}; API discovery is incomplete, which aborts Helm 3.0.0 and Helm 2, "
               "and makes newer Helm warn")
    if used:
        message += f"; this deploy uses {', '.join(sorted({a.group for a in used}))}, so it will fail"
    return Finding(
        outcome=outcome,
        message=message,
        remediation="repair the service behind it (e.g. metrics-server), or remove a leftover: "
        + "; ".join(f"kubectl delete apiservice {a.name}" for a in down),
        evidence=evidence,
    )


def controlplane_token_controller(policy: Policy, canary: CanaryResult | FactError, leases: Leases | FactError) -> Finding:
    if isinstance(canary, FactError):
        return Finding(outcome=Outcome.SKIP if canary.forbidden else Outcome.ERROR,
                       message=f"could not run the canary: {canary.error}",
                       remediation="--deep needs create/delete on serviceaccounts and secrets in the namespace")
    evidence = {"secret": canary.secret, "waited_seconds": round(canary.waited_seconds, 2), "cleaned_up": canary.cleaned_up}
    outcome = Outcome.PASS if canary.filled else Outcome.FAIL
    if canary.filled:
        message = f"the token controller filled a canary token Secret in {canary.waited_seconds:.1f}s"
    else:
        message = (f"a canary token Secret stayed empty for {canary.waited_seconds:.0f}s: the token controller of "
                   "kube-controller-manager is not working")
        stale = stale_leases(leases) if isinstance(leases, Leases) else {}
        if "kube-controller-manager" in stale:
            message += f" (its leader lease is {format_age(stale['kube-controller-manager'])} stale: see controlplane.leases)"
    if not canary.cleaned_up:
        outcome = worst(outcome, Outcome.WARN)
        message += f"; could not delete the canary: {canary.detail}"
    return Finding(outcome=outcome, message=message, evidence=evidence,
                   remediation="" if outcome is Outcome.PASS else "check kube-controller-manager: see controlplane.leases")
