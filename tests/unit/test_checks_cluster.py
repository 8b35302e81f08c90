"""cluster.nodes for `check`: judged on Node objects shaped as the API server returns them (the
node tier in tests/cluster/test_node.py runs it against a real kubelet)."""

from __future__ import annotations

from typing import Any

from preflight._checks.cluster.nodes import cluster_nodes
from preflight._engine.model import Outcome
from preflight._engine.runner import FactError
from preflight._facts.cluster import NodeState
from preflight._facts.manifests import ManifestKind
from preflight._facts.policy import Policy


def node(name: str, ready: str = "True", reason: str = "KubeletReady", *, cordoned: bool = False,
         taints: tuple[tuple[str, str], ...] = ()) -> NodeState:
    obj: dict[str, Any] = {"metadata": {"name": name},
                           "spec": {"unschedulable": cordoned, "taints": [{"key": k, "effect": e} for k, e in taints]},
                           "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                                     {"type": "Ready", "status": ready, "reason": reason}]}}
    return NodeState.parse(obj)


UNREACHABLE = (("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute"))


def test_a_ready_schedulable_node_passes() -> None:
    found = cluster_nodes(Policy(), (node("a"), node("b", "Unknown", "NodeStatusUnknown", taints=UNREACHABLE)))
    assert found.outcome is Outcome.PASS and found.message == "1 of 2 nodes are Ready and schedulable"


def test_only_not_ready_nodes_fail_naming_each_and_the_helm_timeout() -> None:
    found = cluster_nodes(Policy(), (node("a", "Unknown", "NodeStatusUnknown", taints=UNREACHABLE), node("b", "False", "KubeletNotReady")))
    assert found.outcome is Outcome.FAIL
    assert "a NotReady (NodeStatusUnknown); b NotReady (KubeletNotReady)" in found.message
    assert "helm --wait will time out" in found.message and found.evidence["ready"] == 0


def test_ready_but_cordoned_nodes_fail() -> None:
    found = cluster_nodes(Policy(), (node("a", cordoned=True),))
    assert found.outcome is Outcome.FAIL and "a cordoned" in found.message


def test_only_tainted_ready_nodes_warn_since_pods_may_tolerate() -> None:
    found = cluster_nodes(Policy(), (node("cp", taints=(("node-role.kubernetes.io/control-plane", "NoSchedule"),)),))
    assert found.outcome is Outcome.WARN and "node-role.kubernetes.io/control-plane:NoSchedule" in found.message


def test_no_nodes_at_all_is_a_warning() -> None:
    found = cluster_nodes(Policy(), ())
    assert found.outcome is Outcome.WARN and "the cluster has no nodes" in found.message


def test_a_deploy_that_runs_no_pods_does_not_care() -> None:
    kinds = (ManifestKind(api_version="v1", kind="ConfigMap"),)
    assert cluster_nodes(Policy(), (node("a", "False"),), kinds).outcome is Outcome.PASS
    deployment = (*kinds, ManifestKind(api_version="apps/v1", kind="Deployment"))
    assert cluster_nodes(Policy(), (node("a", "False"),), deployment).outcome is Outcome.FAIL
    not_rendered = FactError("deploy_kinds", RuntimeError("helm failed"))
    assert cluster_nodes(Policy(), (node("a", "False"),), not_rendered).outcome is Outcome.FAIL
