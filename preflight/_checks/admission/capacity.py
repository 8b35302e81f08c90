"""``admission.capacity``: is there a Ready, schedulable node whose free allocatable fits the requests, honouring
taints, nodeSelector and required node affinity? A failure when no node could ever take the Pod; a warning when only
today's free room is short (the scheduler may preempt, pods may finish, an autoscaler may add a node).
"""

from __future__ import annotations

from ..._facts.admission import AdmissionObjects
from typing import Any
from ..._facts.admission import CapacityFacts
from ..._facts.admission import ChartObject
from ..._engine.model import Finding
from collections.abc import Iterable
from ..._facts.admission import LiveObjects
from collections.abc import Mapping
from ..._facts.admission import NodeInfo
from ..._engine.model import Outcome
from ..._facts.admission import PodDryRun
from ..._facts.policy import Policy
from collections.abc import Sequence
from .common import _summarize
import math
from ..._facts.admission import pod_requests
from ..._facts.admission import pod_template


def _tolerated(taint: Mapping[str, Any], tolerations: Iterable[Mapping[str, Any]]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and str(t.get("value") or "") == str(taint.get("value") or ""):
            return True
    return False


def _term_matches(term: Mapping[str, Any], node: NodeInfo) -> bool:
    for expr in term.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        value = node.labels.get(key)
        ok = {"In": value in values, "NotIn": value not in values, "Exists": value is not None, "DoesNotExist": value is None,
              "Gt": value is not None and value.isdigit() and bool(values) and int(value) > int(values[0]),
              "Lt": value is not None and value.isdigit() and bool(values) and int(value) < int(values[0])}.get(str(op), False)
        if not ok:
            return False
    for expr in term.get("matchFields") or []:
        if expr.get("key") == "metadata.name":
            inside = node.name in (expr.get("values") or [])
            if (expr.get("operator") == "In") != inside:
                return False
    return True


def _why_not(spec: Mapping[str, Any], node: NodeInfo) -> str:
    """Why the scheduler would not consider ``node`` for this Pod at all, else ''."""
    if not node.ready:
        return "not Ready"
    if node.unschedulable:
        return "cordoned"
    for taint in node.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(taint, spec.get("tolerations") or []):
            return f"taint {taint.get('key')}{'=' + str(taint['value']) if taint.get('value') else ''}:{taint.get('effect')} not tolerated"
    for key, value in (spec.get("nodeSelector") or {}).items():
        if node.labels.get(key) != value:
            return f"nodeSelector {key}={value} does not match"
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(_term_matches(t, node) for t in terms):
        return "required node affinity does not match"
    return ""


def _fmt(resource: str, amount: int) -> str:
    if resource == "cpu":
        return f"{amount}m" if amount % 1000 else f"{amount // 1000}"
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if amount >= size:
                return f"{amount / size:.3g}{unit}"
    return str(amount)


def _short(need: Mapping[str, int], free: Mapping[str, int]) -> list[str]:
    return [r for r, n in need.items() if n > 0 and n > free.get(r, 0)]


def _extra_pods(obj: ChartObject, replicas: int, exists: bool) -> int:
    """Pods the deploy adds at once: all of a new workload; for an existing one the rolling
    update's surge (Deployment maxSurge, default 25% rounded up; StatefulSets and DaemonSets
    replace in place)."""
    if not exists:
        return replicas
    if obj.ref.kind != "Deployment":
        return 0
    rolling = (((obj.body.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {})
    surge = rolling.get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        try:
            return math.ceil(replicas * int(surge[:-1]) / 100)
        except ValueError:
            return 1
    try:
        return int(surge)
    except (TypeError, ValueError):
        return 1


def admission_capacity(policy: Policy, admission_objects: AdmissionObjects, admission_live: LiveObjects,
                       admission_pods: Sequence[PodDryRun], admission_nodes: CapacityFacts) -> Finding:
    """Can the scheduler place the Pods? Fail when no node could ever take one (none Ready and
    eligible, or requests larger than every eligible node's allocatable: they stay Pending however
    long helm waits); warn when only today's free room is short, since the scheduler may still
    make room (preemption, finishing pods, a cluster autoscaler), and when there is no node at
    all (an autoscaler that scales from zero adds one for the first Pending Pod)."""
    fid = "admission.capacity"
    nodes = admission_nodes.nodes
    free = {n.name: {r: n.allocatable.get(r, 0) - n.requested.get(r, 0) for r in set(n.allocatable) | set(n.requested)} for n in nodes}
    problems: list[tuple[Outcome, str, str]] = []
    placed = 0
    admitted = {p.owner.ref.key: p.result.admitted for p in admission_pods if p.result.ok and p.result.admitted}
    for owner in admission_objects.objects:
        template = pod_template(owner.body)
        if template is None or owner.ref.kind == "CronJob":
            continue
        spec: Mapping[str, Any] = (admitted.get(owner.ref.key) or {}).get("spec") or template.get("spec") or {}
        need = {**pod_requests(spec), "pods": 1}
        if not nodes:  # none at all: a cluster autoscaler may scale from zero (cluster.nodes says the same)
            problems.append((Outcome.WARN, f"{owner.ref}: the cluster has no node: its Pods stay Pending and helm --wait times "
                             "out unless a cluster autoscaler adds one", "add a node, or make sure the autoscaler scales from zero"))
            continue
        eligible = [n for n in nodes if not _why_not(spec, n)]
        shown = ", ".join(f"{r} {_fmt(r, v)}" for r, v in need.items() if r != "pods" and v) or "no resources"
        if not eligible:
            reasons = sorted({f"{n.name}: {_why_not(spec, n)}" for n in nodes})
            problems.append((Outcome.FAIL, f"{owner.ref}: no node can run its Pods"
                             + f" ({'; '.join(reasons[:4])}{' ...' if len(reasons) > 4 else ''})"
                             + ": they stay Pending and helm --wait times out",
                             "add or uncordon a matching node, or fix nodeSelector/affinity/tolerations (ignore if a cluster "
                             "autoscaler adds such nodes)"))
            continue
        too_big = [n for n in eligible if _short(need, n.allocatable)]
        if len(too_big) == len(eligible):
            worst = too_big[0]
            short = _short(need, worst.allocatable)
            have = ", ".join(f"{r}: {worst.name} has {_fmt(r, worst.allocatable.get(r, 0))} allocatable" for r in short)
            problems.append((Outcome.FAIL, f"{owner.ref}: each Pod requests {shown}, more than any eligible node can hold ({have}): "
                             "they stay Pending",
                             "lower the requests, or add larger nodes"))
            continue
        want = _extra_pods(owner, 1 if owner.ref.kind == "DaemonSet" else (
            1 if owner.hooks else next((p.replicas for p in admission_pods if p.owner is owner), 1)), admission_live.get(owner.ref) is not None)
        if owner.ref.kind == "DaemonSet":
            full = [n.name for n in eligible if _short(need, free[n.name])]
            if full:
                problems.append((Outcome.WARN, f"{owner.ref}: no room for its Pod on {len(full)} of {len(eligible)} eligible node(s) "
                                 f"({', '.join(full[:4])}): {_short_text(need, free[full[0]])}", "free room on those nodes"))
            continue
        fits = 0
        for _ in range(want):
            spot = max((n for n in eligible if not _short(need, free[n.name])), default=None,
                       key=lambda n: free[n.name].get("cpu", 0))
            if spot is None:
                break
            if not owner.hooks:  # hooks run and finish before the rest: they do not add up
                for r, v in need.items():
                    free[spot.name][r] = free[spot.name].get(r, 0) - v
            fits += 1
        placed += fits
        if fits < want:
            best = max(eligible, key=lambda n: free[n.name].get("cpu", 0))
            problems.append((Outcome.WARN, f"{owner.ref}: {want - fits} of {want} new Pod(s) ({shown} each) do not fit the room left on "
                             f"the {len(eligible)} eligible node(s), e.g. {best.name}: {_short_text(need, free[best.name])}; "
                             "they stay Pending unless the scheduler makes room",
                             "free capacity or add a node, or lower the requests or replicas (the scheduler may still preempt "
                             "lower-priority pods, or an autoscaler add a node)"))
    ready = sum(1 for n in nodes if n.ready and not n.unschedulable)
    return _summarize(fid, problems, passed=f"room for {placed} new Pod(s) on {ready} Ready node(s)",
                      evidence={"nodes": len(nodes), "ready": ready, "placed": placed})


def _short_text(need: Mapping[str, int], free: Mapping[str, int]) -> str:
    return ", ".join(f"{r} short (needs {_fmt(r, need[r])}, {_fmt(r, max(0, free.get(r, 0)))} free)" for r in _short(need, free))
