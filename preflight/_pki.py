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
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from kube_client._errors import ConfigError
from kube_client._kubeconfig import load_kubeconfig
from ._model import Finding, Outcome
from ._x509 import (
    CertInfo,
    ExpiryPolicy,
    describe,
    issued_by,
    key_matches,
    load_certificates,
    load_private_key,
    load_public_key,
    rfc3339,
)

__all__ = ["KUBEADM_PKI", "Kind", "PkiEntry", "PkiSpec", "Root", "collect_pki", "judge_entry", "kubeadm_dir"]


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


def _first_existing(base: Path, spec: PkiSpec) -> Path:
    for rel in (spec.path, *spec.alternatives):
        if (base / rel).exists():
            return base / rel
    return base / spec.path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from None


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def _kubeconfig_cert(path: Path) -> tuple[x509.Certificate, bytes | None, bytes | None, str]:
    """The client certificate, key and CA bytes a node kubeconfig carries, and where the
    certificate came from when it is a reference (kubelet.conf -> kubelet-client-current.pem)."""
    config = load_kubeconfig([path], explicit=True)
    view = config.context()
    creds = view.credentials
    if creds.client_cert is None:
        raise ConfigError(f"user {creds.user!r} has no client certificate", source=str(path))
    cert_bytes = creds.client_cert.require()
    key_bytes = creds.client_key.require() if creds.client_key is not None else None
    ca_bytes = view.cluster.ca.data if view.cluster.ca is not None else None
    referenced = str(creds.client_cert.path) if creds.client_cert.path is not None else ""
    return load_certificates(cert_bytes, source=creds.client_cert.source)[0], key_bytes, ca_bytes, referenced


def _collect_one(spec: PkiSpec, base: Path, path: Path, cas: dict[str, x509.Certificate]) -> PkiEntry:
    if not path.exists():
        return PkiEntry(spec=spec, path=path, missing=True)
    mtime = _mtime(path)
    try:
        if spec.kind is Kind.KEYPAIR:
            pub = load_public_key(_read(path), source=str(path))
            key = load_private_key(_read(base / spec.key), source=str(base / spec.key))
            return PkiEntry(spec=spec, path=path, key_ok=pub == key.public_key(), mtime=mtime)
        referenced, ca_matches = "", None
        key_bytes: bytes | None = None
        if spec.kind is Kind.KUBECONFIG:
            cert, key_bytes, ca_bytes, referenced = _kubeconfig_cert(path)
            if ca_bytes is not None and "ca" in cas:
                ca_matches = any(c == cas["ca"] for c in load_certificates(ca_bytes, source=f"{path}: certificate-authority-data"))
        else:
            data = _read(path)
            cert = load_certificates(data, source=str(path))[0]
            if spec.key:
                key_bytes = _read(base / spec.key) if (base / spec.key).exists() else None
            elif b"PRIVATE KEY" in data:  # kubelet-client-current.pem holds both
                key_bytes = data
        key_ok = None
        if key_bytes is not None:
            key_ok = key_matches(cert, load_private_key(key_bytes, source=f"{path} (key)"))
        ca_cert = cas.get(spec.ca) if spec.ca else None
        issuer_ok = issued_by(cert, ca_cert) if ca_cert is not None else None
        if spec.kind is Kind.CA:
            issuer_ok = issued_by(cert, cert)
            cas[spec.name] = cert  # later rows are related to it
        return PkiEntry(
            spec=spec,
            path=path,
            cert=describe(cert),
            externally_managed=spec.kind is Kind.CA and key_bytes is None,
            issuer_ok=issuer_ok,
            key_ok=key_ok,
            ca_matches=ca_matches,
            mtime=mtime,
            referenced=referenced,
        )
    except ConfigError as exc:
        return PkiEntry(spec=spec, path=path, problem=str(exc), mtime=mtime)


def kubeadm_dir(given: Path) -> Path:
    """The kubeadm folder (``/etc/kubernetes``), also when given its ``pki`` subfolder."""
    if not given.is_dir():
        raise ConfigError("is not a directory", source=str(given), fix="pass --pki-dir /etc/kubernetes")
    if (given / "ca.crt").exists() and not (given / "pki").is_dir():
        return given.parent
    if not (given / "pki").is_dir():
        raise ConfigError("has no pki folder: not a kubeadm layout", source=str(given), fix="pass --pki-dir /etc/kubernetes")
    return given


def collect_pki(kubernetes_dir: Path, kubelet_dir: Path) -> list[PkiEntry]:
    """Read every row of ``KUBEADM_PKI`` from disk (CAs first, so leaves can be related)."""
    roots = {Root.KUBERNETES: kubernetes_dir, Root.KUBELET: kubelet_dir}
    cas: dict[str, x509.Certificate] = {}
    entries = []
    for spec in KUBEADM_PKI:
        path = _first_existing(roots[spec.root], spec)
        if spec.root is Root.KUBELET and not kubelet_dir.is_dir():
            entries.append(PkiEntry(spec=spec, path=path, absent_reason=f"no kubelet directory at {kubelet_dir}"))
            continue
        if spec.etcd and not (kubernetes_dir / "pki" / "etcd").is_dir():
            entries.append(PkiEntry(spec=spec, path=path, absent_reason="no pki/etcd folder: etcd is external or not on this node"))
            continue
        entries.append(_collect_one(spec, roots[spec.root], path, cas))
    return entries


# -- judging ------------------------------------------------------------------------------

_CA_ROTATION = "https://kubernetes.io/docs/tasks/tls/manual-rotation-of-ca-certificates/"
_KUBELET_CERT = "https://kubernetes.io/docs/setup/production-environment/tools/kubeadm/troubleshooting-kubeadm/#kubelet-client-cert"
RESTART_HOWTO = (
    "move its manifest out of /etc/kubernetes/manifests and back after 20s, or 'crictl stop' its "
    "container (deleting the mirror pod with kubectl does not restart a static pod)"
)


def _renew_remedy(spec: PkiSpec) -> str:
    if spec.kind is Kind.CA:
        return f"kubeadm does not renew CAs; plan a CA rotation: {_CA_ROTATION}"
    if spec.root is Root.KUBELET or spec.name == "kubelet.conf":
        return f"the kubelet rotates this itself; check that it runs and that kubelet.conf points at kubelet-client-current.pem: {_KUBELET_CERT}"
    fix = f"run 'kubeadm certs renew {spec.name}' (or 'renew all') on every control-plane node"
    if spec.used_by:
        fix += f", then restart {', '.join(spec.used_by)} for real: {RESTART_HOWTO}"
    if spec.name == "admin.conf":
        fix += "; then replace every copy of admin.conf (~/.kube/config, CI credentials such as Jenkins')"
    return fix


def _evidence(entry: PkiEntry, now: datetime) -> dict[str, object]:
    ev: dict[str, object] = {
        "path": str(entry.path),
        "kind": entry.spec.kind.value,
        "missing": entry.missing,
        "not_after": None,
        "residual": None,
        "externally_managed": entry.externally_managed,
        "issuer_ok": entry.issuer_ok,
        "ca": entry.spec.ca or None,
    }
    if entry.cert is not None:
        ev.update(entry.cert.evidence(now))
    if entry.key_ok is not None:
        ev["key_matches"] = entry.key_ok
    if entry.ca_matches is not None:
        ev["ca_matches_pki"] = entry.ca_matches
    if entry.referenced:
        ev["client_certificate_file"] = entry.referenced
    if entry.mtime is not None:
        ev["modified"] = rfc3339(entry.mtime)
    return ev


def judge_entry(entry: PkiEntry, now: datetime, expiry: ExpiryPolicy) -> Finding:
    spec = entry.spec
    fid = f"pki.{spec.name}"
    ev = _evidence(entry, now)
    if entry.absent_reason:
        return Finding(id=fid, outcome=Outcome.SKIP, message=f"{spec.name}: not checked, {entry.absent_reason}", evidence=ev)
    if entry.missing:
        if spec.optional:
            return Finding(id=fid, outcome=Outcome.WARN, message=f"{spec.name} is missing; {spec.optional}", evidence=ev)
        return Finding(
            id=fid,
            outcome=Outcome.FAIL,
            message=f"{spec.name} is missing ({entry.path})",
            remediation=f"restore it from a backup of /etc/kubernetes, or recreate it with 'kubeadm init phase {'kubeconfig' if spec.kind is Kind.KUBECONFIG else 'certs'}'",
            evidence=ev,
        )
    if entry.problem:
        return Finding(id=fid, outcome=Outcome.FAIL, message=f"{spec.name}: {entry.problem}", remediation=_renew_remedy(spec), evidence=ev)
    if spec.kind is Kind.KEYPAIR:
        if entry.key_ok:
            return Finding(id=fid, outcome=Outcome.PASS, message="sa.key and sa.pub are a matching pair", evidence=ev)
        return Finding(
            id=fid,
            outcome=Outcome.FAIL,
            message="sa.key and sa.pub do not match: the API server will reject ServiceAccount tokens the controller-manager signs",
            remediation="restore the pair from a backup; every control-plane node must have the same sa.key and sa.pub",
            evidence=ev,
        )
    assert entry.cert is not None
    outcome, phrase = expiry.judge(entry.cert, now)
    what = "client certificate" if spec.kind is Kind.KUBECONFIG else ("CA" if spec.kind is Kind.CA else "certificate")
    problems: list[tuple[Outcome, str, str]] = []
    if entry.key_ok is False:
        problems.append((Outcome.FAIL, "its private key does not match the certificate", _renew_remedy(spec)))
    if entry.issuer_ok is False:
        signer = "itself (a CA must be self-signed)" if spec.kind is Kind.CA else spec.ca
        problems.append((Outcome.FAIL, f"it is not signed by {signer}", _renew_remedy(spec)))
    if entry.ca_matches is False:
        problems.append((
            Outcome.FAIL,
            "it embeds a CA other than pki/ca.crt (copied from another cluster?)",
            f"regenerate it with 'kubeadm init phase kubeconfig {spec.name.removesuffix('.conf')}'",
        ))
    suffix = " (externally managed: no CA key on this node)" if entry.externally_managed else ""
    message = f"{spec.name}: {what} {phrase}{suffix}"
    remediation = _renew_remedy(spec) if outcome is not Outcome.PASS else ""
    for problem_outcome, text, fix in problems:
        outcome = problem_outcome
        message += f"; {text}"
        remediation = fix
    return Finding(id=fid, outcome=outcome, message=message, remediation=remediation, evidence=ev)


def iter_specs_using(component: str) -> Iterator[PkiSpec]:
    """The rows a component loads at start: what it must be restarted to pick up."""
    return (s for s in KUBEADM_PKI if component in s.used_by)
