"""The per-object analyzers on hand-built facts: what needs a kubelet (which the harness has
not) or an edge the recordings do not reach. Shapes follow the kubelet's status fields
(containerStatuses[].state.waiting.reason, lastState.terminated) and its event reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kube_client._cluster import LeaseState, Leases
from preflight._checks.release.pods import diagnose_pod
from preflight._checks.release.objects import _max_unavailable, explain_release
from preflight._facts.helm import ReleaseRecord, ReleaseResource
from preflight._engine.model import Outcome
from preflight._facts.release import LiveObject, ReleaseFacts, Scene
from preflight._facts.policy import Policy

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
NODE = {"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def leases(kcm: float = 1, scheduler: float = 1, *, released: bool = False) -> Leases:
    return Leases(server_time=NOW, items={
        "kube-controller-manager": LeaseState(name="kube-controller-manager", holder="a", renew_time=NOW - timedelta(seconds=kcm), duration_seconds=15),
        "kube-scheduler": LeaseState(name="kube-scheduler", holder="" if released else "b", renew_time=NOW - timedelta(seconds=scheduler),
                                     duration_seconds=1 if released else 15),
    })


def scene(**kw: Any) -> Scene:
    return Scene(now=NOW, namespace="shop", **({"nodes": (NODE,), "leases": leases()} | kw))


def pod(name: str = "web-1", *, node: str = "n1", phase: str = "Pending", statuses: list[dict[str, Any]] | None = None,
        conditions: list[dict[str, Any]] | None = None, owner: str = "rs-uid", restart: str = "Always", age: float = 300) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": restart, "containers": [{"name": "web"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "uid": f"{name}-uid", "creationTimestamp": stamp(age), "labels": {"app": "web"},
                         "ownerReferences": [{"uid": owner}]},
            "spec": spec, "status": {"phase": phase, "containerStatuses": statuses or [], "conditions": conditions or []}}


def waiting(reason: str, message: str = "", **extra: Any) -> dict[str, Any]:
    return {"name": "web", "ready": False, "restartCount": extra.pop("restarts", 0), "state": {"waiting": {"reason": reason, "message": message}}, **extra}


def test_an_image_that_cannot_be_pulled_is_the_apps_fault_with_the_kubelets_words() -> None:
    d = diagnose_pod(pod(statuses=[waiting("ImagePullBackOff", 'Back-off pulling image "web:nope"')]), scene())
    assert d is not None and d.verdict == "app"
    assert d.text() == 'the app is broken: pod web-1, container web: ImagePullBackOff: Back-off pulling image "web:nope"'


def test_a_crash_loop_names_the_restarts_and_the_last_exit() -> None:
    last = {"terminated": {"exitCode": 1, "reason": "Error", "message": "panic: DATABASE_URL not set"}}
    d = diagnose_pod(pod(phase="Running", statuses=[waiting("CrashLoopBackOff", "back-off 5m0s", restarts=7, lastState=last)]), scene())
    assert d is not None and d.verdict == "app"
    assert "keeps crashing (CrashLoopBackOff, 7 restarts); last exit code 1 (Error): panic: DATABASE_URL not set" in d.message
    assert d.remediation == "kubectl logs -n shop web-1 -c web --previous"


def test_a_failing_readiness_probe_is_told_from_the_kubelets_unhealthy_event() -> None:
    running = {"name": "web", "ready": False, "state": {"running": {"startedAt": stamp(100)}}}
    p = pod(phase="Running", statuses=[running], conditions=[{"type": "Ready", "status": "False"}])
    event = {"involvedObject": {"kind": "Pod", "name": "web-1"}, "reason": "Unhealthy", "lastTimestamp": stamp(5),
             "message": "Readiness probe failed: HTTP probe failed with statuscode: 503"}
    d = diagnose_pod(p, scene(events=(event,)))
    assert d is not None and d.verdict == "app"
    assert "runs but is not ready: Readiness probe failed: HTTP probe failed with statuscode: 503" in d.message


def test_a_pod_on_a_node_that_stopped_reporting_is_the_nodes_fault() -> None:
    sick = {"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]}}
    d = diagnose_pod(pod(), scene(nodes=(sick,)))
    assert d is not None and d.verdict == "nodes" and "not ready (NodeStatusUnknown): its kubelet is not reporting" in d.message


def test_an_evicted_pod_is_the_nodes_fault() -> None:
    p = pod(phase="Failed")
    p["status"] |= {"reason": "Evicted", "message": "The node was low on resource: memory."}
    d = diagnose_pod(p, scene())
    assert d is not None and d.verdict == "nodes" and "evicted: The node was low on resource: memory." in d.message


def test_a_failed_mount_is_the_apps_fault() -> None:
    event = {"involvedObject": {"kind": "Pod", "name": "web-1"}, "reason": "FailedMount", "lastTimestamp": stamp(3),
             "message": 'MountVolume.SetUp failed for volume "cfg" : configmap "web-cfg" not found'}
    d = diagnose_pod(pod(statuses=[waiting("ContainerCreating")]), scene(events=(event,)))
    assert d is not None and d.verdict == "app" and 'configmap "web-cfg" not found' in d.message


@pytest.mark.parametrize(("kcm", "scheduler", "released", "verdict", "words"), [
    (1, 1, False, "nodes", "no node can take it: pod web-1 cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu."),
    (1, 90, True, "nodes", "also, the scheduler is not running"),  # it looked before it stopped
])
def test_an_unschedulable_pod_says_no_node_can_take_it(kcm: float, scheduler: float, released: bool, verdict: str, words: str) -> None:
    cond = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}]
    d = diagnose_pod(pod(node="", conditions=cond), scene(leases=leases(kcm, scheduler, released=released)))
    assert d is not None and d.verdict == verdict and words in d.text()


def test_a_young_unscheduled_pod_is_waiting_and_an_old_one_without_a_scheduler_is_the_control_plane() -> None:
    young = diagnose_pod(pod(node="", age=3), scene())
    assert young is not None and young.verdict == "waiting"
    cold = diagnose_pod(pod(node="", age=300), scene(leases=leases(scheduler=120, released=True)))
    assert cold is not None and cold.verdict == "control-plane" and cold.text().startswith(
        "the control plane is broken: the scheduler is not running: kube-scheduler released its leader lease 2m")
    custom = pod(node="")
    custom["spec"]["schedulerName"] = "volcano"
    d = diagnose_pod(custom, scene())
    assert d is not None and d.verdict == "app" and "asks for scheduler 'volcano'" in d.message


@pytest.mark.parametrize(("replicas", "strategy", "expected"), [
    (1, {}, 0), (4, {}, 1), (10, {"rollingUpdate": {"maxUnavailable": "33%"}}, 3), (3, {"rollingUpdate": {"maxUnavailable": 2}}, 2),
    (3, {"type": "Recreate"}, 0), (2, {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}, 1), (1, {"rollingUpdate": {"maxUnavailable": 5}}, 1),
])
def test_max_unavailable_as_helms_deployment_ready_counts_it(replicas: int, strategy: dict[str, Any], expected: int) -> None:
    assert _max_unavailable({"spec": {"strategy": strategy}}, replicas) == expected


def _run(resources: list[tuple[ReleaseResource, dict[str, Any] | None]], *, status: str = "failed", **kw: Any) -> dict[str, Any]:
    record = ReleaseRecord(name="web", namespace="shop", revision=3, status=status, description="Upgrade \"web\" failed: context deadline exceeded",
                           operation="upgrade", resources=tuple(r for r, _ in resources))
    objects = tuple(LiveObject(resource=r, namespace="shop", obj=o) for r, o in resources)
    facts = ReleaseFacts(record=record, objects=objects, server_time=NOW)
    args = {"pods": (), "replicasets": (), "endpointslices": (), "events": (), "nodes": (NODE,), "leases": leases()} | kw
    return {f.id: f for f in explain_release(Policy(now=NOW), facts, **args)}


def test_a_job_that_exhausted_its_retries_names_the_failed_containers_exit() -> None:
    job = {"metadata": {"name": "migrate", "uid": "job-uid"}, "status": {"conditions": [
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}}
    failed = pod("migrate-x", phase="Failed", owner="job-uid", restart="Never",
                 statuses=[{"name": "migrate", "state": {"terminated": {"exitCode": 127, "reason": "Error", "message": "sh: migrate: not found"}}}])
    found = _run([(ReleaseResource(api_version="batch/v1", kind="Job", name="migrate", hook=("pre-upgrade",), hook_phase="Failed"), job)],
                 pods=(failed,))
    f = found["release.job.migrate"]
    assert f.outcome is Outcome.FAIL and f.evidence["verdict"] == "app"
    assert "failed (BackoffLimitExceeded: Job has reached the specified backoff limit): the app is broken: pod migrate-x, container migrate " \
           "failed: exit code 127 (Error): sh: migrate: not found" in f.message


def test_a_hook_deleted_by_its_policy_is_judged_by_its_last_run() -> None:
    gone_ok = ReleaseResource(api_version="batch/v1", kind="Job", name="ok", hook=("pre-upgrade",), hook_phase="Succeeded")
    gone_bad = ReleaseResource(api_version="batch/v1", kind="Job", name="bad", hook=("pre-upgrade",), hook_phase="Failed")
    found = _run([(gone_ok, None), (gone_bad, None)])
    assert found["release.job.ok"].outcome is Outcome.PASS
    assert found["release.job.bad"].outcome is Outcome.FAIL and "hook-output-log-policy" in found["release.job.bad"].remediation


def test_a_service_whose_selector_matches_nothing_is_a_label_typo() -> None:
    svc = {"metadata": {"name": "web"}, "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1", "selector": {"app": "wbe"}}}
    dep = ReleaseResource(api_version="apps/v1", kind="Deployment", name="web", template_labels={"app": "web"})
    found = _run([(ReleaseResource(api_version="v1", kind="Service", name="web"), svc), (dep, None)], pods=(pod(),))
    f = found["release.service.web"]
    assert f.outcome is Outcome.FAIL and f.evidence["verdict"] == "app" and "a label typo?" in f.message


def test_a_load_balancer_without_an_address_is_what_helm_waits_for() -> None:
    svc = {"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"}, "status": {"loadBalancer": {}}}
    f = _run([(ReleaseResource(api_version="v1", kind="Service", name="web"), svc)])["release.service.web"]
    assert f.outcome is Outcome.FAIL and "the cluster cannot provide it" in f.message and "helm --wait waits for one" in f.message


def test_a_claim_waiting_for_its_first_consumer_follows_the_pod() -> None:
    pvc = {"metadata": {"name": "data"}, "status": {"phase": "Pending"}}
    event = {"involvedObject": {"kind": "PersistentVolumeClaim", "name": "data"}, "reason": "WaitForFirstConsumer",
             "message": "waiting for first consumer to be created before binding", "lastTimestamp": stamp(1)}
    f = _run([(ReleaseResource(api_version="v1", kind="PersistentVolumeClaim", name="data"), pvc)], events=(event,))["release.persistentvolumeclaim.data"]
    assert f.outcome is Outcome.WARN and f.evidence["verdict"] == "waiting"


def test_a_ready_deployment_passes_and_a_paused_one_never_will() -> None:
    dep = {"metadata": {"name": "web", "uid": "dep-uid", "generation": 2, "annotations": {"deployment.kubernetes.io/revision": "2"}},
           "spec": {"replicas": 4}, "status": {"observedGeneration": 2}}
    rs = {"metadata": {"name": "web-2", "uid": "rs-uid", "ownerReferences": [{"uid": "dep-uid"}],
                       "annotations": {"deployment.kubernetes.io/revision": "2"}}, "status": {"readyReplicas": 3}}
    res = ReleaseResource(api_version="apps/v1", kind="Deployment", name="web")
    ok = _run([(res, dep)], replicasets=(rs,), status="deployed")
    assert ok["release.deployment.web"].outcome is Outcome.PASS  # 3 of 4 with maxUnavailable 25% is what helm calls ready
    assert ok["release.status"].outcome is Outcome.PASS
    paused = _run([(res, {**dep, "spec": {"replicas": 4, "paused": True}})], replicasets=(rs,))
    assert paused["release.deployment.web"].evidence["verdict"] == "app"


def test_a_kind_the_server_no_longer_serves_fails_and_an_unlooked_object_is_skipped() -> None:
    record = ReleaseRecord(name="web", namespace="shop", revision=1, status="failed", description="", operation="install", resources=())
    old = LiveObject(resource=ReleaseResource(api_version="policy/v1beta1", kind="PodSecurityPolicy", name="p"), namespace="", obj=None, served=False)
    hidden = LiveObject(resource=ReleaseResource(api_version="v1", kind="Secret", name="s"), namespace="shop", obj=None, note="not allowed to get secrets")
    facts = ReleaseFacts(record=record, objects=(old, hidden), server_time=NOW)
    found = {f.id: f for f in explain_release(Policy(now=NOW), facts, (), (), (), (), (NODE,), leases())}
    assert found["release.podsecuritypolicy.p"].outcome is Outcome.FAIL and "does not serve policy/v1beta1" in found["release.podsecuritypolicy.p"].message
    assert found["release.secret.s"].outcome is Outcome.SKIP


def test_the_preflight_hook_pending_without_a_scheduler_says_a_hook_cannot_gate_that() -> None:
    hook_pod = pod("web-preflight", node="", owner="", restart="Never")
    hook_pod["metadata"]["labels"] = {"app.kubernetes.io/name": "preflight-hook", "app.kubernetes.io/instance": "web"}
    hook_pod["metadata"]["ownerReferences"] = []
    res = ReleaseResource(api_version="v1", kind="Pod", name="web-preflight", hook=("pre-install", "pre-upgrade"), hook_phase="Running")
    f = _run([(res, hook_pod)], leases=leases(scheduler=120, released=True))["release.pod.web-preflight"]
    assert f.outcome is Outcome.FAIL and f.evidence["verdict"] == "control-plane"
    assert "the preflight hook never ran, so it could not say why: the scheduler is not running" in f.message
    assert "helm preflight, the post-renderer or the Jenkins step" in f.remediation
    # any other pending hook pod keeps the plain words
    other = dict(hook_pod, metadata={**hook_pod["metadata"], "labels": {"app": "migrate"}})
    g = _run([(res, other)], leases=leases(scheduler=120, released=True))["release.pod.web-preflight"]
    assert g.evidence["verdict"] == "control-plane" and "preflight hook" not in g.message
