"""A kubeadm node's PKI as data, and the audit ``preflight certs`` runs over it.

``KUBEADM_PKI`` is one row per certificate, like kubeadm's own list
(cmd/kubeadm/app/phases/certs/certlist.go and renewal/manager.go, v1.37.2): every row
``kubeadm certs check-expiration`` prints, plus what it leaves out (kubelet.conf, the
kubelet's rotated client and serving certificates, the sa.key/sa.pub pair). Rows are frozen;
the audit builds new ``PkiEntry`` objects from them.

``collect_pki`` reads the files (the only I/O here) and ``judge_entry`` turns one entry into a
finding with id ``pki.<name>``. A missing file is *missing*, never expired.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .x509 import CertInfo

__all__ = ["KUBEADM_PKI", "Kind", "PkiEntry", "PkiSpec", "Root"]


class Kind(enum.Enum):
    CA = "ca"
    LEAF = "certificate"
    KUBECONFIG = "kubeconfig"
    KEYPAIR = "key pair"


class Root(enum.Enum):
    KUBERNETES = "kubernetes"  # --pki-dir, /etc/kubernetes
    KUBELET = "kubelet"  # --kubelet-dir, /var/lib/kubelet


@dataclass(frozen=True, kw_only=True)
class PkiSpec:
    """One row of kubeadm's certificate table: where it lives, who signs it, who loads it."""

    name: str  # kubeadm's name; the finding id is pki.<name>
    path: str  # relative to its root
    kind: Kind
    ca: str = ""  # the CA row that signs it ("" = self-signed or any)
    key: str = ""  # private key path when it is a separate file
    root: Root = Root.KUBERNETES
    alternatives: tuple[str, ...] = ()  # other places the same certificate may live
    used_by: tuple[str, ...] = ()  # processes that load it at start and must restart to see a new one
    optional: str = ""  # when set, missing is a warning and this says why it may be absent
    etcd: bool = False  # absent with external etcd


_APISERVER = "kube-apiserver"
KUBEADM_PKI: tuple[PkiSpec, ...] = (
    PkiSpec(name="ca", path="pki/ca.crt", key="pki/ca.key", kind=Kind.CA),
    PkiSpec(name="apiserver", path="pki/apiserver.crt", key="pki/apiserver.key", kind=Kind.LEAF, ca="ca", used_by=(_APISERVER,)),
    PkiSpec(
        name="apiserver-kubelet-client",
        path="pki/apiserver-kubelet-client.crt",
        key="pki/apiserver-kubelet-client.key",
        kind=Kind.LEAF,
        ca="ca",
        used_by=(_APISERVER,),
    ),
    PkiSpec(name="front-proxy-ca", path="pki/front-proxy-ca.crt", key="pki/front-proxy-ca.key", kind=Kind.CA),
    PkiSpec(
        name="front-proxy-client",
        path="pki/front-proxy-client.crt",
        key="pki/front-proxy-client.key",
        kind=Kind.LEAF,
        ca="front-proxy-ca",
        used_by=(_APISERVER,),
    ),
    PkiSpec(name="etcd-ca", path="pki/etcd/ca.crt", key="pki/etcd/ca.key", kind=Kind.CA, etcd=True),
    PkiSpec(
        name="etcd-server", path="pki/etcd/server.crt", key="pki/etcd/server.key", kind=Kind.LEAF, ca="etcd-ca",
        used_by=("etcd",), etcd=True,
    ),
    PkiSpec(
        name="etcd-peer", path="pki/etcd/peer.crt", key="pki/etcd/peer.key", kind=Kind.LEAF, ca="etcd-ca",
        used_by=("etcd",), etcd=True,
    ),
    PkiSpec(
        name="etcd-healthcheck-client",
        path="pki/etcd/healthcheck-client.crt",
        key="pki/etcd/healthcheck-client.key",
        kind=Kind.LEAF,
        ca="etcd-ca",
        etcd=True,
    ),
    PkiSpec(
        name="apiserver-etcd-client",
        path="pki/apiserver-etcd-client.crt",
        key="pki/apiserver-etcd-client.key",
        kind=Kind.LEAF,
        ca="etcd-ca",
        used_by=(_APISERVER,),
        etcd=True,
    ),
    PkiSpec(name="admin.conf", path="admin.conf", kind=Kind.KUBECONFIG, ca="ca"),
    PkiSpec(
        name="super-admin.conf",
        path="super-admin.conf",
        kind=Kind.KUBECONFIG,
        ca="ca",
        optional="only the first control-plane node has super-admin.conf (kubeadm 1.29+)",
    ),
    PkiSpec(
        name="controller-manager.conf", path="controller-manager.conf", kind=Kind.KUBECONFIG, ca="ca",
        used_by=("kube-controller-manager",),
    ),
    PkiSpec(name="scheduler.conf", path="scheduler.conf", kind=Kind.KUBECONFIG, ca="ca", used_by=("kube-scheduler",)),
    PkiSpec(name="kubelet.conf", path="kubelet.conf", kind=Kind.KUBECONFIG, ca="ca", used_by=("kubelet",)),
    PkiSpec(
        name="kubelet-client-current.pem",
        path="pki/kubelet-client-current.pem",
        kind=Kind.LEAF,
        ca="ca",
        root=Root.KUBELET,
    ),
    PkiSpec(
        name="kubelet-serving",
        path="pki/kubelet-server-current.pem",
        alternatives=("pki/kubelet.crt",),
        kind=Kind.LEAF,
        root=Root.KUBELET,
        used_by=("kubelet",),
    ),
    PkiSpec(name="sa", path="pki/sa.pub", key="pki/sa.key", kind=Kind.KEYPAIR, used_by=(_APISERVER, "kube-controller-manager")),
)


@dataclass(frozen=True, kw_only=True)
class PkiEntry:
    """What was found on disk for one row."""

    spec: PkiSpec
    path: Path
    absent_reason: str = ""  # the whole group is absent (no kubelet dir, external etcd)
    missing: bool = False
    problem: str = ""  # unreadable, not a certificate, ...
    cert: CertInfo | None = None
    externally_managed: bool = False
    issuer_ok: bool | None = None  # None: no CA to compare with
    key_ok: bool | None = None  # None: no separate key to compare with
    ca_matches: bool | None = None  # kubeconfigs: embedded CA == pki/ca.crt
    mtime: datetime | None = None
    referenced: str = ""  # kubelet.conf: the file its client certificate comes from
    extra: dict[str, object] = field(default_factory=dict)


# -- judging ------------------------------------------------------------------------------

def iter_specs_using(component: str) -> Iterator[PkiSpec]:
    """The rows a component loads at start: what it must be restarted to pick up."""
    return (s for s in KUBEADM_PKI if component in s.used_by)
