"""A real node for the control plane: containerd 1.6 + runc + bridge CNI from Debian, and the
kubelet built by build.sh from the same wrapper module (`up --node`).

The recipe was verified by hand on this kind of machine first (Debian 12, cgroup v1, root without
CAP_SYS_RESOURCE). What it needs and why:
  * root: the kubelet and containerd create cgroups, mounts and a network bridge. Missing Debian
    packages (containerd, runc, busybox-static, containernetworking-plugins) are installed with
    apt-get, as root only; otherwise `up --node` says so in one line.
  * containerd `restrict_oom_score_adj = true`: root here has no CAP_SYS_RESOURCE, so runc cannot
    give a sandbox a negative oom_score_adj.
  * kubelet `failCgroupV1: false`: v1.37 refuses cgroup v1 hosts otherwise.
  * a non-loopback node IP (the kubelet rejects 127.0.0.1): NODE_IP on a bridge of our own,
    BRIDGE. Pods live on its /24 without a default route, so nothing leaves the machine; the
    apiserver reaches the kubelet (logs, exec) on NODE_IP.
  * images without a registry (images.py): `preflight.test/busybox:1` and the sandbox image are
    imported before the kubelet starts, with kube-preflight's own image
    `preflight.test/kube-preflight:dev` (preflight_image.py: scripts/image.py, cached by content);
    pods use `imagePullPolicy: Never`.
  * the kubelet runs with a PATH without /usr/sbin, so it finds no iptables and adds no rules.
  * in-cluster clients: no kube-proxy, so the bridge also holds SERVICE_IP (10.96.0.1, the
    `kubernetes` Service's address, named by the API server's certificate), pods get a route to
    it, and service_relay.py relays SERVICE_IP:443 to kube-apiserver on 127.0.0.1.

Host changes, all undone by `down` (tests/cluster/test_node.py compares the host before and
after): the sysctls the kubelet sets (SYSCTLS), the bridge, mounts under the workdir, the
`kubepods` and `k8s.io` cgroups, and the fixed paths the kubelet and containerd use whatever
they are told (HOST_PATHS). The bridge, the kubelet's port and those paths are fixed, so there is
one node per machine: HOST_LOCK names the workdir that owns it, and a second `up --node` refuses.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from . import images, preflight_image, procs
from .build import kubelet_dir
from .errors import HarnessError, tail, wait_for
from .kubeadm import NODE_NAME
from .state import State

if TYPE_CHECKING:
    from .cluster import ControlPlane

log = logging.getLogger("tests.controlplane")

HOST_LOCK = Path("/run/kube-preflight-node.json")
BRIDGE = "kpfbr0"
NODE_IP = "10.244.77.1"
POD_SUBNET = "10.244.77.0/24"
# kubeadm's first service IP (the API server's certificate names it): what pods get as
# KUBERNETES_SERVICE_HOST. No kube-proxy here: the bridge holds this address and a relay on it
# carries the bytes to kube-apiserver on 127.0.0.1 (service_relay.py).
SERVICE_IP = "10.96.0.1"
BRIDGE_MAC = "02:6b:70:66:00:01"  # locally administered (the 02 bit): no vendor owns it
RELAY = "service-relay"
KUBELET_PORT = 20250
KUBELET_HEALTHZ_PORT = 20248
# The kubelet sets the first three (pkg/kubelet/cm/container_manager_linux.go setupKernelTunables);
# ip_forward is restored too in case a CNI plugin sets it (the bridge plugin does with isGateway).
SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops", "net/ipv4/ip_forward")
# Used whatever the configuration says: kubelet's container log symlinks and device-plugin
# socket, containerd 1.6's shim sockets, libcni's result cache.
HOST_PATHS = ("/var/log/containers", "/var/lib/kubelet", "/run/containerd", "/var/lib/cni")
CGROUPS = ("kubepods", "k8s.io")
CGROUP_ROOT = Path("/sys/fs/cgroup")
PACKAGES = {"containerd": "containerd", "ctr": "containerd", "runc": "runc", "busybox": "busybox-static",
            "/usr/lib/cni/bridge": "containernetworking-plugins"}
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KUBELET_PATH = "/usr/local/bin:/usr/bin:/bin"  # no /usr/sbin: no iptables for the kubelet


def node_dir(cp: ControlPlane) -> Path:
    return cp.workdir / "node"


def socket_path(cp: ControlPlane) -> Path:
    return node_dir(cp) / "containerd" / "containerd.sock"


# --- host: packages, lock, snapshot --------------------------------------------------------

def _tool(name: str) -> str | None:
    if name.startswith("/"):
        return name if Path(name).exists() else None
    return shutil.which(name, path=SBIN_PATH)


def ensure_packages() -> None:
    """Install the Debian packages that are missing (root only; one apt-get update first)."""
    missing = sorted({pkg for tool, pkg in PACKAGES.items() if _tool(tool) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise HarnessError(f"up --node needs the Debian packages {' '.join(missing)}: run it as root, which installs them")
    if shutil.which("apt-get") is None:
        raise HarnessError(f"up --node needs the Debian packages {' '.join(missing)} and there is no apt-get to install them")
    log.info("installing Debian packages %s with apt-get (about 15 s)", " ".join(missing))
    t0 = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=900)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["?"])[-1]
            raise HarnessError(f"{' '.join(argv[:2])} failed with exit code {result.returncode}: {last}",
                               result.stdout[-2000:] + result.stderr[-2000:])
    log.info("installed %s in %.1fs", " ".join(missing), time.monotonic() - t0)


def check_can_run() -> None:
    """The one-line reasons `up --node` cannot start here, before anything is started."""
    if os.geteuid() != 0:
        raise HarnessError("up --node needs root: containerd and the kubelet create cgroups, mounts and a network bridge")
    owner = host_owner()
    if owner is not None:
        raise HarnessError(f"this machine already has a node, for the control plane in {owner} (one node per machine: "
                           f"fixed bridge {BRIDGE}, kubelet port {KUBELET_PORT}, /var/lib/kubelet); "
                           f"run `python -m tests.controlplane down --workdir {owner}` first")
    taken = [str(p) for p in _cgroup_roots()] + ([f"bridge {BRIDGE}"] if _bridge_exists() else [])
    if taken:
        raise HarnessError(f"another kubelet or containerd has run on this machine ({', '.join(taken[:3])} exists); "
                           "up --node would take over or remove its state")


def host_owner() -> str | None:
    """The workdir whose node this machine runs, from HOST_LOCK."""
    try:
        return str(json.loads(HOST_LOCK.read_text())["workdir"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


def _read_sysctl(name: str) -> str:
    return Path("/proc/sys", name).read_text().strip()


def _claim_host(cp: ControlPlane) -> None:
    """Write HOST_LOCK (exclusively) with what `down` must restore, before changing anything."""
    record = {"workdir": str(cp.workdir), "sysctls": {s: _read_sysctl(s) for s in SYSCTLS},
              "paths_existed": [p for p in HOST_PATHS if os.path.lexists(p)]}
    try:
        fd = os.open(HOST_LOCK, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise HarnessError(f"this machine already has a node, for the control plane in {host_owner()}") from None
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=2)


def _cgroup_roots() -> list[Path]:
    """Our top-level cgroups that exist now, in every hierarchy (v1 controllers and unified)."""
    found = []
    for hierarchy in sorted(CGROUP_ROOT.iterdir()) if CGROUP_ROOT.is_dir() else []:
        for name in CGROUPS:
            if (hierarchy / name).is_dir():
                found.append(hierarchy / name)
    return found


def _bridge_exists() -> bool:
    return Path("/sys/class/net", BRIDGE).exists()


def _mounts() -> list[str]:
    with open("/proc/mounts") as f:
        return [line.split()[1] for line in f]


def host_snapshot() -> dict[str, Any]:
    """What `up --node` may change on the host, for a test to compare before and after."""
    return {
        "sysctls": {s: _read_sysctl(s) for s in SYSCTLS},
        "links": sorted(os.listdir("/sys/class/net")),
        "mounts": sorted(_mounts()),
        "paths": {p: os.path.lexists(p) for p in (*HOST_PATHS, "/run/netns", "/var/run/netns", "/var/log/pods",
                                                   "/etc/cni", "/opt/cni", "/var/lib/containerd")},
        "cgroups": [str(p) for p in _cgroup_roots()],
        "lock": HOST_LOCK.exists(),
        "iptables": _iptables_rules(),
    }


def _iptables_rules() -> list[str]:
    iptables = _tool("iptables")
    if iptables is None:
        return []
    return [line for table in ("filter", "nat") for line in subprocess.run(
        [iptables, "-w", "-t", table, "-S"], capture_output=True, text=True).stdout.splitlines()]


# --- up -------------------------------------------------------------------------------------

def _containerd_config(cp: ControlPlane) -> str:
    d = node_dir(cp)
    return f"""\
version = 2
root = "{d}/containerd/root"
state = "{d}/containerd/state"
[grpc]
  address = "{socket_path(cp)}"
[ttrpc]
  address = "{socket_path(cp)}.ttrpc"
[debug]
  address = "{d}/containerd/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{images.PAUSE}"
  # root here has no CAP_SYS_RESOURCE: runc cannot set a negative oom_score_adj (runc: oom_score_adj)
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{d}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/conf"
"""


def _cni_config(cp: ControlPlane) -> dict[str, Any]:
    # isGateway false with the bridge made beforehand: the plugin then leaves ip_forward alone.
    return {"cniVersion": "0.4.0", "name": "node", "plugins": [{
        "type": "bridge", "bridge": BRIDGE, "isGateway": False, "ipMasq": False, "hairpinMode": True,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                 "routes": [{"dst": f"{SERVICE_IP}/32", "gw": NODE_IP}],
                 "dataDir": str(node_dir(cp) / "cni" / "ipam")}}]}


def _kubelet_config(cp: ControlPlane) -> dict[str, Any]:
    d = node_dir(cp)
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "failCgroupV1": False,  # v1.37 refuses cgroup v1 hosts otherwise
        "cgroupDriver": "cgroupfs", "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{socket_path(cp)}",
        "address": NODE_IP, "port": KUBELET_PORT, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": KUBELET_HEALTHZ_PORT,
        "podLogsDir": str(d / "kubelet" / "podlogs"),
        # Client certificates signed by the cluster CA only (the apiserver's kubelet client is
        # one); HARNESS: no webhook authorization, so the kubelet makes no SubjectAccessReviews.
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                           "x509": {"clientCAFile": str(cp.pki_dir / "ca.crt")}},
        "authorization": {"mode": "AlwaysAllow"},
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
    }


def _write_configs(cp: ControlPlane) -> None:
    d = node_dir(cp)
    for sub in ("containerd", "cni/conf", "cni/bin", "cni/ipam", "runc", "kubelet/root", "kubelet/pki",
                "kubelet/podlogs", "images"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for plugin in ("bridge", "host-local", "loopback"):
        shutil.copy2(f"/usr/lib/cni/{plugin}", d / "cni" / "bin" / plugin)
    (d / "cni" / "conf" / "10-node.conflist").write_text(json.dumps(_cni_config(cp), indent=2))
    (d / "containerd" / "config.toml").write_text(_containerd_config(cp))
    (d / "kubelet" / "config.yaml").write_text(yaml.safe_dump(_kubelet_config(cp), sort_keys=False))


def _make_bridge() -> None:
    # A MAC of our own: a bridge created without one takes the lowest MAC among its ports, so it
    # changed whenever the pod holding that veth went away, and a running pod's cached neighbour
    # entry for NODE_IP/SERVICE_IP then pointed nowhere until it expired (~30 s of silence: a hook
    # pod's check said "no answer from 10.96.0.1:443"). The kernel keeps a MAC that was set.
    for argv in (["ip", "link", "add", BRIDGE, "address", BRIDGE_MAC, "type", "bridge"], ["ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE],
                 ["ip", "addr", "add", f"{SERVICE_IP}/32", "dev", BRIDGE], ["ip", "link", "set", BRIDGE, "up"]):
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise HarnessError(f"{' '.join(argv)} failed: {result.stderr.strip()}")


def ctr(cp: ControlPlane, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    argv = [_tool("ctr") or "ctr", "-a", str(socket_path(cp)), "-n", "k8s.io", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise HarnessError(f"ctr {' '.join(args)} failed: {result.stderr.strip()[-300:]}")
    return result


def _start_containerd(cp: ControlPlane, timeout: float) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"PATH": SBIN_PATH}
    cp._spawn("containerd", [_tool("containerd") or "containerd", "--config", str(node_dir(cp) / "containerd" / "config.toml")],
              env=env)

    def serving() -> bool:
        if not cp.pid("containerd"):
            raise HarnessError(f"containerd exited during startup (see {cp.log_path('containerd')})", tail(cp.log_path("containerd")))
        return ctr(cp, "version", check=False).returncode == 0

    cp.wait_for(serving, timeout, "containerd to serve its socket", interval=0.2)


def _import_images(cp: ControlPlane, preflight_tarball: Path) -> None:
    t0 = time.monotonic()
    busybox = _tool("busybox")
    if busybox is None:
        raise HarnessError("no busybox on PATH (Debian package busybox-static)")
    for tarball in [*images.build_all(Path(busybox), node_dir(cp) / "images").values(), preflight_tarball]:
        ctr(cp, "images", "import", str(tarball))
    log.info("imported %s, %s and %s into containerd in %.1fs", images.BUSYBOX, images.PAUSE, preflight_image.REF,
             time.monotonic() - t0)


def kubelet_argv(cp: ControlPlane, kubelet: Path) -> list[str]:
    d = node_dir(cp) / "kubelet"
    return [str(kubelet), f"--config={d / 'config.yaml'}", f"--kubeconfig={cp.workdir / 'kubelet.conf'}",
            f"--root-dir={d / 'root'}", f"--cert-dir={d / 'pki'}", f"--hostname-override={NODE_NAME}", f"--node-ip={NODE_IP}"]


def start_kubelet(cp: ControlPlane, timeout: float = 120) -> str:
    """Start the kubelet (its recorded command line after the first time); wait until the node
    is Ready and schedulable."""
    if not cp.pid("kubelet"):
        state = cp._load()
        recorded = state.processes.get("kubelet")
        argv = recorded.argv if recorded else kubelet_argv(cp, kubelet_dir() / "kubelet")
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"PATH": KUBELET_PATH}
        cp._spawn("kubelet", argv, env=env)
    t0 = time.monotonic()

    def ready() -> bool:
        if not cp.pid("kubelet"):
            raise HarnessError(f"the kubelet exited (see {cp.log_path('kubelet')})", tail(cp.log_path("kubelet"), 40))
        return node_condition(cp) == ("True", True)

    cp.wait_for(ready, timeout, f"node {NODE_NAME} to be Ready and schedulable", interval=0.5,
                detail=lambda: tail(cp.log_path("kubelet"), 40))
    log.info("node %s Ready after %.1fs", NODE_NAME, time.monotonic() - t0)
    return f"kubelet (pid {cp.pid('kubelet')}) running; node {NODE_NAME} Ready"


def node_condition(cp: ControlPlane) -> tuple[str, bool] | None:
    """(status of the Node's Ready condition, schedulable: no NoSchedule/NoExecute taint), or None
    when the Node does not exist (yet)."""
    result = cp.kubectl("get", "node", NODE_NAME, "-o", "json", kubeconfig=cp.super_admin_kubeconfig, check=False)
    if result.returncode != 0:
        return None
    node = json.loads(result.stdout)
    ready = next((c.get("status", "") for c in node.get("status", {}).get("conditions", []) if c.get("type") == "Ready"), "")
    taints = [t for t in node.get("spec", {}).get("taints", []) if t.get("effect") in ("NoSchedule", "NoExecute")]
    return ready, not taints and not node.get("spec", {}).get("unschedulable")


def stop_kubelet(cp: ControlPlane, timeout: float = 90) -> str:
    """Stop the kubelet; wait until the node-lifecycle controller marks the Node not Ready
    (the harness's controller-manager has a 20 s --node-monitor-grace-period)."""
    if cp.pid("kubelet") is None and "kubelet" not in cp._load().processes:
        raise HarnessError("this control plane has no node: start it with `up --node`")
    t0 = time.monotonic()
    cp._terminate(["kubelet"], 20)

    def not_ready() -> tuple[str, bool] | None:
        cond = node_condition(cp)
        return cond if cond is not None and cond[0] != "True" else None

    status = cp.wait_for(not_ready, timeout, f"node {NODE_NAME} to become NotReady", interval=1,
                         detail=lambda: tail(cp.log_path("kube-controller-manager")))
    return f"kubelet stopped; node {NODE_NAME} Ready={status[0]} after {time.monotonic() - t0:.0f}s"


def up(cp: ControlPlane, timeout: float = 180) -> float:
    """Start containerd and the kubelet for `cp` (already up); return the seconds until the node
    was Ready. Everything it changed is undone by `down`, also when it fails half-way."""
    check_can_run()
    ensure_packages()
    kubelet_dir(build=True)
    preflight_tarball, _ = preflight_image.ensure_image()  # built before the host changes: a failure leaves nothing to undo
    t0 = time.monotonic()
    _claim_host(cp)
    _write_configs(cp)
    _make_bridge()
    _start_containerd(cp, 30)
    cp._spawn(RELAY, [sys.executable, str(Path(__file__).with_name("service_relay.py")), SERVICE_IP, "443",
                      str(cp.apiserver_port), f"{cp.workdir}/"])
    _import_images(cp, preflight_tarball)
    state = cp._load()
    state.extras["node"] = NODE_NAME
    state.save(cp.workdir)
    start_kubelet(cp, timeout)
    return time.monotonic() - t0


# --- down -----------------------------------------------------------------------------------

def _cgroup_pids() -> set[int]:
    pids: set[int] = set()
    for root in _cgroup_roots():
        for procs_file in root.rglob("cgroup.procs"):
            try:
                pids |= {int(p) for p in procs_file.read_text().split()}
            except OSError:
                continue
    return pids


def _kill_containers(cp: ControlPlane) -> None:
    """SIGKILL every process in our cgroups (the containers and sandboxes), until none is left."""
    def empty() -> bool:
        pids = _cgroup_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return not pids

    cp.wait_for(empty, 30, "the containers' processes to exit", interval=0.2)


def mounts_under(folder: Path) -> list[str]:
    """Mount points at or below ``folder``, deepest first."""
    prefix = f"{folder}/"
    return sorted({m for m in _mounts() if m.startswith(prefix) or m == str(folder)}, key=len, reverse=True)


def _unmount_under(folder: Path) -> None:
    for mount in mounts_under(folder):
        if subprocess.run(["umount", mount], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", mount], capture_output=True)


def _remove_cgroups() -> None:
    def gone() -> bool:
        for root in _cgroup_roots():
            for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True) + [root]:
                try:
                    d.rmdir()
                except OSError:
                    pass
        return not _cgroup_roots()

    wait_for(gone, 30, "the kubepods and k8s.io cgroups to be removed", interval=0.2)


def _leftover_node_processes(cp: ControlPlane) -> list[procs.ProcInfo]:
    return [p for p in procs.processes_mentioning(f"{cp.workdir}/")
            if Path(p.argv[0]).name in ("kubelet", "containerd") or Path(p.argv[0]).name.startswith("containerd-shim")]


def down(cp: ControlPlane) -> None:
    """Stop the kubelet, the containers and containerd, and undo every host change the node made.
    A no-op for a workdir that does not own this machine's node (apart from its own processes).
    Works without the workdir's state.json too (a workdir removed while its node ran)."""
    ours = host_owner() == str(cp.workdir)
    state = State.load(cp.workdir)
    names = [n for n in ("kubelet", "containerd", RELAY) if state is not None and n in state.processes]
    if not ours and not names:
        return
    if "kubelet" in names:
        cp._terminate(["kubelet"], 20)
    if ours:
        _kill_containers(cp)
    if "containerd" in names:
        cp._terminate(["containerd"], 20)
    if RELAY in names:
        cp._terminate([RELAY], 10)
    leftovers = _leftover_node_processes(cp)  # shims (they outlive containerd), or processes of a lost state.json
    if leftovers:
        procs.terminate([(p.pid, p.starttime) for p in leftovers], f"{cp.workdir}/", 10, first_signal=signal.SIGKILL)
    for name in names:
        cp.forget(name)
    if ours:
        _restore_host(cp)


def _restore_host(cp: ControlPlane) -> None:
    record = json.loads(HOST_LOCK.read_text())
    _unmount_under(node_dir(cp))
    if _bridge_exists():
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
    for path in HOST_PATHS:
        if path not in record["paths_existed"]:
            _unmount_under(Path(path))
            shutil.rmtree(path, ignore_errors=True)
    for name, value in record["sysctls"].items():
        if _read_sysctl(name) != value:
            Path("/proc/sys", name).write_text(value)
    _remove_cgroups()
    HOST_LOCK.unlink()
    log.info("node %s removed; host changes undone", NODE_NAME)
