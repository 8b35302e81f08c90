"""``preflight explain`` after real failed deploys: the real helm (3 and 4) installs
tests/cluster/charts/web into the real control plane, broken by the harness's fault knobs.

These control planes run no kubelet and register no node (tests/controlplane/cluster.py), so no pod
ever runs here. That is the normal situation these tests start from: on a healthy control
plane a release with pods is "no node can take it" (cluster.nodes is the root cause), and
with a component stopped the control plane is blamed before the missing nodes. Failures that
need a kubelet (image pulls, crash loops, readiness probes) run on real pods in tests/cluster/test_node.py
(`up --node`), and the rest in
tests/unit/test_checks_release.py on kubelet-shaped facts. The app's own faults that show
without a node are tested here: pods refused at admission, a hook Job that fails.

Synchronisation is helm itself: each test waits for ``helm install --wait --timeout`` to give
up (or for a hook to fail), never for a fixed time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.cluster

WEB = Path(__file__).resolve().parent / "charts" / "web"
STALLABLE = Path(__file__).resolve().parents[1] / "controlplane" / "charts" / "stallable"


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of its own per test, on whichever control plane the test uses."""
    cp = request.getfixturevalue("breakable" if "breakable" in request.fixturenames else "cluster")
    name = "ex-" + request.node.name.split("[")[0].removeprefix("test_")[:20].rstrip("_").replace("_", "-") + (
        f"-{request.node.callspec.id}" if hasattr(request.node, "callspec") else "")
    cp.kubectl("create", "namespace", name)
    yield name
    cp.kubectl("delete", "namespace", name, "--wait=false", check=False)  # finishes once kube-controller-manager runs


def failed_install(cp: Any, release: str, namespace: str, *values: str, timeout: str = "20s", major: int = 3,
                   env: dict[str, str] | None = None, chart: Path = WEB) -> str:
    argv = ["install", release, str(chart), "-n", namespace, "--wait", "--timeout", timeout]
    for value in values:
        argv += ["--set", value]
    if env is None:
        result = cp.helm(*argv, check=False, major=major)
    else:
        import subprocess

        result = subprocess.run([str(cp.helm_binary(major)), f"--kubeconfig={cp.admin_kubeconfig}", *argv], capture_output=True,
                                text=True, timeout=300, env=cp.helm_env() | env, stdin=subprocess.DEVNULL)
    assert result.returncode != 0, f"helm install {release} was expected to fail: {result.stdout}"
    return str(result.stderr)


def explain(preflight: Any, cp: Any, release: str, namespace: str) -> tuple[int, dict[str, Any], str]:
    code, findings, err = preflight("explain", "--kubeconfig", str(cp.admin_kubeconfig), "--release", release, "-n", namespace)
    return code, findings, err


def root_cause(findings: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in findings.values() if f["outcome"] in ("fail", "error"))


@pytest.mark.parametrize("major", [3, 4])
def test_a_healthy_release_is_ready(cluster: Any, preflight: Any, namespace: str, major: int) -> None:
    cluster.helm("install", "calm", str(STALLABLE), "-n", namespace, "--wait", "--timeout", "60s", major=major)
    code, findings, err = explain(preflight, cluster, "calm", namespace)
    assert code == 0, {i: f["message"] for i, f in findings.items()}
    assert findings["release.configmap.calm-stallable"]["outcome"] == "pass"
    assert findings["release.status"]["outcome"] == "pass" and "revision 1 (stallable-0.1.0) is deployed" in findings["release.status"]["message"]
    assert findings["cluster.nodes"]["outcome"] == "warn"  # no nodes, and this release runs no pods
    assert "explaining release calm on context 'kubernetes-admin@kubernetes'" in err


def test_stopped_controller_manager_times_out_helm_and_the_control_plane_is_blamed(breakable: Any, preflight: Any, namespace: str) -> None:
    breakable.stop("kube-controller-manager")
    said = failed_install(breakable, "web", namespace, "persistence=true", timeout="30s")
    assert "context deadline exceeded" in said
    code, findings, _ = explain(preflight, breakable, "web", namespace)
    assert code == 1
    dep = findings["release.deployment.web-web"]
    assert dep["outcome"] == "fail" and dep["evidence"]["verdict"] == "control-plane"
    assert "the control plane is broken: kube-controller-manager is not running controllers" in dep["message"]
    assert "so the Deployment got no ReplicaSet" in dep["message"]
    pvc = findings["release.persistentvolumeclaim.web-data"]
    assert pvc["evidence"]["verdict"] == "control-plane" and "nothing binds the claim" in pvc["message"]
    assert findings["release.service.web-web"]["evidence"]["verdict"] == "control-plane"
    assert findings["cluster.nodes"]["outcome"] == "warn"  # not what stopped this deploy
    assert "kube-controller-manager" in root_cause(findings)["message"]
    assert "helm --wait timed out" in findings["release.status"]["message"]


def test_stopped_scheduler_leaves_pods_pending_and_names_the_scheduler(breakable: Any, preflight: Any, namespace: str) -> None:
    breakable.stop("kube-scheduler")
    failed_install(breakable, "web", namespace, timeout="30s")
    code, findings, _ = explain(preflight, breakable, "web", namespace)
    dep = findings["release.deployment.web-web"]
    assert code == 1 and dep["evidence"]["verdict"] == "control-plane"
    assert "0/1 pods ready: the control plane is broken: the scheduler is not running: kube-scheduler released its leader lease" in dep["message"]
    assert "no scheduler has looked at it" in dep["message"]
    pod = breakable.kubectl("get", "pods", "-n", namespace, "-o", "jsonpath={.items[0].status.conditions}").stdout
    assert "PodScheduled" not in pod  # what the diagnosis rests on, as the real scheduler left it
    assert "kube-scheduler" in root_cause(findings)["message"]


def test_without_nodes_no_node_can_take_the_pods_and_nothing_can_bind_the_claim(cluster: Any, preflight: Any, namespace: str) -> None:
    failed_install(cluster, "web", namespace, "persistence=true", timeout="15s")
    code, findings, _ = explain(preflight, cluster, "web", namespace)
    assert code == 1
    assert root_cause(findings)["id"] == "cluster.nodes" and "the cluster has no nodes" in findings["cluster.nodes"]["message"]
    dep = findings["release.deployment.web-web"]
    assert dep["evidence"]["verdict"] == "nodes"
    assert "0/1 pods ready: no node can take it: pod web-web-" in dep["message"] and "no nodes available to schedule pods" in dep["message"]
    pvc = findings["release.persistentvolumeclaim.web-data"]
    assert pvc["evidence"]["verdict"] == "storage" and "no storage class is set" in pvc["message"]
    svc = findings["release.service.web-web"]
    assert svc["outcome"] == "warn" and "see release.deployment.web-web" in svc["message"]


def test_pods_refused_at_admission_are_the_apps_fault(cluster: Any, preflight: Any, namespace: str) -> None:
    failed_install(cluster, "web", namespace, "serviceAccountName=nope", timeout="15s")
    code, findings, _ = explain(preflight, cluster, "web", namespace)
    dep = findings["release.deployment.web-web"]
    assert code == 1 and root_cause(findings)["id"] == "release.deployment.web-web"
    assert dep["evidence"]["verdict"] == "app" and "the app is broken" in dep["message"]
    assert f'error looking up service account {namespace}/nope: serviceaccount "nope" not found' in dep["message"]
    assert findings["cluster.nodes"]["outcome"] == "warn"


@pytest.mark.parametrize("major", [3, 4])
def test_a_failed_pre_install_hook_is_explained_and_nothing_after_it_was_created(cluster: Any, preflight: Any, namespace: str,
                                                                                major: int) -> None:
    said = failed_install(cluster, "web", namespace, "hook=true", "hookDeadlineSeconds=3", timeout="60s", major=major)
    assert "pre-install" in said
    code, findings, _ = explain(preflight, cluster, "web", namespace)
    job = findings["release.job.web-migrate"]
    assert code == 1 and job["outcome"] == "fail" and job["evidence"]["hook"] == ["pre-install", "pre-upgrade"]
    assert "failed (DeadlineExceeded" in job["message"] and "never got a node: no nodes available to schedule pods" in job["message"]
    assert findings["release.deployment.web-web"]["outcome"] == "skip"
    assert "helm stopped at the Job web-migrate hook, which failed" in findings["release.deployment.web-web"]["message"]
    order = list(findings)
    assert order.index("cluster.nodes") < order.index("release.job.web-migrate") < order.index("release.deployment.web-web") < order.index(
        "release.status")


def test_configmap_storage_is_read_with_helm_driver_configmap(cluster: Any, preflight: Any, namespace: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    failed_install(cluster, "web", namespace, "serviceAccountName=nope", timeout="10s", env={"HELM_DRIVER": "configmap"})
    code, _, err = explain(preflight, cluster, "web", namespace)
    assert code == 2 and "no release 'web'" in err  # no Secret: helm wrote a ConfigMap
    monkeypatch.setenv("HELM_DRIVER", "configmap")
    code, findings, _ = explain(preflight, cluster, "web", namespace)
    assert code == 1 and findings["release.deployment.web-web"]["evidence"]["verdict"] == "app"


def test_a_missing_release_or_namespace_is_one_line_exit_2(cluster: Any, preflight: Any, namespace: str) -> None:
    code, findings, err = explain(preflight, cluster, "ghost", namespace)
    assert code == 2 and findings == {} and f"no release 'ghost' in namespace {namespace}" in err and "helm list" in err
    code, findings, err = explain(preflight, cluster, "ghost", "no-such-namespace")
    assert code == 2 and "namespace 'no-such-namespace' does not exist" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2  # the progress line and the error
