"""``preflight explain``: after a failed or timed-out deploy, why each object of the release is
not ready, and whose fault that is.

One finding per object of the latest revision, id ``release.<kind>.<name>`` (lower-case kind;
``release.<kind>.<namespace>.<name>`` when the manifest names another namespace), in the
order helm ran them: pre-hooks, the manifest (helm's install order), post-hooks. Before them
``cluster.nodes``; after them ``release.status``, the revision's own line. Each message says
whose fault it is in so many words: "the control plane is broken", "no node can take it",
"no volume for it", "the app is broken" (``pods.VERDICTS``; also ``evidence.verdict``).

"Ready" is what helm's ``--wait`` waits for (helm v3 ``pkg/kube/ready.go``): a Deployment's
new ReplicaSet has ``replicas - maxUnavailable`` ready pods, a Job is Complete, a PVC Bound, a
LoadBalancer Service has an address. Services are also asked for ready endpoints, which
``--wait`` does not need, so that finding is a warning that points at the workload behind it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kube_client._cluster import Leases
from kube_client._durations import format_age

from ..._engine.model import Finding, Outcome
from ..._engine.runner import FactError
from ..._facts.cluster import KubeObject
from ..._facts.policy import Policy
from ..._facts.release import LiveObject, ReleaseFacts, Scene, meta
from .pods import CONTROL_PLANE_FIX, NODES_FIX, Diagnosis, diagnose_pod, first_problem

__all__ = ["explain_release", "finding_id"]

_KCM_FIX = "kube-controller-manager: " + CONTROL_PLANE_FIX
_POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod")

# An analyzer returns a Diagnosis when the object is not ready, else a short note (or None).
Analyzer = Callable[[KubeObject, Scene, LiveObject], "Diagnosis | str | None"]  # str: ready, with a note


def finding_id(live: LiveObject, release_namespace: str) -> str:
    res = live.resource
    where = f"{res.namespace}." if res.namespace and res.namespace != release_namespace else ""
    return f"release.{res.kind.lower()}.{where}{res.name}"


def _conditions(obj: KubeObject) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in (obj.get("status") or {}).get("conditions") or []}


def _true(obj: KubeObject, kind: str) -> Mapping[str, Any] | None:
    cond = _conditions(obj).get(kind)
    return cond if cond is not None and cond.get("status") == "True" else None


def _flat(text: Any, limit: int = 240) -> str:
    return " ".join(str(text or "").split())[:limit]


def _pods_problem(pods: list[KubeObject], scene: Scene, owner: str) -> Diagnosis | None:
    problem, count = first_problem(diagnose_pod(p, scene) for p in pods)
    if problem is None:
        return None
    more = f" (and {count - 1} more pod{'s' if count > 2 else ''} not ready)" if count > 1 else ""
    return Diagnosis(verdict=problem.verdict, message=problem.message + more, remediation=problem.remediation,
                     evidence={**problem.evidence, "owner": owner})


def _no_pods(scene: Scene, kind: str, obj: KubeObject, what: str) -> Diagnosis:
    """A controller made no pods: admission refused them (FailedCreate), or no controller runs."""
    name = str(meta(obj).get("name"))
    failure = _true(obj, "ReplicaFailure")
    refused = scene.events_for(kind, name, reasons=("FailedCreate",))
    if failure is not None or refused:
        said = _flat(failure.get("message") if failure is not None else refused[0].get("message"))
        return Diagnosis(verdict="app", message=f"{what} cannot create pods: {said}",
                         remediation="fix what the API server refuses (a missing ServiceAccount, a quota, a policy) in the chart or namespace")
    down = scene.controller_manager_down()
    if down:
        return Diagnosis(verdict="control-plane", message=f"{down}, so {what} got no pods", remediation=_KCM_FIX)
    age = scene.age(obj)
    if age is not None and age.total_seconds() < 30:
        return Diagnosis(verdict="waiting", message=f"{what} was created {format_age(age)} ago and has no pods yet")
    return Diagnosis(verdict="control-plane", message=f"{what} has no pods after {format_age(age) if age else 'a while'} although "
                     "kube-controller-manager renews its lease: its controllers may be disabled (--controllers)",
                     remediation="read kube-controller-manager's log")


def _unprocessed(scene: Scene, obj: KubeObject, what: str, missing: str) -> Diagnosis:
    """The controller has not acted on the object's spec (observedGeneration behind)."""
    down = scene.controller_manager_down()
    if down:
        return Diagnosis(verdict="control-plane", message=f"{down}, so {what} {missing}", remediation=_KCM_FIX)
    age = scene.age(obj)
    if age is not None and age.total_seconds() < 30:
        return Diagnosis(verdict="waiting", message=f"{what} was changed moments ago; its controller has not caught up")
    return Diagnosis(verdict="control-plane", message=f"{what} {missing}, although kube-controller-manager renews its lease",
                     remediation="read kube-controller-manager's log")


def _scaled(value: Any, replicas: int, *, round_up: bool) -> int:
    """An int-or-percent field (maxUnavailable), as apimachinery GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        fraction = float(text[:-1] or 0) * replicas / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(text) if text.isdigit() else 0


def _max_unavailable(dep: KubeObject, replicas: int) -> int:
    """k8s.io/kubectl deploymentutil.MaxUnavailable, which helm's deploymentReady uses."""
    strategy = (dep.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate" or replicas == 0:
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    surge = _scaled(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    if unavailable == 0 and surge == 0:
        unavailable = 1  # ResolveFenceposts: both zero is not allowed, unavailable becomes 1
    return min(unavailable, replicas)


def _generation_seen(obj: KubeObject) -> bool:
    return int((obj.get("status") or {}).get("observedGeneration") or 0) >= int(meta(obj).get("generation") or 1)


def _deployment(obj: KubeObject, scene: Scene, live: LiveObject) -> Diagnosis | str | None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    replicas = int(spec.get("replicas", 1))
    what = "the Deployment"
    if spec.get("paused"):
        return Diagnosis(verdict="app", message="the Deployment is paused: helm --wait never sees it ready",
                         remediation=f"kubectl rollout resume deployment -n {scene.namespace} {meta(obj).get('name')}")
    if scene.replicasets is None:
        return Diagnosis(verdict="waiting", status=f"{status.get('readyReplicas', 0)}/{replicas} pods ready",
                         message="its ReplicaSets could not be read")
    sets = Scene.owned_by(str(meta(obj).get("uid")), scene.replicasets)
    revision = (meta(obj).get("annotations") or {}).get("deployment.kubernetes.io/revision")
    new = next((rs for rs in sets if (meta(rs).get("annotations") or {}).get("deployment.kubernetes.io/revision") == revision), None)
    if not _generation_seen(obj) or new is None:
        return _unprocessed(scene, obj, what, "got no ReplicaSet" if not sets else "got no ReplicaSet for its current spec")
    expected = replicas - _max_unavailable(obj, replicas)
    ready = int((new.get("status") or {}).get("readyReplicas") or 0)
    if ready >= expected:
        return f"{ready}/{replicas} pods ready"
    pods = [p for p in Scene.owned_by(str(meta(new).get("uid")), scene.pods) if not meta(p).get("deletionTimestamp")]
    prefix = f"{ready}/{replicas} pods ready"
    if not pods:
        d = _no_pods(scene, "ReplicaSet", new, f"its ReplicaSet {meta(new).get('name')}")
        return replace(d, status=prefix)
    problem = _pods_problem(pods, scene, f"ReplicaSet {meta(new).get('name')}")
    if problem is None:
        return Diagnosis(verdict="waiting", status=prefix, message="its pods are becoming ready")
    return replace(problem, status=prefix)


def _replicated(kind: str, ready_key: str) -> Analyzer:
    """StatefulSet and ReplicaSet: pods owned directly, ready when enough of them are."""

    def analyze(obj: KubeObject, scene: Scene, live: LiveObject) -> Diagnosis | str | None:
        replicas = int((obj.get("spec") or {}).get("replicas", 1))
        ready = int((obj.get("status") or {}).get(ready_key) or 0)
        what = f"the {kind}"
        if not _generation_seen(obj):
            return _unprocessed(scene, obj, what, "has not been processed by its controller")
        if ready >= replicas:
            return f"{ready}/{replicas} pods ready"
        prefix = f"{ready}/{replicas} pods ready"
        pods = Scene.owned_by(str(meta(obj).get("uid")), scene.pods)
        d = _pods_problem(pods, scene, what) if pods else _no_pods(scene, kind, obj, what)
        if d is None:
            return Diagnosis(verdict="waiting", status=prefix, message="its pods are becoming ready")
        return replace(d, status=prefix)

    return analyze


def _daemonset(obj: KubeObject, scene: Scene, live: LiveObject) -> Diagnosis | str | None:
    status = obj.get("status") or {}
    what = "the DaemonSet"
    if not _generation_seen(obj):
        return _unprocessed(scene, obj, what, "has not been processed by its controller")
    desired, ready = int(status.get("desiredNumberScheduled") or 0), int(status.get("numberReady") or 0)
    if ready >= desired:
        return f"{ready}/{desired} pods ready" + (" (no node matches it)" if desired == 0 else "")
    pods = Scene.owned_by(str(meta(obj).get("uid")), scene.pods)
    d = _pods_problem(pods, scene, what) if pods else _no_pods(scene, "DaemonSet", obj, what)
    if d is None:
        return Diagnosis(verdict="waiting", status=f"{ready}/{desired} pods ready", message="its pods are becoming ready")
    return replace(d, status=f"{ready}/{desired} pods ready")


def _job_pods_never_placed(obj: KubeObject, scene: Scene) -> str:
    """For a Job whose pods are gone (deleted at its deadline): what the scheduler said about
    them, from the events that outlive them (the Job's 'Created pod: NAME' events)."""
    names = [str(e.get("message") or "").removeprefix("Created pod: ") for e in scene.events_for("Job", str(meta(obj).get("name")),
                                                                                                  reasons=("SuccessfulCreate",))]
    for name in names:
        said = scene.events_for("Pod", name, reasons=("FailedScheduling",))
        if said:
            return f"its pod {name} never got a node: {_flat(said[0].get('message'))}"
    return ""


def _job(obj: KubeObject, scene: Scene, live: LiveObject) -> Diagnosis | str | None:
    what = "the Job"
    if _true(obj, "Complete") is not None or _true(obj, "SuccessCriteriaMet") is not None:
        return "complete"
    pods = Scene.owned_by(str(meta(obj).get("uid")), scene.pods)
    failed = _true(obj, "Failed")
    if failed is not None:
        reason, said = str(failed.get("reason") or ""), _flat(failed.get("message"))
        head = f"failed ({reason}: {said})"
        problem, _ = first_problem(diagnose_pod(p, scene) for p in pods)
        if problem is not None and problem.verdict != "waiting":
            return replace(problem, status=head, evidence={**problem.evidence, "job_reason": reason})
        unplaced = _job_pods_never_placed(obj, scene)
        if unplaced:
            return Diagnosis(verdict="nodes", status=head, message=unplaced, remediation=NODES_FIX, evidence={"job_reason": reason})
        return Diagnosis(verdict="app", status=head, message="its pods failed", evidence={"job_reason": reason},
                         remediation=f"kubectl describe job -n {scene.namespace} {meta(obj).get('name')}; kubectl logs -n {scene.namespace} "
                         f"job/{meta(obj).get('name')}")
    if (obj.get("spec") or {}).get("suspend"):
        return Diagnosis(verdict="app", message="it is suspended: it never completes until resumed")
    if pods:
        d = _pods_problem(pods, scene, what)
        return d or Diagnosis(verdict="waiting", message="it is running")
    return _no_pods(scene, "Job", obj, what)


def _preflight_hook(obj: KubeObject, live: LiveObject) -> bool:
    """charts/preflight-hook's Pod: the in-cluster gate itself."""
    labels = meta(obj).get("labels") or {}
    return bool(live.resource.hook) and labels.get("app.kubernetes.io/name") == "preflight-hook"


def _pod(obj: KubeObject, scene: Scene, live: LiveObject) -> Diagnosis | str | None:
    found = diagnose_pod(obj, scene)
    if found is not None and found.verdict == "control-plane" and _preflight_hook(obj, live) and not (obj.get("spec") or {}).get("nodeName"):
        # the gate needs a pod, and a pod needs the scheduler: the hook cannot report this itself
        return replace(found, message=f"the preflight hook never ran, so it could not say why: {found.message}; a hook runs in a "
                       "pod, and no pod is scheduled while kube-scheduler is down",
                       remediation=f"{found.remediation}; to gate a deploy when the control plane itself may be broken, run the "
                       "gate from outside the cluster: helm preflight, the post-renderer or the Jenkins step")
    return found or "ready"


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any] | None) -> bool:
    return labels is not None and all(labels.get(k) == v for k, v in selector.items())


def _service(obj: KubeObject, scene: Scene, live: LiveObject) -> Diagnosis | str | None:
    spec, name = obj.get("spec") or {}, str(meta(obj).get("name"))
    what = "the Service"
    if spec.get("type") == "ExternalName":
        return "ExternalName: nothing to wait for"
    if spec.get("type") == "LoadBalancer" and not spec.get("externalIPs") and not ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return Diagnosis(verdict="cluster", message="it is type LoadBalancer and has no address: helm --wait waits for one, "
                         "and no cloud or load-balancer controller has assigned it",
                         remediation="install a load-balancer provider (cloud controller, MetalLB), or use type ClusterIP/NodePort")
    selector = spec.get("selector") or {}
    if not selector:
        return "no selector: its endpoints are managed by hand"
    if scene.endpointslices is None:
        return "cannot tell its endpoints: EndpointSlices could not be read"
    slices = [s for s in scene.endpointslices if (meta(s).get("labels") or {}).get("kubernetes.io/service-name") == name]
    ready = sum(1 for s in slices for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready") is not False)
    if ready:
        return f"{ready} ready endpoint{'s' if ready > 1 else ''}"
    if not slices:
        down = scene.controller_manager_down()
        if down:
            return Diagnosis(verdict="control-plane", message=f"{down}, so {what} got no EndpointSlice", remediation=_KCM_FIX)
    matching = [p for p in scene.pods or () if _selects(selector, meta(p).get("labels"))]
    behind = [o for o in scene.resources if o.resource.kind in _POD_KINDS and _selects(selector, o.resource.template_labels)]
    pointer = ", ".join(finding_id(o, scene.namespace) for o in behind)
    if matching or behind:
        count = (f"{len(matching)} pod{'s' if len(matching) != 1 else ''} match{'es' if len(matching) == 1 else ''} its selector and "
                 "none is ready") if matching else "the pods it selects do not exist"
        return Diagnosis(verdict="waiting", message=f"no ready endpoints: {count}" + (f" (see {pointer})" if pointer else ""),
                         evidence={"follows": [finding_id(o, scene.namespace) for o in behind]})
    return Diagnosis(verdict="app", message=f"it selects {dict(selector)}, which matches no pod and no workload of this release: "
                     "a label typo?", remediation="make the Service's selector match the pod template's labels")


def _claim(obj: KubeObject, scene: Scene, live: LiveObject) -> Diagnosis | str | None:
    name = str(meta(obj).get("name"))
    what = "the claim"
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Bound":
        return "bound"
    if phase == "Lost":
        return Diagnosis(verdict="storage", message="it lost its PersistentVolume", remediation="restore the volume, or recreate the claim")
    said = scene.events_for("PersistentVolumeClaim", name)
    reason, message = (str(said[0].get("reason") or ""), _flat(said[0].get("message"))) if said else ("", "")
    if reason == "WaitForFirstConsumer":
        return Diagnosis(verdict="waiting", message=f"it waits for a pod that uses it to be scheduled ({message})")
    if reason in ("FailedBinding", "ProvisioningFailed", "ExternalProvisioning"):
        # persistentvolume controller (pkg/controller/volume/persistentvolume/pv_controller.go) events
        return Diagnosis(verdict="storage", message=f"Pending: {message}", evidence={"reason": reason},
                         remediation="create a StorageClass (or mark one default) or a matching PersistentVolume, "
                         "or set the chart's storageClassName to one that exists (kubectl get storageclass)")
    down = scene.controller_manager_down()
    if down:
        return Diagnosis(verdict="control-plane", message=f"{down}, so nothing binds {what}", remediation=_KCM_FIX)
    return Diagnosis(verdict="waiting", message="Pending" + (f": {message}" if message else ""))


def _crd(obj: KubeObject, scene: Scene, live: LiveObject) -> Diagnosis | str | None:
    if _true(obj, "Established") is not None:
        return "established"
    cond = _conditions(obj).get("NamesAccepted") or {}
    if cond.get("status") == "False":
        return Diagnosis(verdict="app", message=f"its names are not accepted: {_flat(cond.get('message'))}")
    return Diagnosis(verdict="waiting", message="not established yet")


ANALYZERS: Mapping[str, Analyzer] = {
    "Deployment": _deployment,
    "StatefulSet": _replicated("StatefulSet", "readyReplicas"),
    "ReplicaSet": _replicated("ReplicaSet", "readyReplicas"),
    "DaemonSet": _daemonset,
    "Job": _job,
    "Pod": _pod,
    "Service": _service,
    "PersistentVolumeClaim": _claim,
    "CustomResourceDefinition": _crd,
}


def _absent(live: LiveObject, facts: ReleaseFacts) -> tuple[Outcome, str, str]:
    """An object the release names that the server does not have."""
    res, record = live.resource, facts.record
    if res.hook:
        if res.hook_phase == "Succeeded":
            return Outcome.PASS, f"ran and succeeded ({', '.join(res.hook)} hook); deleted by its hook-delete-policy", ""
        if res.hook_phase == "Failed":
            return (Outcome.FAIL, f"failed ({', '.join(res.hook)} hook) and was deleted by its hook-delete-policy, so its pods and logs "
                    "are gone", "add helm.sh/hook-output-log-policy: hook-failed (helm 3.18+) to see its log, or keep it while debugging")
        if res.hook_phase == "Running":
            return Outcome.SKIP, f"was running ({', '.join(res.hook)} hook) when helm stopped, and is gone now", ""
        return Outcome.SKIP, "not run: helm stopped before this hook", ""
    failed_hook = next((r for r in record.resources if r.hook_phase in ("Failed", "Running") and any(e.startswith("pre-") for e in r.hook)), None)
    if failed_hook is not None:
        state = "failed" if failed_hook.hook_phase == "Failed" else "was still running"
        return Outcome.SKIP, f"not created: helm stopped at the {failed_hook.describe()} hook, which {state}", ""
    if record.status in ("pending-install", "pending-upgrade", "pending-rollback"):
        return Outcome.SKIP, f"not created (yet): the release is {record.status}", ""
    return (Outcome.FAIL, f"does not exist, although revision {record.revision} ({record.status}) has it: deleted since, "
            "or helm failed before creating it", f"helm upgrade again, or read: {record.description}")


def _finding(live: LiveObject, facts: ReleaseFacts, scene: Scene) -> tuple[Finding, Diagnosis | None]:
    res = live.resource
    fid = finding_id(live, facts.record.namespace)
    hook = f" ({', '.join(res.hook)} hook)" if res.hook else ""
    title = f"{res.describe()}{hook}"
    evidence: dict[str, Any] = {"kind": res.kind, "api_version": res.api_version, "name": res.name, "namespace": live.namespace}
    if res.hook:
        evidence |= {"hook": list(res.hook), "hook_phase": res.hook_phase or None}
    if not live.served:
        return Finding(id=fid, outcome=Outcome.FAIL, evidence=evidence | {"verdict": "app"},
                       message=f"{title}: the server does not serve {res.api_version} {res.kind} (a removed API version or a missing CRD)",
                       remediation="move the chart to a served apiVersion (kubectl api-resources), or install the CRD"), None
    if live.note:
        return Finding(id=fid, outcome=Outcome.SKIP, evidence=evidence, message=f"{title}: not looked at: {live.note}"), None
    if live.obj is None:
        outcome, message, fix = _absent(live, facts)
        verdict = {"PASS": "ready", "SKIP": "not-created"}.get(outcome.name, "missing")
        return Finding(id=fid, outcome=outcome, message=f"{title}: {message}", remediation=fix, evidence=evidence | {"verdict": verdict}), None
    analyze = ANALYZERS.get(res.kind)
    if analyze is None:
        return Finding(id=fid, outcome=Outcome.PASS, evidence=evidence | {"verdict": "ready"}, message=f"{title}: exists"), None
    result = analyze(live.obj, scene, live)
    if result is None or isinstance(result, str):
        note = f": {result}" if result else ""
        return Finding(id=fid, outcome=Outcome.PASS, evidence=evidence | {"verdict": "ready"}, message=f"{title}: ready{note}"), None
    outcome = Outcome.WARN if result.verdict == "waiting" else Outcome.FAIL
    return Finding(id=fid, outcome=outcome, message=f"{title}: {result.text()}", remediation=result.remediation,
                   evidence=evidence | {"verdict": result.verdict, **result.evidence}), result


def _nodes_finding(scene: Scene, diagnoses: list[Diagnosis], runs_pods: bool) -> Finding:
    fid = "cluster.nodes"
    if scene.nodes is None:
        return Finding(id=fid, outcome=Outcome.SKIP, message="could not list nodes (not allowed, or it failed): node health not judged")
    total, ready = len(scene.nodes), scene.ready_nodes() or 0
    evidence = {"nodes": total, "ready": ready}
    placed = any(d.verdict == "nodes" for d in diagnoses)
    if total == 0:
        if placed:
            return Finding(id=fid, outcome=Outcome.FAIL, evidence=evidence,
                           message="the cluster has no nodes: no kubelet has registered, so no pod of this release can ever run",
                           remediation="join worker nodes (kubeadm join), or start the kubelet on them")
        why = ("this release runs no pods, so it does not matter to it" if not runs_pods
               else "the pods of this release will have nowhere to run once what is reported below is fixed")
        return Finding(id=fid, outcome=Outcome.WARN, evidence=evidence, message=f"the cluster has no nodes: {why}",
                       remediation="join worker nodes (kubeadm join)" if runs_pods else "")
    if ready == 0:
        return Finding(id=fid, outcome=Outcome.FAIL if placed or runs_pods else Outcome.WARN, evidence=evidence,
                       message=f"none of the {total} nodes is ready: their kubelets are not reporting", remediation=NODES_FIX)
    return Finding(id=fid, outcome=Outcome.PASS, evidence=evidence, message=f"{ready} of {total} nodes ready")


def _status_finding(facts: ReleaseFacts, not_ready: int, policy: Policy) -> Finding:
    rec = facts.record
    evidence = {"release": rec.name, "namespace": rec.namespace, "revision": rec.revision, "status": rec.status,
                "description": rec.description, "chart": rec.chart, "not_ready": not_ready}
    head = f"release {rec.name} revision {rec.revision} ({rec.chart or 'chart unknown'}) is {rec.status}"
    if rec.status == "deployed":
        extra = f", but {not_ready} of its objects are not ready (see above)" if not_ready else " and every object is ready"
        return Finding(id="release.status", outcome=Outcome.PASS if not not_ready else Outcome.WARN, evidence=evidence, message=head + extra)
    timed_out = any(s in rec.description for s in ("context deadline exceeded", "timed out waiting for the condition"))
    said = f": helm said {rec.description!r}" if rec.description else ""
    if rec.status == "failed":
        why = ("; helm --wait timed out" + (" waiting for what is reported above" if not_ready else
                                            ", but every object is ready now: the deploy took longer than --timeout")) if timed_out else ""
        return Finding(id="release.status", outcome=Outcome.FAIL, evidence=evidence, message=head + said + why,
                       remediation="fix the first failure above, then deploy again (helm upgrade --install)")
    if rec.status.startswith("pending-"):
        now = facts.server_time or policy.now
        since = f" since {format_age(now - rec.last_deployed)} ago" if rec.last_deployed else ""
        return Finding(id="release.status", outcome=Outcome.FAIL, evidence=evidence,
                       message=f"{head}{since}: helm is still running, or was killed before it could record the outcome",
                       remediation="if no deploy is running: helm rollback (see preflight check --release) or helm uninstall, then deploy again")
    return Finding(id="release.status", outcome=Outcome.WARN, evidence=evidence, message=head + said)


Listed = tuple[KubeObject, ...] | FactError  # a LIST; a FactError when we may not (or could not) read it


def _tuple(value: Listed) -> tuple[KubeObject, ...] | None:
    return None if isinstance(value, FactError) else tuple(value)


def explain_release(policy: Policy, release: ReleaseFacts, pods: Listed, replicasets: Listed, endpointslices: Listed,
                    events: Listed, nodes: Listed, leases: Leases | FactError) -> list[Finding]:
    """``cluster.nodes``, one finding per object of the release, then ``release.status``."""
    scene = Scene(now=release.server_time or policy.now, namespace=release.record.namespace, pods=_tuple(pods),
                  replicasets=_tuple(replicasets), endpointslices=_tuple(endpointslices), events=_tuple(events),
                  nodes=_tuple(nodes), leases=None if isinstance(leases, FactError) else leases, resources=release.objects)
    findings, diagnoses = [], []
    for live in release.objects:
        finding, diagnosis = _finding(live, release, scene)
        findings.append(finding)
        if diagnosis is not None:
            diagnoses.append(diagnosis)
    runs_pods = any(o.resource.kind in _POD_KINDS for o in release.objects)
    not_ready = sum(1 for f in findings if f.outcome in (Outcome.FAIL, Outcome.WARN))
    return [_nodes_finding(scene, diagnoses, runs_pods), *findings, _status_finding(release, not_ready, policy)]

