"""The in-cluster gate for real: charts/preflight-hook as a dependency of an app chart
(tests/cluster/charts/hooked), installed with the real helm 3 and 4 on the harness's node, where
the hook pod runs kube-preflight's own image (`preflight.test/kube-preflight:dev`, built from
this tree by scripts/image.py and imported by `up --node`).

- A healthy install (and upgrade) goes through the hook in a namespace that enforces PodSecurity
  `restricted`, and nothing of the hook remains afterwards.
- Seeded faults fail the install before any of the app's objects exists, with the root cause in
  helm's output and in the hook pod's termination message: a chart whose pods PodSecurity
  refuses (found by simulating the pending revision's manifest), and a stopped
  kube-controller-manager (the hook is a bare Pod: it runs without one).

One node per machine: this module owns its own node (`hook_cp`) and takes it down at its end.
Synchronisation is helm's own --wait/--timeout or a condition with a deadline; no timings asserted.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.node,
              pytest.mark.skipif(os.geteuid() != 0, reason="up --node needs root (CI runs as root)")]
REPO = Path(__file__).resolve().parents[2]
HOOKED = Path(__file__).resolve().parent / "charts" / "hooked"
HOOK_CHART = REPO / "charts" / "preflight-hook"


@pytest.fixture(scope="module")
def hook_cp(bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("hook"), bin_dir)
    t0 = time.monotonic()
    cp.up(node=True)
    print(f"\nup --node (with the kube-preflight image): {time.monotonic() - t0:.1f}s")
    try:
        yield cp
    finally:
        cp.down()


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    """The app chart with the hook chart in its charts/ folder (what `helm dependency build` makes)."""
    dest = tmp_path / "hooked"
    shutil.copytree(HOOKED, dest)
    shutil.copytree(HOOK_CHART, dest / "charts" / "preflight-hook")
    return dest


@contextlib.contextmanager
def restricted_namespace(cp: ControlPlane, prefix: str) -> Iterator[str]:
    name = f"{prefix}-{secrets.token_hex(3)}"
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": name, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}))
    # kube-controller-manager gives every namespace its default ServiceAccount and the
    # kube-root-ca.crt ConfigMap that the pods' projected token volume needs
    cp.wait_for(lambda: all(cp.kubectl("get", kind, obj, "-n", name, check=False).returncode == 0
                            for kind, obj in (("serviceaccount", "default"), ("configmap", "kube-root-ca.crt"))), 60,
                f"the default ServiceAccount and kube-root-ca.crt of {name}")
    try:
        yield name
    finally:
        cp.kubectl("delete", "namespace", name, "--wait=false", check=False)


def leftovers(cp: ControlPlane, ns: str) -> list[str]:
    """Every object of the hook, in the namespace and at cluster scope."""
    selector = "app.kubernetes.io/name=preflight-hook"
    here = cp.kubectl("get", "pods,serviceaccounts,roles,rolebindings", "-n", ns, "-l", selector, "-o", "name").stdout.split()
    there = cp.kubectl("get", "clusterroles,clusterrolebindings", "-l", selector, "-o", "name").stdout.split()
    return here + [n for n in there if ns in n]


def app_objects(cp: ControlPlane, ns: str) -> list[str]:
    return cp.kubectl("get", "deployments,configmaps", "-n", ns, "-o", "name").stdout.split()


def install(cp: ControlPlane, major: int, chart: Path, ns: str, *args: str, verb: str = "install") -> tuple[int, str]:
    t0 = time.monotonic()
    r = cp.helm(verb, "web", str(chart), "-n", ns, "--wait", "--timeout", "2m", *args, major=major, check=False, timeout=240)
    print(f"\nhelm{major} {verb}: exit {r.returncode} after {time.monotonic() - t0:.1f}s")
    return r.returncode, r.stdout + r.stderr


def printed(line: str, out: str) -> bool:
    """helm 3 copies the hook's log as is; helm 4 logs it with slog (level=INFO msg="...", quotes escaped)."""
    return line in out or line.replace('"', '\\"') in out


def termination_message(cp: ControlPlane, ns: str) -> str:
    out = cp.kubectl("get", "pod", "web-preflight", "-n", ns, "-o", "jsonpath={.status.containerStatuses[0].state.terminated.message}")
    return out.stdout


@pytest.mark.parametrize("major", [3, 4])
def test_a_healthy_install_goes_through_the_hook_and_leaves_nothing(hook_cp: ControlPlane, chart: Path, major: int) -> None:
    with restricted_namespace(hook_cp, f"hook-ok{major}") as ns:
        code, out = install(hook_cp, major, chart, ns)
        assert code == 0, out
        assert leftovers(hook_cp, ns) == []
        ready = hook_cp.kubectl("get", "deployment", "web-hooked", "-n", ns, "-o", "jsonpath={.status.readyReplicas}").stdout
        assert ready == "1"
        # an upgrade runs the hook again (pre-upgrade, on revision 2) and leaves nothing either
        code, out = install(hook_cp, major, chart, ns, verb="upgrade")
        assert code == 0, out
        assert leftovers(hook_cp, ns) == []


@pytest.mark.parametrize("major", [3, 4])
def test_pods_podsecurity_would_refuse_fail_the_install_before_any_app_object(hook_cp: ControlPlane, chart: Path, major: int) -> None:
    with restricted_namespace(hook_cp, f"hook-psa{major}") as ns:
        code, out = install(hook_cp, major, chart, ns, "--set", "privileged=true")
        assert code != 0
        assert "pre-install" in out
        assert app_objects(hook_cp, ns) == ["configmap/kube-root-ca.crt"]  # none of the app's
        assert leftovers(hook_cp, ns) == ["pod/web-preflight"]  # kept for its log; the RBAC hooks succeeded and are gone
        message = termination_message(hook_cp, ns)
        root = [line for line in message.splitlines() if line.startswith("root cause:")]
        assert root and root[0].startswith("root cause: admission.pods:") and 'violates PodSecurity "restricted:latest"' in root[0]
        assert message.rstrip().splitlines()[-1] == root[0]  # the last line of the log is the root cause
        assert printed(root[0], out)  # helm printed the hook's log (hook-output-log-policy: hook-failed)


def test_a_stopped_controller_manager_fails_the_install_with_the_root_cause(hook_cp: ControlPlane, chart: Path, preflight: Any) -> None:
    with restricted_namespace(hook_cp, "hook-kcm") as ns:
        hook_cp.stop("kube-controller-manager")
        try:
            def stale() -> bool:
                _, findings, _ = preflight("check", "--kubeconfig", str(hook_cp.admin_kubeconfig), "-n", ns, "--timeout", "10s")
                return findings.get("controlplane.leases", {}).get("outcome") == "fail"

            hook_cp.wait_for(stale, 60, "controlplane.leases to see the stopped kube-controller-manager")
            code, out = install(hook_cp, 3, chart, ns)
            objects = app_objects(hook_cp, ns)
            message = termination_message(hook_cp, ns)
        finally:
            hook_cp.start("kube-controller-manager")
    assert code != 0
    assert objects == ["configmap/kube-root-ca.crt"]  # none of the app's: helm stopped at the hook
    last = message.rstrip().splitlines()[-1]
    assert last.startswith("root cause: controlplane.leases:") and "kube-controller-manager" in last
    assert printed(last, out)


def test_with_the_scheduler_stopped_the_hook_never_runs_and_explain_says_so(hook_cp: ControlPlane, chart: Path,
                                                                            preflight: Any) -> None:
    """What a hook cannot see: its own pod stays Pending. helm waits for its --timeout (longer
    than explain's 30 s "not yet" window for an unscheduled pod); explain then names it."""
    with restricted_namespace(hook_cp, "hook-sched") as ns:
        hook_cp.stop("kube-scheduler")
        try:
            r = hook_cp.helm("install", "web", str(chart), "-n", ns, "--timeout", "35s", check=False, timeout=120)
            code, findings, err = preflight("explain", "--kubeconfig", str(hook_cp.admin_kubeconfig), "-n", ns, "--release", "web")
            phase = hook_cp.kubectl("get", "pod", "web-preflight", "-n", ns, "-o", "jsonpath={.status.phase}").stdout
        finally:
            hook_cp.start("kube-scheduler")
    assert r.returncode != 0 and phase == "Pending"
    assert code == 1 and "Traceback" not in err
    hook = findings["release.pod.web-preflight"]
    assert hook["outcome"] == "fail" and hook["evidence"]["verdict"] == "control-plane"
    assert "the preflight hook never ran, so it could not say why: the scheduler is not running" in hook["message"]
    assert findings["release.deployment.web-hooked"]["outcome"] == "skip"  # never created: helm stopped at the hook
