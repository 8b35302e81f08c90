"""Node-mode facts, read on a control-plane node: running processes and served certificates.

The incident's trap: ``kubeadm certs renew all`` rewrites the files, but the components keep
what they loaded at start, and deleting a static pod's mirror pod restarts nothing. So we
measure instead of assuming: which control-plane processes run, since when, with which of the
kubeadm folder's files as arguments (and when each file last changed), and which certificate
kube-apiserver and etcd actually serve compared with the one on disk.

Processes are found in /proc by name and kept only when an argument points into the kubeadm
folder, so several clusters on one machine (as in this project's tests) are told apart. In a
container without the host's PID namespace none are visible, and the checks say so.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.serialization import Encoding

from kube_client._deadline import Deadline
from kube_client._errors import PreflightError
from kube_client._kubeconfig import load_kubeconfig
from kube_client._pem import load_certificates

from .._facts.node import COMPONENTS, RELOADED_FLAGS, FileArg, NodeFacts, ProcessInfo, ServedCert
from .probe import probe_tls

__all__ = ["COMPONENTS", "RELOADED_FLAGS", "FileArg", "NodeFacts", "ProcessInfo", "ServedCert", "collect_node"]


def _boot_time() -> float:
    """When this machine booted, to 10 ms: now minus /proc/uptime (btime in /proc/stat is
    whole seconds, too coarse to order a renewal made within a second of a restart)."""
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - uptime
    except (OSError, ValueError, IndexError):
        pass
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def _start_time(pid: int, boot: float) -> datetime:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    ticks = int(fields[19])  # field 22 of proc(5), counted after pid and comm
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)


def _flag_values(args: tuple[str, ...]) -> list[tuple[str, str]]:
    """(flag, value) for ``--flag=value`` and ``--flag value``."""
    pairs = []
    for i, arg in enumerate(args):
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            pairs.append((name, value))
        elif arg.startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
            pairs.append((arg[2:], args[i + 1]))
    return pairs


def _flag(args: tuple[str, ...], name: str) -> str:
    for i, arg in enumerate(args):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
        if arg == f"--{name}" and i + 1 < len(args):
            return args[i + 1]
    return ""


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def find_processes(kubeadm_dir: Path, proc: Path = Path("/proc")) -> list[ProcessInfo]:
    """Control-plane processes whose arguments point into ``kubeadm_dir``."""
    root = str(kubeadm_dir.resolve()).rstrip("/") + "/"
    boot = _boot_time()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = tuple(a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a)
            if not argv or os.path.basename(argv[0]) not in COMPONENTS or not any(root in a for a in argv):
                continue
            started = _start_time(int(entry.name), boot)
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked, or is not ours to read
        component = os.path.basename(argv[0])
        files = {}
        for flag, value in _flag_values(argv[1:]):
            for part in value.split(","):
                path = Path(part)
                if part.startswith(root) and path.is_file() and (m := _mtime(path)) is not None:
                    files[part] = FileArg(flag=flag, modified=m, reloaded=flag in RELOADED_FLAGS.get(component, frozenset()))
        found.append(ProcessInfo(component=component, pid=int(entry.name), started=started, args=argv[1:], files=files))
    return sorted(found, key=lambda p: (COMPONENTS.index(p.component), p.pid))


def _apiserver_endpoint(kubeadm_dir: Path, processes: list[ProcessInfo]) -> str:
    for p in processes:
        if p.component == "kube-apiserver":
            host = _flag(p.args, "advertise-address") or _flag(p.args, "bind-address") or "127.0.0.1"
            return f"{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{_flag(p.args, 'secure-port') or '6443'}"
    # No process visible: kubeadm points controller-manager.conf at this node's API endpoint.
    try:
        server = load_kubeconfig([kubeadm_dir / "controller-manager.conf"], explicit=True).context().cluster.server
    except PreflightError:
        return ""
    parts = urlsplit(server)
    return f"{parts.hostname}:{parts.port or 443}"


def _etcd_endpoint(processes: list[ProcessInfo]) -> str:
    for p in processes:
        if p.component == "etcd":
            urls = [u for u in _flag(p.args, "listen-client-urls").split(",") if u.startswith("https://")]
            if urls:
                parts = urlsplit(urls[0])
                return f"{'127.0.0.1' if parts.hostname in ('0.0.0.0', '::') else parts.hostname}:{parts.port}"
    return ""


def _served(component: str, endpoint: str, disk: Path, deadline: Deadline, client_pair: tuple[str, str] | None) -> ServedCert:
    disk_der = None
    if disk.exists():
        try:
            disk_der = load_certificates(disk.read_bytes(), source=str(disk))[0].public_bytes(Encoding.DER)
        except PreflightError:
            disk_der = None
    served_der, problem = None, ""
    if not endpoint:
        problem = "endpoint unknown: process not visible"
    else:
        host, _, port = endpoint.rpartition(":")
        try:
            probe = probe_tls(host, int(port), server_name=host, deadline=deadline, client_pair=client_pair)
            served_der = probe.chain[0] if probe.chain else None
        except PreflightError as exc:
            problem = str(exc)
    return ServedCert(component=component, endpoint=endpoint, disk_path=str(disk), served_der=served_der,
                      disk_der=disk_der, disk_mtime=_mtime(disk), problem=problem)


def collect_node(kubeadm_dir: Path, deadline: Deadline) -> NodeFacts:
    proc_visible = Path("/proc/self/stat").exists()
    processes = find_processes(kubeadm_dir) if proc_visible else []
    pki = kubeadm_dir / "pki"
    # etcd requires client certificates; present the healthcheck client's, as kubeadm's probe does.
    etcd_client = (str(pki / "etcd/healthcheck-client.crt"), str(pki / "etcd/healthcheck-client.key"))
    has_client = all(Path(p).exists() for p in etcd_client)
    served = (
        _served("kube-apiserver", _apiserver_endpoint(kubeadm_dir, processes), pki / "apiserver.crt", deadline, None),
        _served("etcd", _etcd_endpoint(processes), pki / "etcd/server.crt", deadline, etcd_client if has_client else None),
    )
    return NodeFacts(kubeadm_dir=str(kubeadm_dir), processes=tuple(processes), served=served, proc_visible=proc_visible)
