"""The admission simulation (admission.*) against the real control plane: real PodSecurity
labels, ResourceQuotas, LimitRanges, webhook configurations and pre-existing objects, each
caught with the server's own words; a clean chart READY; nothing created or changed.

Each test uses its own namespace (deleted afterwards). The harness has no kubelet, so capacity
runs on Node objects made through the API: allocatable and a Ready condition are written to
their status subresource just before the run (the node lifecycle controller would only mark
them NotReady after its grace period), and they carry a test taint that only these tests'
pods tolerate, so nothing else is ever scheduled there.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube_client._http import KubeClient

pytestmark = pytest.mark.cluster

CHARTS = Path(__file__).resolve().parent / "charts"
TAINT = {"key": "preflight-test/fake-node", "value": "true", "effect": "NoSchedule"}
TOLERATE = [{"key": TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}]
RESTRICTED_CONTAINER = {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False,
                                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}
KINDS = ("configmaps", "secrets", "serviceaccounts", "services", "pods", "persistentvolumeclaims", "deployments.apps",
         "replicasets.apps", "jobs.batch", "resourcequotas", "limitranges")


@contextlib.contextmanager
def namespace(cp: Any, prefix: str, **labels: str) -> Iterator[str]:
    name = f"{prefix}-{secrets.token_hex(3)}"
    doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    cp.kubectl("apply", "-f", "-", input=json.dumps(doc))
    # kube-controller-manager gives every namespace its "default" ServiceAccount: pods need it
    cp.wait_for(lambda: cp.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0, 60,
                f"the default ServiceAccount of {name}")
    try:
        yield name
    finally:
        cp.kubectl("delete", "namespace", name, "--wait=false", check=False)


@contextlib.contextmanager
def fake_node(cp: Any, *, cpu: str = "2", memory: str = "4Gi", taint: bool = True) -> Iterator[str]:
    """A Node object, Ready, with allocatable; tainted unless asked (then only for a test that
    creates no pods, so the scheduler never puts one there)."""
    name = f"preflight-fake-{secrets.token_hex(3)}"
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": name, "labels": {"kubernetes.io/hostname": name}}, "spec": {"taints": [TAINT] if taint else []}}))
    try:
        mark_ready(cp, name, cpu=cpu, memory=memory)
        # the NodeTaint admission plugin taints a new Node not-ready; the node lifecycle controller
        # lifts it once it sees the Ready condition
        cp.wait_for(lambda: "node.kubernetes.io/" not in cp.kubectl("get", "node", name, "-o", "jsonpath={.spec.taints}").stdout,
                    60, f"the not-ready taint to leave {name}")
        yield name
    finally:
        cp.kubectl("delete", "node", name, "--wait=false", check=False)


def mark_ready(cp: Any, name: str, *, cpu: str, memory: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    resources = {"cpu": cpu, "memory": memory, "pods": "110"}
    status = {"status": {"capacity": resources, "allocatable": resources, "conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test node", "lastHeartbeatTime": now,
         "lastTransitionTime": now}]}}
    cp.kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))


def write(tmp_path: Path, *docs: dict[str, Any]) -> str:
    path = tmp_path / f"manifests-{secrets.token_hex(2)}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def deployment(name: str, *, containers: list[dict[str, Any]] | None = None, selector: str | None = None,
               **pod: Any) -> dict[str, Any]:
    labels = {"app": selector or name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "tolerations": TOLERATE,
                         "containers": containers or [{"name": "c", "image": "registry.k8s.io/pause:3.10"}], **pod}}}}


def names_in(cp: Any, ns: str) -> dict[str, list[str]]:
    out = json.loads(cp.kubectl("get", ",".join(KINDS), "-n", ns, "-o", "json").stdout)
    return {"items": sorted(f"{i['kind']}/{i['metadata']['name']}@{i['metadata']['resourceVersion']}" for i in out["items"])}


@pytest.fixture
def requests_made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every request preflight's KubeClient sends in this test: (method, url)."""
    log: list[tuple[str, str]] = []
    original = KubeClient._once

    def recording(self: KubeClient, method: str, url: str, *args: Any, **kw: Any) -> Any:
        log.append((method, url))
        return original(self, method, url, *args, **kw)

    monkeypatch.setattr(KubeClient, "_once", recording)
    return log


def run(preflight: Any, cp: Any, ns: str, manifests: str, *extra: str) -> tuple[int, dict[str, Any]]:
    code, findings, err = preflight("check", "--kubeconfig", str(cp.admin_kubeconfig), "-n", ns, "--manifests", manifests,
                                    "--release", "web", *extra)
    assert "Traceback" not in err
    return code, findings


def outcomes(findings: dict[str, Any]) -> dict[str, str]:
    return {i: f["outcome"] for i, f in findings.items() if i.startswith("admission.")}


def clean_chart(ns: str) -> list[dict[str, Any]]:
    container = {"name": "c", "image": "registry.k8s.io/pause:3.10", **RESTRICTED_CONTAINER,
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}},
                 "envFrom": [{"configMapRef": {"name": "app-config"}}]}
    hook = {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app-hook", "annotations": hook}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"}, "data": {"A": "1"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-pull"}, "type": "kubernetes.io/dockerconfigjson",
         "stringData": {".dockerconfigjson": "{\"auths\": {}}"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app"}, "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "app-data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "resources": {"requests": {"storage": "1Gi"}}}},
        deployment("app", containers=[container], serviceAccountName="app", imagePullSecrets=[{"name": "app-pull"}],
                   volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "app-data"}}]),
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "app-migrate", "annotations": {
            "helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "0"}},
         "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "serviceAccountName": "app-hook",
                                                            "tolerations": TOLERATE, "containers": [{**container, "envFrom": []}]}}}},
    ]


def test_a_clean_chart_is_ready_and_the_run_creates_and_changes_nothing(
        cluster: Any, preflight: Any, tmp_path: Path, requests_made: list[tuple[str, str]]) -> None:
    with namespace(cluster, "adm-clean", **{"pod-security.kubernetes.io/enforce": "restricted"}) as ns, fake_node(cluster):
        cluster.kubectl("create", "quota", "q", "-n", ns, "--hard=requests.cpu=2,limits.cpu=2,requests.memory=1Gi,limits.memory=1Gi")
        before = names_in(cluster, ns)
        code, findings = run(preflight, cluster, ns, write(tmp_path, *clean_chart(ns)))
        after = names_in(cluster, ns)
    assert code == 0, {i: f["message"] for i, f in findings.items() if f["outcome"] != "pass"}
    assert outcomes(findings) == dict.fromkeys(
        ["admission.webhooks", "admission.ownership", "admission.dry-run", "admission.references", "admission.pods",
         "admission.capacity"], "pass")
    assert findings["admission.dry-run"]["message"].startswith("8 object(s) admitted as helm 3 (create, or patch when it exists) sends them")
    # the chart's own ServiceAccount does not exist yet: its Pods were judged as the default account's
    assert findings["admission.pods"]["evidence"]["sent_as_default_account"] == {"Deployment/app": "app", "Job/app-migrate": "app-hook"}
    assert before == after  # same objects, same resourceVersions
    changing = [(m, u) for m, u in requests_made if m != "GET"]
    reviews = ("/selfsubjectaccessreviews", "/selfsubjectrulesreviews", "/selfsubjectreviews")
    assert changing and all("dryRun=All" in u or u.split("?")[0].endswith(reviews) for m, u in changing), changing
    assert sum("dryRun=All" in u for _, u in changing) == 8 + 2  # every object, and the Pods of both templates


def test_podsecurity_refuses_the_pods_of_an_admitted_deployment(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    privileged = [{"name": "c", "image": "registry.k8s.io/pause:3.10", "securityContext": {"privileged": True}}]
    with namespace(cluster, "adm-psa", **{"pod-security.kubernetes.io/enforce": "restricted"}) as ns, fake_node(cluster):
        code, findings = run(preflight, cluster, ns, write(tmp_path, deployment("web", containers=privileged)))
    assert code == 1
    assert findings["admission.dry-run"]["outcome"] == "pass"  # the Deployment itself is admitted...
    pods = findings["admission.pods"]
    assert pods["outcome"] == "fail"  # ...and every Pod it makes is not
    assert pods["message"].startswith('the Pods of Deployment/web: pods "web-preflight-deployment" is forbidden: violates PodSecurity '
                                      '"restricted:latest": privileged (container "c" must not set securityContext.privileged=true)')
    assert "helm --wait times out" in pods["message"] and "PodSecurity level" in pods["remediation"]


def test_quota_and_limitrange_refusals_name_the_object_and_the_servers_reason(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    no_limits = [{"name": "c", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": "100m"}}}]
    too_big = [{"name": "c", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": "900m"}, "limits": {"cpu": "900m"}}}]
    greedy = [{"name": "c", "image": "registry.k8s.io/pause:3.10", "resources": {"limits": {"cpu": "100m", "memory": "2Gi"}}}]
    # max without default: the LimitRanger also defaults every container's memory limit to 1Gi
    limit_range = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
                   "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]}}
    with namespace(cluster, "adm-quota") as ns, fake_node(cluster):
        cluster.kubectl("create", "quota", "q1", "-n", ns, "--hard=requests.cpu=500m,limits.cpu=500m,count/configmaps=1")
        # kube-root-ca.crt, which kube-controller-manager puts in every namespace, uses up the one ConfigMap
        cluster.wait_for(lambda: cluster.kubectl("get", "quota", "q1", "-n", ns, "-o", "jsonpath={.status.used.count/configmaps}",
                                                 check=False).stdout == "1", 60, "quota q1 counting kube-root-ca.crt")
        cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(limit_range))
        code, findings = run(preflight, cluster, ns, write(
            tmp_path, deployment("nolimits", containers=no_limits), deployment("big", containers=too_big),
            deployment("greedy", containers=greedy),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}))
    assert code == 1
    dry = " | ".join(p["message"] for p in findings["admission.dry-run"]["evidence"]["problems"])
    assert 'ConfigMap/settings: configmaps "settings" is forbidden: exceeded quota: q1, requested: count/configmaps=1, ' \
           "used: count/configmaps=1, limited: count/configmaps=1" in dry
    pods = " | ".join(p["message"] for p in findings["admission.pods"]["evidence"]["problems"])
    assert "the Pods of Deployment/nolimits: pods \"nolimits-preflight-deployment\" is forbidden: failed quota: q1: must specify limits.cpu" in pods
    assert "the Pods of Deployment/big: pods \"big-preflight-deployment\" is forbidden: exceeded quota: q1, requested: " in pods
    assert ("the Pods of Deployment/greedy: pods \"greedy-preflight-deployment\" is forbidden: maximum memory usage per Container "
            "is 1Gi, but limit is 2Gi") in pods


def test_a_fail_closed_webhook_without_its_service_is_named_with_its_service(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    with namespace(cluster, "adm-wh") as ns, fake_node(cluster):
        config = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                  "metadata": {"name": f"preflight-test-{ns}"},
                  "webhooks": [{"name": "check.example.com", "failurePolicy": "Fail", "sideEffects": "None", "timeoutSeconds": 3,
                                "admissionReviewVersions": ["v1"],
                                "clientConfig": {"service": {"namespace": ns, "name": "nosvc", "path": "/validate"}},
                                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                                "rules": [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"],
                                           "operations": ["CREATE", "UPDATE"]}]}]}
        try:
            cluster.kubectl("apply", "-f", "-", input=json.dumps(config))
            code, findings = run(preflight, cluster, ns, write(
                tmp_path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}, deployment("web")))
        finally:
            cluster.kubectl("delete", "validatingwebhookconfiguration", config["metadata"]["name"], check=False)
    assert code == 1
    hooks = findings["admission.webhooks"]
    assert hooks["outcome"] == "fail"
    assert hooks["message"].startswith(f"ValidatingWebhookConfiguration preflight-test-{ns}: webhook 'check.example.com' is fail-closed "
                                       f"(failurePolicy: Fail) and its service {ns}/nosvc does not exist; it intercepts ConfigMap/settings, "
                                       "Deployment/web, the Pods of Deployment/web")
    dry = findings["admission.dry-run"]
    assert dry["outcome"] == "fail"
    assert f'ConfigMap/settings: Internal error occurred: failed calling webhook "check.example.com": failed to call webhook: ' \
           f'Post "https://nosvc.{ns}.svc:443/validate?timeout=3s": service "nosvc" not found' in dry["message"]


@pytest.mark.parametrize("major", [3, 4])
def test_a_changed_selector_is_an_immutable_field_for_helm_3_and_a_conflict_first_for_helm_4(
        cluster: Any, preflight: Any, tmp_path: Path, major: int) -> None:
    with namespace(cluster, "adm-immutable") as ns, fake_node(cluster):
        old = deployment("web")
        old["metadata"] |= {"labels": {"app.kubernetes.io/managed-by": "Helm"},
                            "annotations": {"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": ns}}
        cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(old))
        code, findings = run(preflight, cluster, ns, write(tmp_path, deployment("web", selector="web-v2")), "--helm-major", str(major))
    assert code == 1 and findings["admission.ownership"]["outcome"] == "pass"
    dry = findings["admission.dry-run"]
    assert dry["outcome"] == "fail"
    if major == 3:
        assert dry["message"].startswith('Deployment/web: Deployment.apps "web" is invalid: spec.selector: Invalid value: ')
        assert "field is immutable" in dry["message"] and "immutable field" in dry["remediation"]
        assert dry["evidence"]["sent"] == {"patch": 1}
    else:
        assert dry["message"].startswith("Deployment/web: Apply failed with ") and "conflict" in dry["message"]
        assert dry["evidence"]["sent"] == {"apply": 1} and "--force-conflicts" in dry["remediation"]


def test_an_existing_object_no_release_owns_fails_with_helms_words(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    with namespace(cluster, "adm-owner") as ns, fake_node(cluster):
        cluster.kubectl("create", "configmap", "settings", "-n", ns)
        code, findings = run(preflight, cluster, ns, write(tmp_path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}))
    assert code == 1
    assert findings["admission.ownership"]["message"] == (
        f'ConfigMap/settings: ConfigMap "settings" in namespace "{ns}" exists and cannot be imported into the current release: '
        'invalid ownership metadata; label validation error: missing key "app.kubernetes.io/managed-by": must be set to "Helm"; '
        'annotation validation error: missing key "meta.helm.sh/release-name": must be set to "web"; '
        f'annotation validation error: missing key "meta.helm.sh/release-namespace": must be set to "{ns}"')


def test_missing_references_and_a_hook_whose_account_comes_too_late(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "annotations": {"helm.sh/hook": "pre-install"}},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "serviceAccountName": "app", "tolerations": TOLERATE,
                                          "containers": [{"name": "m", "image": "registry.k8s.io/pause:3.10"}]}}}}
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "no-such-class", "resources": {"requests": {"storage": "1Gi"}}}}
    with namespace(cluster, "adm-refs") as ns, fake_node(cluster):
        code, findings = run(preflight, cluster, ns, write(
            tmp_path, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app"}}, job, claim,
            deployment("web", imagePullSecrets=[{"name": "regcred"}])))
    assert code == 1
    found = [p["message"] for p in findings["admission.references"]["evidence"]["problems"]]
    assert ("Job/migrate (pre-install hook) uses ServiceAccount app (its ServiceAccount), which does not exist yet and the chart "
            "creates as a normal resource, only after the pre-* hooks: admission refuses its Pods and helm waits until its timeout") in found
    assert (f"Deployment/web uses Secret regcred (imagePullSecrets), which does not exist in {ns} and the chart does not create: its "
            "Pods cannot start (ContainerCreating, or ErrImagePull for a private image)") in found
    assert "PersistentVolumeClaim/data uses storageClassName no-such-class, which does not exist: the claim stays Pending" in found


def test_capacity_names_the_short_resource_on_real_node_objects(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    hungry = [{"name": "c", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}]
    with namespace(cluster, "adm-cap") as ns, fake_node(cluster, cpu="2") as node:
        code, findings = run(preflight, cluster, ns, write(tmp_path, deployment("web", containers=hungry),
                                                            deployment("picky", nodeSelector={"disk": "ssd"})))
    cap = findings["admission.capacity"]
    assert code == 1 and cap["outcome"] == "fail"
    found = [p["message"] for p in cap["evidence"]["problems"]]
    assert any(m.startswith(f"Deployment/web: each Pod requests cpu 3, memory 1Gi, more than any eligible node can hold (cpu: {node} "
                            "has 2 allocatable)") for m in found), found
    assert any(m.startswith("Deployment/picky: no node can run its Pods") and f"{node}: nodeSelector disk=ssd does not match" in m
               for m in found), found


@pytest.mark.parametrize("major", [3, 4])
def test_check_chart_simulates_the_rendered_chart_with_helm_3_and_4(
        cluster: Any, preflight: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, major: int) -> None:
    monkeypatch.setenv("HELM_BIN", str(cluster.helm_binary(major)))
    for kind in ("CACHE", "CONFIG", "DATA"):
        monkeypatch.setenv(f"HELM_{kind}_HOME", str(tmp_path / "helm" / kind.lower()))
    with namespace(cluster, "adm-chart", **{"pod-security.kubernetes.io/enforce": "restricted"}) as ns, fake_node(cluster):
        code, findings, err = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "-n", ns, "--chart",
                                        str(CHARTS / "web"), "--release", "web")
    assert code == 1, err
    # ConfigMap, Service, Deployment, and the PodDisruptionBudget and NetworkPolicy the live Capabilities render
    assert findings["admission.dry-run"]["evidence"]["sent"] == ({"create": 5} if major == 3 else {"apply": 5})
    assert findings["admission.pods"]["message"].startswith('the Pods of Deployment/web-web: pods "web-web-preflight-deployment" is '
                                                            'forbidden: violates PodSecurity "restricted:latest"')
