"""The node tier: a control plane with a real node (`up --node`: containerd, runc, bridge CNI and
a kubelet built from the same wrapper module), and what only a kubelet shows.

One node per machine, so one module owns it: `node_cp` snapshots the host, starts the control
plane with its node, and the tests run in file order on it; the last one takes it down and
proves the host is left as found. The explain tests install tests/cluster/charts/app (busybox
httpd, images imported without a registry, `imagePullPolicy: Never`) with the real helm and
break it the ways a release breaks after admission: an image that cannot be had, a crash loop,
a failing readiness probe, requests no node can hold, and a node whose kubelet stopped.

Synchronisation is helm's own `--wait --timeout` or a condition with a deadline (`wait_for`);
durations are printed for the record (node up, pod start), never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controlplane import ControlPlane
from tests.controlplane import node as real_node
from tests.controlplane.procs import processes_mentioning

pytestmark = [pytest.mark.cluster, pytest.mark.node,
              pytest.mark.skipif(os.geteuid() != 0, reason="up --node needs root (CI runs as root)")]
REPO = Path(__file__).resolve().parents[2]
APP = Path(__file__).resolve().parent / "charts" / "app"
HOST_BEFORE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def node_cp(bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    HOST_BEFORE.update(real_node.host_snapshot())
    cp = ControlPlane(tmp_path_factory.mktemp("node"), bin_dir)
    t0 = time.monotonic()
    cp.up(node=True)
    print(f"\nup --node: {time.monotonic() - t0:.1f}s in all, node Ready {cp.node_up_seconds:.1f}s after the control plane")
    yield cp
    cp.down()  # idempotent: the last test has already done it


@pytest.fixture
def ns(node_cp: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "node-" + request.node.name.removeprefix("test_")[:40].rstrip("_").replace("_", "-")
    node_cp.kubectl("create", "namespace", name)
    yield name
    node_cp.kubectl("delete", "namespace", name, "--wait=false", check=False)


def helm(cp: ControlPlane, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    return cp.helm(*args, check=check)


def deploy(cp: ControlPlane, verb: str, ns: str, *values: str, timeout: str = "60s") -> subprocess.CompletedProcess:
    argv = [verb, "app", str(APP), "-n", ns, "--wait", "--timeout", timeout]
    for value in values:
        argv += ["--set-string" if "requests" in value else "--set", value]
    return helm(cp, *argv)


def explain(preflight: Any, cp: ControlPlane, ns: str) -> tuple[int, dict[str, Any]]:
    code, findings, _ = preflight("explain", "--kubeconfig", str(cp.admin_kubeconfig), "--release", "app", "-n", ns)
    return code, findings


def root_cause(findings: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in findings.values() if f["outcome"] in ("fail", "error"))


def pods(cp: ControlPlane, ns: str) -> list[dict[str, Any]]:
    return list(json.loads(cp.kubectl("get", "pods", "-n", ns, "-o", "json").stdout)["items"])


def container_state(cp: ControlPlane, ns: str, key: str) -> dict[str, Any] | None:
    """The first container's state[key] (e.g. waiting) of the newest pod, when it has one."""
    found = sorted(pods(cp, ns), key=lambda p: p["metadata"]["creationTimestamp"])
    for status in (found[-1]["status"].get("containerStatuses") or []) if found else []:
        if status["state"].get(key):
            return dict(status["state"][key])
    return None


# --- the node itself ------------------------------------------------------------------------

def test_the_node_is_ready_and_runs_a_pod_from_an_imported_image(node_cp: ControlPlane, ns: str) -> None:
    node = json.loads(node_cp.kubectl("get", "node", real_node.NODE_NAME, "-o", "json").stdout)
    assert node["status"]["nodeInfo"]["kubeletVersion"] == node_cp.version
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://1.6")
    assert {"type": "InternalIP", "address": real_node.NODE_IP} in node["status"]["addresses"]
    t0 = time.monotonic()
    node_cp.kubectl("run", "hello", "-n", ns, f"--image={real_node.images.BUSYBOX}", "--image-pull-policy=Never",
                    "--restart=Never", "--", "-c", "echo hello from a real pod; sleep 3600")
    node_cp.kubectl("wait", "-n", ns, "--for=condition=Ready", "pod/hello", "--timeout=60s")
    print(f"\npod created -> Ready: {time.monotonic() - t0:.1f}s")
    # The apiserver reaches the kubelet on the bridge address: logs and exec work.
    assert "hello from a real pod" in node_cp.kubectl("logs", "-n", ns, "hello").stdout
    assert node_cp.kubectl("exec", "-n", ns, "hello", "--", "cat", "/etc/passwd").stdout.startswith("root:")


def test_a_running_pod_keeps_reaching_the_api_while_other_pods_go_away(node_cp: ControlPlane, ns: str) -> None:
    """The node's bridge keeps one MAC. Without one of its own it took the lowest MAC among its
    pods' veths, so when that pod went away a running pod's cached neighbour entry for the
    gateway pointed nowhere until it expired: CI once saw a hook pod's check get no answer from
    10.96.0.1:443 for 30 s while another pod's sandbox was torn down."""
    def run(name: str, *labels: str) -> None:
        node_cp.kubectl("run", name, "-n", ns, f"--image={real_node.images.BUSYBOX}", "--image-pull-policy=Never",
                        "--restart=Never", *labels, "--", "-c", "sleep 3600")

    def reaches_the_api() -> bool:  # a TCP connect to the `kubernetes` Service through the gateway
        argv = ("exec", "-n", ns, "steady", "--", "nc", "-w", "3", real_node.SERVICE_IP, "443", "-e", "true")
        return node_cp.kubectl(*argv, check=False).returncode == 0

    def gateway_mac_seen_by_the_pod() -> str:
        arp = node_cp.kubectl("exec", "-n", ns, "steady", "--", "cat", "/proc/net/arp").stdout.splitlines()[1:]
        return next(line.split()[3] for line in arp if line.split()[0] == real_node.NODE_IP)

    bridge_mac = Path(f"/sys/class/net/{real_node.BRIDGE}/address")
    # Pods whose veths are on the bridge when `steady` first talks to the gateway, so that
    # without a MAC of its own the bridge would likely be wearing one of theirs then.
    for i in range(4):
        run(f"passer-{i}", "--labels=role=passer")
    node_cp.kubectl("wait", "-n", ns, "--for=condition=Ready", "pod", "-l", "role=passer", "--timeout=60s")
    run("steady")
    node_cp.kubectl("wait", "-n", ns, "--for=condition=Ready", "pod/steady", "--timeout=60s")
    assert reaches_the_api()
    mac_then = bridge_mac.read_text().strip()
    assert gateway_mac_seen_by_the_pod() == mac_then
    # the kubelet tears a pod's sandbox (and its veth) down before the pod object goes
    node_cp.kubectl("delete", "pod", "-n", ns, "-l", "role=passer", "--grace-period=1", "--wait=true", "--timeout=60s")
    assert reaches_the_api()  # within the neighbour entry's life: the cached MAC is still right
    assert bridge_mac.read_text().strip() == mac_then
    assert gateway_mac_seen_by_the_pod() == mac_then
    # Whether the two checks above fail without the fix depends on the random order of the
    # veths' MACs (they did in 2 runs of 5). This one does not: 3 is NET_ADDR_SET, a MAC the
    # kernel keeps whatever ports come and go (1, random, for a bridge created without one).
    assert bridge_mac.with_name("addr_assign_type").read_text().strip() == "3"


def test_a_second_node_on_the_same_machine_is_refused(node_cp: ControlPlane, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tests.controlplane", "up", "--node", "--workdir", str(tmp_path / "cp2")],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"this machine already has a node, for the control plane in {node_cp.workdir}" in result.stderr
    assert not (tmp_path / "cp2" / "state.json").exists()  # refused before anything started


# --- explain on real pods -------------------------------------------------------------------

def test_a_healthy_release_runs_and_explain_says_ready(node_cp: ControlPlane, preflight: Any, ns: str) -> None:
    assert deploy(node_cp, "install", ns).returncode == 0
    assert [p["status"]["phase"] for p in pods(node_cp, ns)] == ["Running"]
    code, findings = explain(preflight, node_cp, ns)
    assert code == 0, {i: f["message"] for i, f in findings.items()}
    assert findings["cluster.nodes"]["outcome"] == "pass" and findings["cluster.nodes"]["message"] == "1 of 1 nodes ready"
    assert findings["release.deployment.app-app"]["outcome"] == "pass"
    code, checked, _ = preflight("check", "--kubeconfig", str(node_cp.admin_kubeconfig), "-n", ns)
    assert code == 0 and checked["cluster.nodes"]["outcome"] == "pass"
    assert checked["cluster.nodes"]["message"] == "1 of 1 nodes are Ready and schedulable"


def test_helm_upgrade_wait_on_a_missing_image_times_out_and_explain_names_the_image(node_cp: ControlPlane, preflight: Any,
                                                                                    ns: str) -> None:
    assert deploy(node_cp, "install", ns).returncode == 0
    result = deploy(node_cp, "upgrade", ns, "image=preflight.test/missing:1", timeout="15s")
    assert result.returncode != 0 and "context deadline exceeded" in result.stderr
    code, findings = explain(preflight, node_cp, ns)
    dep = findings["release.deployment.app-app"]
    assert code == 1 and root_cause(findings)["id"] == "release.deployment.app-app"
    assert dep["evidence"]["verdict"] == "app" and dep["evidence"]["reason"] == "ErrImageNeverPull"
    assert "the app is broken" in dep["message"] and "preflight.test/missing:1" in dep["message"]
    assert "helm --wait timed out" in findings["release.status"]["message"]


def test_a_crash_loop_is_explained_with_the_exit_code(node_cp: ControlPlane, preflight: Any, ns: str) -> None:
    assert deploy(node_cp, "install", ns, "mode=crash", "exitCode=7", timeout="10s").returncode != 0
    node_cp.wait_for(lambda: (container_state(node_cp, ns, "waiting") or {}).get("reason") == "CrashLoopBackOff", 60,
                     "the container to be in CrashLoopBackOff")
    code, findings = explain(preflight, node_cp, ns)
    dep = findings["release.deployment.app-app"]
    assert code == 1 and dep["evidence"]["verdict"] == "app" and dep["evidence"]["exit_code"] == 7
    assert "keeps crashing (CrashLoopBackOff" in dep["message"] and "last exit code 7 (Error)" in dep["message"]


def test_a_failing_readiness_probe_is_explained_with_the_kubelets_words(node_cp: ControlPlane, preflight: Any, ns: str) -> None:
    assert deploy(node_cp, "install", ns, "probePort=9999", timeout="10s").returncode != 0
    code, findings = explain(preflight, node_cp, ns)
    dep = findings["release.deployment.app-app"]
    assert code == 1 and dep["evidence"]["verdict"] == "app"
    assert "container app runs but is not ready: Readiness probe failed:" in dep["message"]
    assert ":9999/" in dep["message"] and "connection refused" in dep["message"]


def test_requests_no_node_can_hold_leave_the_pod_pending_on_insufficient_cpu_and_memory(node_cp: ControlPlane, preflight: Any,
                                                                                      ns: str) -> None:
    assert deploy(node_cp, "install", ns, "requests.cpu=64", "requests.memory=1Ti", timeout="10s").returncode != 0
    code, findings = explain(preflight, node_cp, ns)
    dep = findings["release.deployment.app-app"]
    assert code == 1 and dep["evidence"]["verdict"] == "nodes" and "no node can take it" in dep["message"]
    assert "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory" in dep["message"]
    assert findings["cluster.nodes"]["outcome"] == "pass"  # a node is there; it is too small


# --- the node going away --------------------------------------------------------------------

def test_stop_kubelet_makes_the_node_not_ready_and_explain_blames_the_node(node_cp: ControlPlane, preflight: Any, ns: str) -> None:
    assert deploy(node_cp, "install", ns).returncode == 0
    try:
        said = node_cp.break_("stop-kubelet")
        assert said is not None and f"node {real_node.NODE_NAME} Ready=Unknown" in said
        node_cp.wait_for(lambda: all(c["status"] == "False" for p in pods(node_cp, ns) for c in p["status"]["conditions"]
                                     if c["type"] == "Ready"), 60, "the pod to be marked not ready")
        code, findings = explain(preflight, node_cp, ns)
        assert code == 1 and root_cause(findings)["id"] == "cluster.nodes"
        assert "none of the 1 nodes is ready: their kubelets are not reporting" in findings["cluster.nodes"]["message"]
        dep = findings["release.deployment.app-app"]
        assert dep["evidence"]["verdict"] == "nodes"
        assert f"is on node {real_node.NODE_NAME}, which is not ready (NodeStatusUnknown)" in dep["message"]
        # Before the next deploy, check says the pods have nowhere to go.
        code, checked, _ = preflight("check", "--kubeconfig", str(node_cp.admin_kubeconfig), "-n", ns)
        nodes = checked["cluster.nodes"]
        assert code == 1 and nodes["outcome"] == "fail" and nodes["evidence"]["ready"] == 0
        assert f"no node can take the deploy's pods: {real_node.NODE_NAME} NotReady (NodeStatusUnknown)" in nodes["message"]
        assert "helm --wait will time out" in nodes["message"]
    finally:
        node_cp.break_("start-kubelet")
    assert real_node.node_condition(node_cp) == ("True", True)


# --- down -----------------------------------------------------------------------------------

def test_down_stops_everything_and_leaves_the_host_as_found(node_cp: ControlPlane) -> None:
    assert real_node.host_snapshot() != HOST_BEFORE  # the node changed the host (bridge, mounts, sysctls, cgroups)
    node_cp.down()
    assert processes_mentioning(f"{node_cp.workdir}/") == []
    assert real_node.host_snapshot() == HOST_BEFORE
