"""The facts of node mode (``--node``, ``certs --compare-served``): control-plane processes,
the files they loaded, and what etcd and kube-apiserver serve next to what is on disk.

Collected by ``collect/node.py`` (reads /proc and local files), judged by ``checks/node.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["COMPONENTS", "FileArg", "NodeFacts", "ProcessInfo", "ServedCert"]

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


# Flags whose files a component re-reads by itself, so a renewal needs no restart for them:
# etcd reloads its certificates for every new connection (etcd-io/etcd#7829, v3.2+);
# kube-apiserver and the other k8s.io/apiserver-based servers reload serving certificates and
# client CAs (k8s.io/apiserver/pkg/server/dynamiccertificates). Both were also measured by this
# project's cluster tests (renew-without-restart: the renewed serving certificates are served).
# Everything else (kubeconfig client certificates, etcd and kubelet client pairs) is read once.
RELOADED_FLAGS: dict[str, frozenset[str]] = {
    "etcd": frozenset({"cert-file", "key-file", "peer-cert-file", "peer-key-file", "trusted-ca-file", "peer-trusted-ca-file"}),
    "kube-apiserver": frozenset({"tls-cert-file", "tls-private-key-file", "client-ca-file", "requestheader-client-ca-file"}),
    "kube-controller-manager": frozenset({"client-ca-file", "requestheader-client-ca-file"}),
    "kube-scheduler": frozenset({"client-ca-file", "requestheader-client-ca-file"}),
}


@dataclass(frozen=True, kw_only=True)
class ProcessInfo:
    component: str
    pid: int
    started: datetime
    args: tuple[str, ...]
    files: dict[str, FileArg] = field(default_factory=dict)  # argument files under the kubeadm folder


@dataclass(frozen=True, kw_only=True)
class FileArg:
    flag: str  # without dashes
    modified: datetime
    reloaded: bool  # the component re-reads it by itself


@dataclass(frozen=True, kw_only=True)
class ServedCert:
    component: str
    endpoint: str
    disk_path: str
    served_der: bytes | None
    disk_der: bytes | None
    disk_mtime: datetime | None
    problem: str = ""


@dataclass(frozen=True, kw_only=True)
class NodeFacts:
    kubeadm_dir: str
    processes: tuple[ProcessInfo, ...]
    served: tuple[ServedCert, ...]
    proc_visible: bool
