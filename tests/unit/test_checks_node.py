"""Node mode on recorded facts: renewed on disk but still running with the old."""

from datetime import UTC, datetime

from preflight._checks.node import node_restarts, node_served_certs
from preflight._engine.model import Outcome
from preflight._facts.node import FileArg, NodeFacts, ProcessInfo, ServedCert
from tests.pkifactory import make_ca, make_leaf

RENEWED = datetime(2023, 5, 15, 10, 2, tzinfo=UTC)
STARTED = datetime(2022, 5, 14, 5, 49, tzinfo=UTC)
CA = make_ca()


def node(processes: tuple[ProcessInfo, ...] = (), served: tuple[ServedCert, ...] = ()) -> NodeFacts:
    return NodeFacts(kubeadm_dir="/etc/kubernetes", processes=processes, served=served, proc_visible=True)


def test_renewed_kubeconfig_but_old_controller_manager_says_restart_it() -> None:
    kcm = ProcessInfo(component="kube-controller-manager", pid=42, started=STARTED, args=(), files={
        "/etc/kubernetes/controller-manager.conf": FileArg(flag="kubeconfig", modified=RENEWED, reloaded=False),
        "/etc/kubernetes/pki/ca.crt": FileArg(flag="client-ca-file", modified=RENEWED, reloaded=True),
    })
    f = node_restarts(None, node((kcm,)))
    assert f.outcome is Outcome.FAIL
    assert ("controller-manager.conf renewed at 2023-05-15 10:02 UTC but kube-controller-manager (pid 42) has run since "
            "2022-05-14 05:49 UTC: restart it") in f.message
    assert "ca.crt" not in f.message  # reloaded by the component itself
    assert "mirror pod" in f.remediation


def test_files_only_reloaded_by_the_component_need_no_restart() -> None:
    etcd = ProcessInfo(component="etcd", pid=7, started=STARTED, args=(), files={
        "/etc/kubernetes/pki/etcd/server.crt": FileArg(flag="cert-file", modified=RENEWED, reloaded=True),
    })
    assert node_restarts(None, node((etcd,))).outcome is Outcome.PASS


def test_no_visible_processes_is_a_skip_that_says_where_to_run() -> None:
    f = node_restarts(None, node())
    assert f.outcome is Outcome.SKIP and "control-plane node" in f.message


def test_served_certificate_differing_from_disk_is_the_not_restarted_apiserver() -> None:
    old = make_leaf(CA, "kube-apiserver", sans=("127.0.0.1",), server=True)
    new = make_leaf(CA, "kube-apiserver", sans=("127.0.0.1",), server=True)
    served = ServedCert(component="kube-apiserver", endpoint="127.0.0.1:6443", disk_path="/etc/kubernetes/pki/apiserver.crt",
                        served_der=old.cert_der, disk_der=new.cert_der, disk_mtime=RENEWED)
    f = node_served_certs(None, node(served=(served,)))
    assert f.outcome is Outcome.FAIL
    assert f"serves serial {old.cert.serial_number}" in f.message and f"is serial {new.cert.serial_number}" in f.message
    same = ServedCert(component="etcd", endpoint="127.0.0.1:2379", disk_path="d", served_der=new.cert_der, disk_der=new.cert_der, disk_mtime=RENEWED)
    assert node_served_certs(None, node(served=(same,))).outcome is Outcome.PASS


def test_unreachable_endpoints_skip_the_comparison() -> None:
    down = ServedCert(component="etcd", endpoint="127.0.0.1:2379", disk_path="d", served_der=None, disk_der=b"x", disk_mtime=None, problem="refused")
    assert node_served_certs(None, node(served=(down,))).outcome is Outcome.SKIP


def test_a_renewal_within_a_second_of_the_start_is_found_and_the_start_itself_is_not() -> None:
    """_SAME_MOMENT was 1 s (btime is whole seconds): a renewal 0.3 s after a restart was missed.
    Boot time now comes from /proc/uptime (10 ms), so the margin is SAME_MOMENT."""
    from datetime import timedelta

    from preflight._checks.node import SAME_MOMENT

    assert SAME_MOMENT <= timedelta(milliseconds=100)

    def kcm(written_after_start: timedelta) -> ProcessInfo:
        return ProcessInfo(component="kube-controller-manager", pid=42, started=STARTED, args=(), files={
            "/etc/kubernetes/controller-manager.conf": FileArg(flag="kubeconfig", modified=STARTED + written_after_start, reloaded=False)})

    assert node_restarts(None, node((kcm(timedelta(milliseconds=300)),))).outcome is Outcome.FAIL
    assert node_restarts(None, node((kcm(timedelta(milliseconds=20)),))).outcome is Outcome.PASS  # written, then started
    assert node_restarts(None, node((kcm(-timedelta(seconds=1)),))).outcome is Outcome.PASS


def test_process_start_times_are_known_to_a_tick_not_a_second() -> None:
    import subprocess
    import sys
    import time

    from preflight._collect.node import _boot_time, _start_time

    before = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    after = time.time()
    try:
        started = _start_time(child.pid, _boot_time()).timestamp()
    finally:
        child.communicate(b"")
    assert before - 0.1 <= started <= after + 0.1, (before, started, after)  # btime alone was off by up to 1 s
