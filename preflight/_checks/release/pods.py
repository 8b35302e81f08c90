"""Why one pod is not ready, told as whose fault it is: the control plane's, the nodes', the
storage's or the app's. Every workload analyzer in ``release`` ends here.

Pure: a pod, the ``Scene`` around it, a ``Diagnosis`` out. The order of the questions follows
a pod's life: scheduled at all (kube-scheduler), by which node (kubelet), pulled, started,
ready. The reasons are the kubelet's and the scheduler's own words (``status.reason``,
``containerStatuses[].state.waiting.reason``, the ``PodScheduled`` condition, events).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kube_client._durations import format_age

from ..._facts.cluster import KubeObject
from ..._facts.release import Scene, meta

__all__ = ["VERDICTS", "Diagnosis", "diagnose_pod", "first_problem", "pod_condition"]

# Whose fault, in the words the report uses. Order = precedence when several pods disagree:
# a broken control plane explains everything after it.
VERDICTS = {
    "control-plane": "the control plane is broken",
    "app": "the app is broken",
    "storage": "no volume for it",
    "nodes": "no node can take it",
    "cluster": "the cluster cannot provide it",
    "waiting": "not ready yet",
}

CONTROL_PLANE_FIX = ("restart it for real and read its log for 'Unauthorized' or x509 errors (see controlplane.leases); "
                     "then run the deploy again")
NODES_FIX = "add or repair nodes (kubectl get nodes), or relax the pod's requests, nodeSelector, affinity or tolerations"
# The kubelet's waiting reasons for an image it cannot get (pkg/kubelet/images/types.go).
IMAGE_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable", "ErrImageInspect")
# ... and for a container it cannot create or start (pkg/kubelet/kuberuntime, container/sync_result.go).
START_REASONS = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError", "PreStartHookError", "PostStartHookError")
YOUNG_SECONDS = 30  # a scheduler or controller that is up acts within seconds; younger is "not yet"


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    verdict: str  # a VERDICTS key
    message: str  # the reason, without the verdict's words
    remediation: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    status: str = ""  # the object's state before the verdict, e.g. "0/1 pods ready"

    def text(self) -> str:
        return f"{self.status + ': ' if self.status else ''}{VERDICTS[self.verdict]}: {self.message}"


def first_problem(diagnoses: Iterable[Diagnosis | None]) -> tuple[Diagnosis | None, int]:
    """The diagnosis whose verdict explains most (VERDICTS order), and how many problems there were."""
    found = [d for d in diagnoses if d is not None]
    order = list(VERDICTS)
    return (min(found, key=lambda d: order.index(d.verdict)) if found else None), len(found)


def pod_condition(pod: KubeObject, kind: str) -> Mapping[str, Any] | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def _unscheduled(pod: KubeObject, scene: Scene) -> Diagnosis:
    name = meta(pod).get("name")
    cond = pod_condition(pod, "PodScheduled")
    down = scene.scheduler_down()
    if cond is not None and cond.get("status") == "False":
        reason, message = str(cond.get("reason") or ""), str(cond.get("message") or "")
        if reason == "SchedulingGated":
            return Diagnosis(verdict="app", message=f"pod {name} is held back by its schedulingGates: {message}",
                             remediation="remove the gate, or run what is meant to remove it")
        also = f"; also, {down}" if down else ""
        if "PersistentVolumeClaim" in message:  # "pod has unbound immediate PersistentVolumeClaims"
            return Diagnosis(verdict="storage", message=f"pod {name} cannot be scheduled: {message}{also}",
                             remediation="see the PersistentVolumeClaim's finding")
        return Diagnosis(verdict="nodes", message=f"pod {name} cannot be scheduled: {message}{also}", remediation=NODES_FIX,
                         evidence={"reason": reason})
    # No PodScheduled condition: no scheduler has looked at the pod (kube-scheduler writes the
    # condition on its first failed attempt: pkg/scheduler/schedule_one.go handleSchedulingFailure).
    age = scene.age(pod)
    waited = f" for {format_age(age)}" if age is not None else ""
    scheduler = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
    if scheduler != "default-scheduler":
        return Diagnosis(verdict="app", message=f"pod {name} asks for scheduler {scheduler!r}, which has not looked at it{waited}",
                         remediation=f"deploy the {scheduler} scheduler, or drop schedulerName from the chart")
    if down:
        return Diagnosis(verdict="control-plane", message=f"{down}; pod {name} has waited{waited} and no scheduler has looked at it",
                         remediation="kube-scheduler: " + CONTROL_PLANE_FIX)
    if age is not None and age.total_seconds() < YOUNG_SECONDS:
        return Diagnosis(verdict="waiting", message=f"pod {name} was created {format_age(age)} ago and is not scheduled yet")
    if scene.leases is None or "kube-scheduler" not in scene.leases.items:
        return Diagnosis(verdict="control-plane", message=f"no scheduler has looked at pod {name}{waited}: kube-scheduler is "
                         "probably not running (its leader Lease could not be read)", remediation="kube-scheduler: " + CONTROL_PLANE_FIX)
    return Diagnosis(verdict="control-plane", message=f"kube-scheduler renews its lease but has not looked at pod {name}{waited}",
                     remediation="read kube-scheduler's log")


def _container_statuses(pod: KubeObject) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def _terminated_text(term: Mapping[str, Any]) -> str:
    text = f"exit code {term.get('exitCode')}" + (f" ({term['reason']})" if term.get("reason") else "")
    message = " ".join(str(term.get("message") or "").split())[:200]
    return text + (f": {message}" if message else "")


def _container_problem(pod: KubeObject, scene: Scene) -> Diagnosis | None:
    name = meta(pod).get("name")
    restart = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    for cs in _container_statuses(pod):
        container = cs.get("name")
        state = cs.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        reason, message = str(waiting.get("reason") or ""), " ".join(str(waiting.get("message") or "").split())[:240]
        where = f"pod {name}, container {container}"
        if reason in IMAGE_REASONS:
            return Diagnosis(verdict="app", message=f"{where}: {reason}: {message or 'the image cannot be pulled'}",
                             remediation="fix the image name or tag in the chart values, or its imagePullSecrets",
                             evidence={"container": container, "reason": reason})
        if reason == "CrashLoopBackOff":
            last = (cs.get("lastState") or {}).get("terminated") or {}
            return Diagnosis(verdict="app", message=f"{where} keeps crashing (CrashLoopBackOff, {cs.get('restartCount', 0)} restarts)"
                             + (f"; last {_terminated_text(last)}" if last else ""),
                             remediation=f"kubectl logs -n {scene.namespace} {name} -c {container} --previous",
                             evidence={"container": container, "reason": reason, "exit_code": last.get("exitCode")})
        if reason in START_REASONS:
            return Diagnosis(verdict="app", message=f"{where}: {reason}: {message}",
                             remediation="a missing ConfigMap/Secret key or a bad command: fix it in the chart",
                             evidence={"container": container, "reason": reason})
        if terminated and terminated.get("exitCode") not in (0, None) and restart != "Always":
            return Diagnosis(verdict="app", message=f"{where} failed: {_terminated_text(terminated)}",
                             remediation=f"kubectl logs -n {scene.namespace} {name} -c {container}",
                             evidence={"container": container, "exit_code": terminated.get("exitCode")})
    return None


def _not_ready(pod: KubeObject, scene: Scene) -> Diagnosis | None:
    """Running, scheduled and started, but not Ready: a failing readiness probe, usually."""
    name = meta(pod).get("name")
    cond = pod_condition(pod, "Ready")
    if cond is None or cond.get("status") == "True":
        return None
    unready = [str(cs.get("name")) for cs in (pod.get("status") or {}).get("containerStatuses") or [] if not cs.get("ready")]
    probe = scene.events_for("Pod", str(name), reasons=("Unhealthy",))
    said = " ".join(str(probe[0].get("message") or "").split())[:240] if probe else "its readiness probe fails"
    return Diagnosis(verdict="app", message=f"pod {name}, container {', '.join(unready) or '?'} runs but is not ready: {said}",
                     remediation=f"kubectl describe pod -n {scene.namespace} {name}; fix the probe or what it checks",
                     evidence={"containers": unready})


def _starting(pod: KubeObject, scene: Scene, node: str) -> Diagnosis:
    name = str(meta(pod).get("name"))
    for reason, verdict, fix in (("FailedMount", "app", "a volume names a ConfigMap, Secret or claim that does not exist: fix the chart"),
                                 ("FailedAttachVolume", "storage", "see the volume's driver"),
                                 ("FailedCreatePodSandBox", "nodes", f"node {node}'s container runtime or network plugin (CNI) is broken")):
        found = scene.events_for("Pod", name, reasons=(reason,))
        if found:
            said = " ".join(str(found[0].get("message") or "").split())[:240]
            return Diagnosis(verdict=verdict, message=f"pod {name} on node {node}: {reason}: {said}", remediation=fix)
    age = scene.age(pod)
    return Diagnosis(verdict="waiting", message=f"pod {name} is starting on node {node}"
                     + (f" since {format_age(age)}" if age is not None else ""))


def diagnose_pod(pod: KubeObject, scene: Scene) -> Diagnosis | None:
    """Why ``pod`` is not ready, or None when it is ready (or Succeeded)."""
    status, spec, name = pod.get("status") or {}, pod.get("spec") or {}, meta(pod).get("name")
    phase = status.get("phase")
    if meta(pod).get("deletionTimestamp"):
        return Diagnosis(verdict="waiting", message=f"pod {name} is terminating")
    if phase == "Succeeded":
        return None
    if phase == "Failed":
        if status.get("reason") == "Evicted":
            return Diagnosis(verdict="nodes", message=f"pod {name} was evicted: {status.get('message') or ''}".rstrip(": "),
                             remediation="the node ran short of memory or disk: see kubectl describe node")
        return _container_problem(pod, scene) or Diagnosis(
            verdict="app", message=f"pod {name} failed: {status.get('reason') or ''} {status.get('message') or ''}".strip())
    node = str(spec.get("nodeName") or "")
    if not node:
        return _unscheduled(pod, scene)
    if scene.nodes is not None:
        found = scene.node(node)
        if found is None:
            return Diagnosis(verdict="nodes", message=f"pod {name} is bound to node {node}, which no longer exists", remediation=NODES_FIX)
        ready: Mapping[str, Any] = next((c for c in (found.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
        if ready.get("status") != "True":
            return Diagnosis(verdict="nodes", message=f"pod {name} is on node {node}, which is not ready "
                             f"({ready.get('reason') or 'no status'}): its kubelet is not reporting",
                             remediation=f"repair the kubelet on {node}, or drain it so the pod moves")
    problem = _container_problem(pod, scene)
    if problem is not None:
        return problem
    if phase == "Pending":
        return _starting(pod, scene, node)
    return _not_ready(pod, scene)
