"""A real upstream Kubernetes control plane on 127.0.0.1, for kube-preflight's cluster tests.

Runs etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from upstream
source by build.sh, with PKI and kubeconfigs made by the real kubeadm, and breaks them the way the
incident in the README's opening section went (kubeadm certificates expired after a year, were
renewed, but the control-plane components were never restarted). There is no fake API server anywhere.

    from tests.controlplane import ControlPlane, build_binaries

    bin_dir = build_binaries()                 # build.sh, once per machine (20-30 min)
    helm_binaries(bin_dir)                     # {3: .../helm, 4: .../helm4}
    with ControlPlane(tmp_path / "cp", bin_dir) as cp:      # up() ... down()
        cp.kubectl("get", "ns")                # admin.conf; cp.super_admin_kubeconfig also exists
        cp.break_("expire-client-cert", "controller-manager")
        cp.repair()

ControlPlane(workdir, bin_dir=None)
    up(timeout=180, node=False), down(),     node=True: also containerd + a kubelet (node.py; root) repair(timeout=180, restart_etcd=False), wait_ready(timeout)
    restore(timeout=180) -> list[str]          only what is broken (expired certs, stopped or stale processes); repair() if unclear
    break_(knob, *args) -> str | None          knobs: faults.KNOBS (table in faults.py)
    start/stop/restart(component), pid(component), status(), log_path(component)
    kubectl(*args, kubeconfig=None, check=True, input=None, timeout=60) -> CompletedProcess
    helm(*args, kubeconfig=None, check=True, input=None, timeout=300, major=3) -> CompletedProcess
    helm_binary(major=3) -> Path               <bin_dir>/helm (v3) or <bin_dir>/helm4 (v4)
    wait_for(predicate, timeout, what)         TimeoutError naming `what`
    lease(component) -> dict | None            spec of Lease kube-system/<component>
    served_certificate() -> x509.Certificate   what kube-apiserver presents now
    workdir, bin_dir, pki_dir, admin_kubeconfig, super_admin_kubeconfig, kubeadm_config,
    apiserver_port, etcd_client_port, etcd_peer_port, controller_manager_port,
    scheduler_port, server, version

Command line (run from the repository root): python -m tests.controlplane --help

Modules: cluster (ControlPlane), components (command-line table), kubeadm (the real
kubeadm, offline), pki (expired re-issues with `cryptography`), faults (knobs), procs
(process identity and ports), state (state.json), build (build.sh), errors (errors, wait_for),
node (the real node: containerd, kubelet, host changes and their undoing), images (busybox
images without a registry), preflight_image (kube-preflight's own image, scripts/image.py,
cached by content), service_relay (10.96.0.1:443 to kube-apiserver, for in-cluster clients).
"""
from .build import build_binaries, helm_binaries
from .cluster import ControlPlane
from .errors import CommandFailed, HarnessError, HarnessTimeout, wait_for
from .faults import KNOBS

__all__ = ["ControlPlane", "build_binaries", "helm_binaries", "HarnessError", "HarnessTimeout",
           "CommandFailed", "wait_for", "KNOBS"]
