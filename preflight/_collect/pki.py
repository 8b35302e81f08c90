"""Read every row of the kubeadm PKI table (``facts/pki.py``) from a node's disk: the only I/O
of ``preflight certs``. CAs are read first, so the leaves can be related to them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from kube_client._errors import ConfigError
from kube_client._kubeconfig import load_kubeconfig
from kube_client._pem import key_matches, load_certificates, load_private_key, load_public_key

from .._facts.pki import KUBEADM_PKI, Kind, PkiEntry, PkiSpec, Root
from .._facts.x509 import describe, issued_by

__all__ = ["collect_pki", "kubeadm_dir"]


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
