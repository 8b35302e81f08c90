"""Re-issuing kubeadm's certificates with chosen validity, for the fault knobs.

kubeadm (the real binary) creates and renews the PKI; this module only forges what kubeadm
will not: certificates that are already expired. A re-issued certificate keeps the original's
subject (CN and O decide the identity the apiserver sees), SANs and extensions, and is signed
by the same CA, so only its validity differs from what kubeadm made. kubeadm's own renewal
(`kubeadm certs renew`) copies subject/SANs from the existing file, so it repairs these.

Keys are written the way kubeadm writes them (PKCS#1 "RSA PRIVATE KEY" / SEC1 "EC PRIVATE
KEY", 0600). Nothing here prints key or certificate material.
"""
from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID

# Leaf certificates `kubeadm certs renew all` renews, relative to certificatesDir
# (kubeadm cmd/kubeadm/app/phases/certs/certlist.go). CAs and sa.key are not renewed.
LEAF_CERTS = (
    "apiserver", "apiserver-kubelet-client", "apiserver-etcd-client", "front-proxy-client",
    "etcd/server", "etcd/peer", "etcd/healthcheck-client",
)
# Kubeconfigs kubeadm renews (kubelet.conf is not: the kubelet rotates its own certificate).
RENEWED_KUBECONFIGS = ("admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def load_key(path: Path):
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _new_key_like(key):
    if isinstance(key, rsa.RSAPrivateKey):
        return rsa.generate_private_key(public_exponent=65537, key_size=key.key_size)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(key.curve)
    raise ValueError(f"unsupported key type {type(key).__name__}")


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def reissue(template: x509.Certificate, key, ca_cert: x509.Certificate, ca_key,
            not_before: dt.datetime, not_after: dt.datetime) -> x509.Certificate:
    """A copy of `template` for `key` with the given validity, signed by the CA."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(template.subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for ext in template.extensions:
        if ext.oid == ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
            continue  # recomputed below from the CA
        if ext.oid == ExtensionOID.SUBJECT_KEY_IDENTIFIER:
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), ext.critical)
            continue
        builder = builder.add_extension(ext.value, ext.critical)
    builder = builder.add_extension(_authority_key_id(ca_cert), False)
    return builder.sign(ca_key, hashes.SHA256())


def _authority_key_id(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    # Copy the CA's own SubjectKeyIdentifier: Go >= 1.25 derives it from a truncated SHA-256
    # (RFC 7093), not the SHA-1 that from_issuer_public_key computes, and OpenSSL-based
    # verifiers (Python's ssl) will not find the issuer when the two differ.
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def expired_window(days_ago_start: int = 400, days_ago_end: int = 35) -> tuple[dt.datetime, dt.datetime]:
    t = now()
    return t - dt.timedelta(days=days_ago_start), t - dt.timedelta(days=days_ago_end)


def valid_window(days: int = 365) -> tuple[dt.datetime, dt.datetime]:
    """kubeadm's leaf validity: one year, back-dated a little for clock skew."""
    t = now()
    return t - dt.timedelta(minutes=5), t + dt.timedelta(days=days)


def _write_private(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` atomically, keeping its mode (0600 for keys and kubeconfigs)."""
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# --- kubeconfigs -----------------------------------------------------------------------------

def read_kubeconfig(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def write_kubeconfig(path: Path, config: dict) -> None:
    _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())


def kubeconfig_client_cert(path: Path) -> x509.Certificate:
    user = read_kubeconfig(path)["users"][0]["user"]
    return x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))


def set_kubeconfig_server(path: Path, server: str) -> None:
    """Point every cluster entry at `server` (kubeadm writes the advertise address into
    controller-manager.conf and scheduler.conf; ours listens on 127.0.0.1 only)."""
    config = read_kubeconfig(path)
    for cluster in config.get("clusters", []):
        cluster["cluster"]["server"] = server
    write_kubeconfig(path, config)


def reissue_kubeconfig_cert(path: Path, ca_crt: Path, ca_key_path: Path,
                            not_before: dt.datetime, not_after: dt.datetime) -> x509.Certificate:
    """Replace the kubeconfig's embedded client certificate and key with a new key pair whose
    certificate has the same subject and usages, and the given validity."""
    config = read_kubeconfig(path)
    user = config["users"][0]["user"]
    old_cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
    old_key = serialization.load_pem_private_key(base64.b64decode(user["client-key-data"]), None)
    key = _new_key_like(old_key)
    cert = reissue(old_cert, key, load_cert(ca_crt), load_key(ca_key_path), not_before, not_after)
    user["client-certificate-data"] = base64.b64encode(
        cert.public_bytes(serialization.Encoding.PEM)).decode()
    user["client-key-data"] = base64.b64encode(key_pem(key)).decode()
    write_kubeconfig(path, config)
    return cert


def reissue_cert_file(crt: Path, key_path: Path, ca_crt: Path, ca_key_path: Path,
                      not_before: dt.datetime, not_after: dt.datetime) -> x509.Certificate:
    """Re-sign a certificate file for its existing key (same SANs, new validity)."""
    key = load_key(key_path)
    cert = reissue(load_cert(crt), key, load_cert(ca_crt), load_key(ca_key_path),
                   not_before, not_after)
    _write_private(crt, cert.public_bytes(serialization.Encoding.PEM))
    return cert


def signing_ca(pki: Path, leaf: str) -> tuple[Path, Path]:
    """The CA that signs a kubeadm leaf (etcd/* by etcd/ca, front-proxy-client by
    front-proxy-ca, the rest by ca)."""
    if leaf.startswith("etcd/"):
        name = "etcd/ca"
    elif leaf == "front-proxy-client":
        name = "front-proxy-ca"
    else:
        name = "ca"
    return pki / f"{name}.crt", pki / f"{name}.key"


def is_valid_now(cert: x509.Certificate, margin: dt.timedelta = dt.timedelta(0)) -> bool:
    t = now()
    return cert.not_valid_before_utc <= t and t + margin < cert.not_valid_after_utc


def all_certificates(workdir: Path, pki: Path) -> dict[str, x509.Certificate]:
    """Every certificate kubeadm renews, by display name (as in `kubeadm certs check-expiration`)."""
    certs = {leaf: load_cert(pki / f"{leaf}.crt") for leaf in LEAF_CERTS}
    for conf in RENEWED_KUBECONFIGS:
        certs[conf] = kubeconfig_client_cert(workdir / conf)
    return certs
