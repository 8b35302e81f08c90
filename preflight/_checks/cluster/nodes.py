"""``cluster.nodes`` for ``check``: will the deploy's pods have a node to run on?

Judged from the Node list alone, before the deploy: a pod can run on a node that is Ready, not
cordoned and carries no NoSchedule/NoExecute taint ("schedulable"). How the outcome was chosen:

* nodes that cannot be listed (403: a namespace-scoped deploy identity usually may not) make the
  check ``skip`` through the runner, so the verdict is what it was without this check;
* nodes exist and none is Ready, or none of the Ready ones is schedulable because they are
  cordoned: ``fail``. The deploy's pods stay Pending and ``helm --wait`` times out; this is the
  incident's symptom, and nothing the deploy does can change it;
* the only Ready nodes are tainted: ``warn``. Pods that tolerate the taints (DaemonSets, charts
  made for such nodes) still run, and the check does not see the pods' tolerations;
* no Node at all: ``warn``. A cluster autoscaler scaling from zero or virtual nodes may provide
  one once pods are Pending; ``explain`` makes it the root cause if the deploy then waits;
* --manifests/--chart that create no pod-running kind: ``pass`` whatever the nodes, named so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..._engine.model import Finding, Outcome
from ..._engine.runner import FactError
from ..._facts.cluster import NodeState
from ..._facts.manifests import ManifestKind
from ..._facts.policy import Policy

__all__ = ["POD_KINDS", "cluster_nodes"]

POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "ReplicationController")
FIX = "repair the kubelets of the NotReady nodes (kubectl describe node; journalctl -u kubelet), uncordon, or add nodes"


def _state(node: NodeState) -> str:
    if node.ready != "True":
        return f"{node.name} NotReady ({node.reason or node.ready or 'no Ready condition'})"
    if node.unschedulable:
        return f"{node.name} cordoned"
    return f"{node.name} tainted {', '.join(node.taints)}"


def cluster_nodes(policy: Policy, nodes: tuple[NodeState, ...], deploy_kinds: Iterable[ManifestKind] | FactError = ()) -> Finding:
    """``deploy_kinds``: what --manifests or --chart creates (none of the pod kinds: the nodes do
    not matter to it); empty or a FactError: the default deploy, which runs pods."""
    kinds = () if isinstance(deploy_kinds, FactError) else tuple(deploy_kinds)
    runs_pods = not kinds or any(k.kind in POD_KINDS for k in kinds)
    schedulable = [n for n in nodes if n.schedulable]
    ready = [n for n in nodes if n.ready == "True"]
    evidence: dict[str, Any] = {"nodes": len(nodes), "ready": len(ready), "schedulable": len(schedulable),
                                "not_schedulable": [_state(n) for n in nodes if not n.schedulable][:20]}
    fid = "cluster.nodes"
    if schedulable:
        return Finding(id=fid, outcome=Outcome.PASS, evidence=evidence,
                       message=f"{len(schedulable)} of {len(nodes)} nodes are Ready and schedulable")
    if not runs_pods:
        return Finding(id=fid, outcome=Outcome.PASS, evidence=evidence,
                       message=f"no node is Ready and schedulable ({len(nodes)} nodes), but this deploy runs no pods")
    wait = "its pods will stay Pending and helm --wait will time out"
    if not nodes:
        return Finding(id=fid, outcome=Outcome.WARN, evidence=evidence,
                       message=f"the cluster has no nodes: unless an autoscaler or virtual node provides one, {wait}",
                       remediation="join nodes (kubeadm join), or check the cluster autoscaler")
    listed = "; ".join(evidence["not_schedulable"][:5]) + ("; ..." if len(nodes) > 5 else "")
    if ready and all(n.taints and not n.unschedulable for n in ready):
        return Finding(id=fid, outcome=Outcome.WARN, evidence=evidence,
                       message=f"every Ready node is tainted ({listed}): unless the pods tolerate that, {wait}",
                       remediation="add untainted nodes, or tolerations to the chart")
    return Finding(id=fid, outcome=Outcome.FAIL, evidence=evidence,
                   message=f"no node can take the deploy's pods: {listed}; {wait}", remediation=FIX)
