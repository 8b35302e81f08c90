"""Tests of the control-plane harness itself, against the real binaries.

They run on the session's two clusters (tests/conftest.py), side by side: `healthy` is the shared
healthy `cluster`, so every fault added to it here is removed again by the test that added it
(the APIService, the helm release) or is a helper the other tests use too (the blackhole);
`incident` is the session's breakable cluster, on which the README's incident is replayed in order
(expired controller-manager certificate, renewal without restart, repair, expired serving
certificate, repair, down), so its tests run in file order and build on each other. Before them, the
targeted `restore` is tested on the same cluster through the `breakable` fixture (which restores it
after each test); after them, the `incident` fixture restores it, starting everything `down` stopped.

Every wait is a condition with a deadline. The lease check is an observation window by
definition: it reads the Lease until it has expired by its own leaseDurationSeconds.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.controlplane import HarnessError, pki, procs
from tests.controlplane.procs import processes_mentioning

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


@pytest.fixture(scope="module")
def healthy(cluster):
    return cluster


@pytest.fixture(scope="module")
def incident(_breakable_session):
    yield _breakable_session
    _breakable_session.restore()  # after test_down_leaves_no_process_behind: starts all four again


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.controlplane", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- the healthy cluster ------------------------------------------------------------------

def test_apiserver_reports_the_built_version(healthy):
    assert healthy.version == "v1.37.2"
    kubectl = json.loads(healthy.kubectl("version", "-o", "json").stdout)
    assert kubectl["serverVersion"]["gitVersion"] == healthy.version
    # And straight over TLS, verified against the kubeadm CA (/version is public).
    ctx = ssl.create_default_context(cafile=str(healthy.pki_dir / "ca.crt"))
    with urllib.request.urlopen(f"{healthy.server}/version", context=ctx, timeout=10) as r:
        assert json.load(r)["gitVersion"] == healthy.version


def test_workdir_is_laid_out_like_etc_kubernetes(healthy):
    for name in ("ca", "apiserver", "apiserver-kubelet-client", "apiserver-etcd-client",
                 "front-proxy-ca", "front-proxy-client", "etcd/ca", "etcd/server", "etcd/peer",
                 "etcd/healthcheck-client"):
        assert (healthy.pki_dir / f"{name}.crt").exists(), name
        assert (healthy.pki_dir / f"{name}.key").stat().st_mode & 0o777 == 0o600, name
    for conf in ("admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf",
                 "kubelet.conf"):
        path = healthy.workdir / conf
        assert path.stat().st_mode & 0o777 == 0o600, conf
        assert pki.read_kubeconfig(path)["clusters"][0]["cluster"]["server"] == healthy.server
    # admin.conf works only through the kubeadm:cluster-admins binding, as after kubeadm init.
    assert healthy.kubectl("auth", "can-i", "*", "*").stdout.strip() == "yes"


def test_token_controller_fills_a_requested_service_account_token_secret(healthy):
    healthy.kubectl("create", "namespace", "harness-probe")
    try:
        healthy.kubectl("create", "serviceaccount", "preflight-probe", "-n", "harness-probe")
        healthy.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: Secret
metadata:
  name: preflight-probe-token
  namespace: harness-probe
  annotations: {kubernetes.io/service-account.name: preflight-probe}
type: kubernetes.io/service-account-token
""")

        def token() -> str:
            out = healthy.kubectl("get", "secret", "preflight-probe-token", "-n", "harness-probe",
                                  "-o", "jsonpath={.data.token}")
            return out.stdout.strip()

        assert healthy.wait_for(token, 60, "the token controller to fill data.token")
    finally:
        healthy.kubectl("delete", "namespace", "harness-probe", "--wait=false", check=False)


def test_two_clusters_run_side_by_side_on_their_own_ports(healthy, incident):
    assert healthy.apiserver_port != incident.apiserver_port
    assert healthy.etcd_client_port != incident.etcd_client_port
    for cp in (healthy, incident):
        assert cp.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"


def test_unavailable_apiservice_is_reported_unavailable(healthy):
    try:
        assert healthy.break_("unavailable-apiservice").startswith(
            "APIService v1beta1.metrics.k8s.io Available=False")
        status = json.loads(healthy.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io",
                                            "-o", "json").stdout)["status"]
        available = next(c for c in status["conditions"] if c["type"] == "Available")
        assert available["status"] == "False"
    finally:  # the shared healthy cluster's discovery is complete again
        healthy.kubectl("delete", "apiservice", "v1beta1.metrics.k8s.io", "--ignore-not-found")
        healthy.kubectl("delete", "service", "metrics-server", "-n", "kube-system", "--ignore-not-found")


def test_helm_pending_leaves_the_release_pending_upgrade(healthy):
    try:
        healthy.break_("helm-pending", "demo")
        history = json.loads(healthy.helm("history", "demo", "-n", "default", "-o", "json").stdout)
        assert [h["status"] for h in history] == ["deployed", "pending-upgrade"]
        assert healthy.pid("helm-upgrade") is None  # the helm process was killed, not left running
        # The real consequence: helm refuses to upgrade a release whose latest revision is pending.
        again = healthy.helm("upgrade", "demo", str(REPO / "tests/controlplane/charts/stallable"),
                             "-n", "default", check=False)
        assert again.returncode != 0
        assert "another operation (install/upgrade/rollback) is in progress" in again.stderr
    finally:  # the release, and its hook Job (hooks are not part of the release's manifest)
        healthy.helm("uninstall", "demo", "-n", "default", check=False)
        healthy.kubectl("delete", "job", "demo-stall", "-n", "default", "--ignore-not-found")


def test_blackhole_accepts_connections_and_never_answers(healthy):
    host, port = healthy.break_("blackhole").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /apis/metrics.k8s.io/v1beta1 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    assert healthy.break_("blackhole") == f"{host}:{port}"  # idempotent while it runs


def test_cli_status_reads_the_state_another_process_wrote(healthy):
    result = cli("status", "--workdir", str(healthy.workdir))
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert lines[name] == f"pid {healthy.pid(name)} running"


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path):
    result = cli("break", "blackhole", "--workdir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_up_node_without_root_is_one_line_and_starts_nothing(tmp_path, monkeypatch, capsys):
    from tests.controlplane.__main__ import main

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["up", "--node", "--workdir", str(tmp_path / "cp")]) == 2
    err = capsys.readouterr().err
    assert err == "error: up --node needs root: containerd and the kubelet create cgroups, mounts and a network bridge\n"
    assert not (tmp_path / "cp").exists()


# --- restore: only what is broken, on the session's breakable cluster --------------------

def _running(cp) -> dict[str, tuple[int | None, float | None]]:
    """Each component's pid and the wall-clock time the harness started it."""
    processes = cp._load().processes
    return {n: (cp.pid(n), processes[n].started_at) for n in COMPONENTS}


def _pki_files(cp) -> dict[Path, float]:
    """Every certificate, key and kubeconfig kubeadm made, with its modification time."""
    files = [p for p in cp.pki_dir.rglob("*") if p.is_file()] + list(cp.workdir.glob("*.conf"))
    return {p: p.stat().st_mtime for p in files}


def _leases_renewed_again(cp) -> None:
    """Both leader Leases are held by the processes running now, and renewed again after a read."""
    processes = cp._load().processes
    first = {}
    for name in ("kube-controller-manager", "kube-scheduler"):
        first[name] = cp.lease(name)
        assert parse_time(first[name]["renewTime"]).timestamp() >= processes[name].started_at, name
    for name, spec in first.items():
        cp.wait_for(lambda: cp.lease(name)["renewTime"] != spec["renewTime"], 30,
                    f"the {name} lease to be renewed again")


def test_restore_of_an_unbroken_cluster_restarts_and_renews_nothing(breakable):
    breakable.wait_ready()
    before, files = _running(breakable), _pki_files(breakable)
    assert all(pid for pid, _ in before.values())
    # From another process (the CLI): state.json and the cluster itself are all it judges by.
    result = cli("restore", "--workdir", str(breakable.workdir))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # one line per thing done
    assert _running(breakable) == before
    assert _pki_files(breakable) == files


def test_restore_starts_what_is_stopped_and_renews_and_restarts_only_what_is_expired(breakable):
    breakable.break_("expire-client-cert", "controller-manager")  # restarted with it: Unauthorized
    breakable.break_("stop", "kube-scheduler")
    conf = breakable.workdir / "controller-manager.conf"
    assert not pki.is_valid_now(pki.kubeconfig_client_cert(conf))
    before, files = _running(breakable), _pki_files(breakable)
    assert before["kube-scheduler"][0] is None

    done = breakable.restore()

    assert not any(d.startswith("full repair") for d in done), done
    after = _running(breakable)
    assert after["etcd"] == before["etcd"] and after["kube-apiserver"] == before["kube-apiserver"]
    assert after["kube-controller-manager"][0] not in (None, before["kube-controller-manager"][0])
    assert after["kube-scheduler"][0] is not None
    assert pki.is_valid_now(pki.kubeconfig_client_cert(conf))
    assert {p: t for p, t in _pki_files(breakable).items() if p != conf} == {
        p: t for p, t in files.items() if p != conf}  # renewed alone
    assert breakable.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    _leases_renewed_again(breakable)


def test_restore_restarts_what_runs_on_certificates_renewed_after_it_started(breakable):
    breakable.break_("renew-without-restart")
    before = _running(breakable)

    done = breakable.restore()

    assert not any(d.startswith(("renewed", "full repair")) for d in done), done  # all valid already
    after = _running(breakable)
    assert after["etcd"] == before["etcd"]  # reloads its own key pairs on every handshake
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert after[name][0] not in (None, before[name][0]), name
        assert breakable.changed_since_start(name) == [], name
    _leases_renewed_again(breakable)


# --- the incident, replayed on the breakable cluster, in order ---------------------------

def test_expired_controller_manager_cert_gives_unauthorized_and_a_stale_lease(incident):
    before = incident.lease("kube-controller-manager")
    # Broken from another process (the CLI): state.json is all it shares with this one.
    result = cli("break", "expire-client-cert", "controller-manager", "--workdir", str(incident.workdir))
    assert result.returncode == 0, result.stderr
    assert "controller-manager.conf: client certificate CN=system:kube-controller-manager" in result.stdout
    assert not pki.is_valid_now(pki.kubeconfig_client_cert(incident.workdir / "controller-manager.conf"))

    incident.wait_for(lambda: "Unauthorized" in incident.log_text("kube-controller-manager"),
                      60, "Unauthorized in the new kube-controller-manager's log")
    incident.wait_for(lambda: "certificate has expired" in incident.log_text(
        "kube-apiserver", since_start=False), 60, "the apiserver to log the expired client cert")

    # The lease is no longer renewed: read it until it has expired by its own terms
    # (renewTime + leaseDurationSeconds in the past); renewTime must never move meanwhile.
    first = incident.lease("kube-controller-manager")
    assert first["holderIdentity"]  # still names the stopped process

    def expired_by_own_terms() -> bool:
        spec = incident.lease("kube-controller-manager")
        assert spec["renewTime"] == first["renewTime"], "the lease was renewed"
        deadline = parse_time(spec["renewTime"]) + dt.timedelta(seconds=spec["leaseDurationSeconds"] + 2)
        return deadline < dt.datetime.now(dt.UTC)

    incident.wait_for(expired_by_own_terms, 60, "the controller-manager lease to go stale", interval=2)
    assert parse_time(first["renewTime"]) >= parse_time(before["renewTime"])


def test_renewing_certificates_without_restart_changes_nothing_running(incident):
    starts = {n: incident._load().processes[n].started_at for n in
              ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")}
    incident.break_("renew-without-restart")
    for name, cert in pki.all_certificates(incident.workdir, incident.pki_dir).items():
        assert pki.is_valid_now(cert, dt.timedelta(days=300)), name
    for path in [*(incident.pki_dir / f"{leaf}.crt" for leaf in pki.LEAF_CERTS),
                 *(incident.workdir / conf for conf in pki.RENEWED_KUBECONFIGS)]:
        assert path.stat().st_mtime > max(starts.values()), path
    assert {n: incident._load().processes[n].started_at for n in starts} == starts
    # The running controller-manager still presents the expired certificate it loaded.
    marker = len(incident.log_text("kube-controller-manager"))
    incident.wait_for(lambda: "Unauthorized" in incident.log_text("kube-controller-manager")[marker:],
                      30, "kube-controller-manager to keep failing after the renewal")


def test_expired_admin_kubeconfig_is_rejected(incident):
    incident.break_("expire-client-cert", "admin")
    result = incident.kubectl("get", "ns", check=False)
    assert result.returncode != 0 and "Unauthorized" in result.stderr
    assert incident.kubectl("get", "ns", kubeconfig=incident.super_admin_kubeconfig).returncode == 0


def test_repair_restarts_everything_and_the_leases_are_renewed_again(incident):
    old = {n: incident.pid(n) for n in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")}
    incident.repair()
    for name, pid in old.items():
        assert incident.pid(name) not in (None, pid), name
    for name, cert in pki.all_certificates(incident.workdir, incident.pki_dir).items():
        assert pki.is_valid_now(cert), name
    assert incident.kubectl("get", "ns").returncode == 0  # admin.conf valid again

    first = incident.lease("kube-controller-manager")
    incident.wait_for(lambda: incident.lease("kube-controller-manager")["renewTime"] != first["renewTime"],
                      30, "the controller-manager lease to be renewed again")


def test_expired_serving_cert_is_served_after_restart(incident):
    description = incident.break_("expire-serving-cert")
    served = incident.served_certificate()
    assert served.not_valid_after_utc < dt.datetime.now(dt.UTC)
    assert f"{served.serial_number:x}" in description
    result = incident.kubectl("get", "ns", check=False)
    assert result.returncode != 0 and "certificate has expired" in result.stderr
    incident.repair()
    assert pki.is_valid_now(incident.served_certificate())
    assert incident.kubectl("get", "ns").returncode == 0


def test_stop_and_start_a_component(incident):
    incident.break_("stop", "kube-scheduler")
    assert incident.pid("kube-scheduler") is None
    incident.break_("start", "scheduler")
    assert incident.pid("kube-scheduler")


def test_wait_for_raises_a_timeout_naming_what_it_waited_for(incident):
    with pytest.raises(TimeoutError, match="waiting for the impossible"):
        incident.wait_for(lambda: False, 0.2, "the impossible")


def test_down_leaves_no_process_behind(incident):
    incident.break_("blackhole")
    incident.down()
    assert processes_mentioning(f"{incident.workdir}/") == []
    assert all(pid is None for pid in incident.status().values())


def test_a_process_is_ours_as_soon_as_spawn_returns(tmp_path):
    """The kernel sets up a new command line just after exec closes Popen's error pipe; read in
    that window (/proc/<pid>/cmdline still empty), is_ours took a live process for one that had
    exited. That happened in about 1 spawn of 700 before spawn waited for it, so 1,000 spawns
    catch it about 3 times in 4. The child must outlive the check: a long sleep in Python (a
    `sleep` given the marker as an argument refuses it and exits)."""
    marker = str(tmp_path)
    for _ in range(1000):
        child, starttime = procs.spawn([sys.executable, "-c", "import time; time.sleep(60)", marker], tmp_path / "child.log",
                                       cwd=tmp_path)
        try:
            assert procs.is_ours(child.pid, starttime, marker)
        finally:
            child.kill()
            child.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="a bind mount needs root")
def test_remove_deletes_a_stopped_workdir_but_never_through_a_mount(tmp_path):
    from tests.controlplane import ControlPlane
    from tests.controlplane.state import State

    workdir, host = tmp_path / "work", tmp_path / "host"
    (workdir / "pki").mkdir(parents=True)
    (workdir / "pki" / "ca.key").write_text("the cluster's CA key")
    State(bin_dir=str(tmp_path), version="v0", ports={}).save(workdir)  # a cluster that is down
    host.mkdir()
    (host / "file").write_text("not the harness's")
    mount = workdir / "node" / "pods"
    mount.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(host), str(mount)], check=True)
    try:
        with pytest.raises(HarnessError, match=f"kept: still mounted under it: {mount}"):
            ControlPlane(workdir).remove()
        assert (host / "file").read_text() == "not the harness's" and (workdir / "pki" / "ca.key").exists()
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    ControlPlane(workdir).remove()
    assert not workdir.exists() and (host / "file").exists()


@pytest.mark.parametrize(("unclear", "reason"), [
    (HarnessError("state.json has no kube-scheduler"), "state.json has no kube-scheduler"),
    (KeyError("kube-apiserver"), "KeyError: 'kube-apiserver'"),
])
def test_restore_falls_back_to_the_full_repair_and_says_why(tmp_path, monkeypatch, unclear, reason):
    # What restore cannot judge is the full repair's to fix; its result names the fallback.
    from tests.controlplane import ControlPlane

    cp = ControlPlane(tmp_path)
    repaired: list[float] = []

    def judge_nothing(deadline: float) -> list[str]:
        raise unclear

    monkeypatch.setattr(cp, "_restore_once", judge_nothing)
    monkeypatch.setattr(cp, "repair", lambda timeout: repaired.append(timeout))
    assert cp.restore(timeout=42) == [f"full repair ({reason})"]
    assert repaired == [42]
