"""Generate kubeadm-like certificates and trees for tests, relative to a given "now".

Like kubeadm: CAs valid 10 years, leaves 1 year, client certificates with O= groups,
kubeconfigs embedding the client certificate and the cluster CA. Each helper takes the
knobs a test needs (validity window, signer, key), so a test says what it breaks.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

YEAR = timedelta(days=365)
NOW = datetime.now(UTC).replace(microsecond=0)

_KEY_CACHE: list[ec.EllipticCurvePrivateKey] = []


def new_key() -> ec.EllipticCurvePrivateKey:
    # EC keys are fast to generate; kubeadm uses RSA by default, and one RSA test covers that.
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _shared_sa_key() -> rsa.RSAPrivateKey:
    """The sa.key of every kubeadm tree that is not given its own: an RSA 2048 key takes tens of
    milliseconds to make, and what a tree needs is an RSA key whose sa.pub matches it."""
    return rsa_key()


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(
    cn: str = "kubernetes",
    *,
    now: datetime = NOW,
    not_before: timedelta = timedelta(0),
    lifetime: timedelta = 10 * YEAR,
    key_usage: bool = True,
) -> Issued:
    """A self-signed CA. ``key_usage=False`` omits KeyUsage, as some private PKIs do."""
    key = new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before)
        .not_valid_after(now + not_before + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    return Issued(builder.sign(key, hashes.SHA256()), key)


def make_leaf(
    ca: Issued,
    cn: str,
    *,
    orgs: tuple[str, ...] = (),
    sans: tuple[str, ...] = (),
    now: datetime = NOW,
    not_before: timedelta = timedelta(0),
    lifetime: timedelta = YEAR,
    server: bool = False,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> Issued:
    """A certificate signed by ``ca``, valid from ``now + not_before`` for ``lifetime``."""
    key = key or new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, orgs))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before)
        .not_valid_after(now + not_before + lifetime)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    if sans:
        names: list[x509.GeneralName] = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig_doc(
    *,
    server: str = "https://127.0.0.1:6443",
    ca: Issued | None = None,
    client: Issued | None = None,
    token: str | None = None,
    user: str = "kubernetes-admin",
    context: str = "kubernetes-admin@kubernetes",
    cluster: str = "kubernetes",
    namespace: str | None = None,
    extra_user: dict[str, object] | None = None,
) -> dict[str, object]:
    """A kubeconfig like kubeadm writes (embedded data), as a dict."""
    cluster_body: dict[str, object] = {"server": server}
    if ca is not None:
        cluster_body["certificate-authority-data"] = b64(ca.cert_pem)
    user_body: dict[str, object] = dict(extra_user or {})
    if client is not None:
        user_body["client-certificate-data"] = b64(client.cert_pem)
        user_body["client-key-data"] = b64(client.key_pem)
    if token is not None:
        user_body["token"] = token
    ctx: dict[str, object] = {"cluster": cluster, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": cluster_body}],
        "users": [{"name": user, "user": user_body}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
    }


def write(path: Path, data: bytes | str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    return path


# libyaml's emitter when PyYAML has it: the pure-Python one spends milliseconds per kubeconfig on
# the long base64 certificate scalars (hundreds of kubeconfigs per run). Same YAML, read back alike.
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def write_kubeconfig(path: Path, doc: dict[str, object], mode: int = 0o600) -> Path:
    return write(path, yaml.dump(doc, Dumper=_Dumper, sort_keys=False), mode)


# -- a whole kubeadm tree ----------------------------------------------------------------

# Leaf name -> (file base under pki/, signing CA, CN, orgs, server?)
LEAVES = {
    "apiserver": ("apiserver", "ca", "kube-apiserver", (), True),
    "apiserver-kubelet-client": ("apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",), False),
    "front-proxy-client": ("front-proxy-client", "front-proxy-ca", "front-proxy-client", (), False),
    "etcd-server": ("etcd/server", "etcd-ca", "node", (), True),
    "etcd-peer": ("etcd/peer", "etcd-ca", "node", (), True),
    "etcd-healthcheck-client": ("etcd/healthcheck-client", "etcd-ca", "kube-etcd-healthcheck-client", (), False),
    "apiserver-etcd-client": ("apiserver-etcd-client", "etcd-ca", "kube-apiserver-etcd-client", (), False),
}
CAS = {"ca": "ca", "front-proxy-ca": "front-proxy-ca", "etcd-ca": "etcd/ca"}
KUBECONFIGS = {
    "admin.conf": ("kubernetes-admin", ("kubeadm:cluster-admins",)),
    "super-admin.conf": ("kubernetes-super-admin", ("system:masters",)),
    "controller-manager.conf": ("system:kube-controller-manager", ()),
    "scheduler.conf": ("system:kube-scheduler", ()),
    "kubelet.conf": ("system:node:node", ("system:nodes",)),
}


@dataclass
class KubeadmTree:
    """A kubeadm layout on disk: ``root`` is /etc/kubernetes, ``kubelet`` is /var/lib/kubelet."""

    root: Path
    kubelet: Path
    cas: dict[str, Issued] = field(default_factory=dict)
    leaves: dict[str, Issued] = field(default_factory=dict)

    @property
    def pki(self) -> Path:
        return self.root / "pki"


def kubeadm_tree(
    base: Path,
    *,
    now: datetime = NOW,
    overrides: dict[str, dict[str, object]] | None = None,
    kubelet: bool = True,
    sa_key: rsa.RSAPrivateKey | None = None,
) -> KubeadmTree:
    """A full kubeadm tree under ``base``. ``overrides[name]`` passes keyword arguments to
    ``make_leaf``/``make_ca`` for that row (e.g. ``{"apiserver": {"not_before": -400 days}}``).
    ``sa_key`` is the service-account key pair (sa.key, sa.pub); trees share one unless given theirs."""
    overrides = overrides or {}
    tree = KubeadmTree(root=base / "etc-kubernetes", kubelet=base / "var-lib-kubelet")
    for name, rel in CAS.items():
        ca = make_ca(name if name != "ca" else "kubernetes", now=now, **overrides.get(name, {}))  # type: ignore[arg-type]
        tree.cas[name] = ca
        write(tree.pki / f"{rel}.crt", ca.cert_pem, 0o644)
        write(tree.pki / f"{rel}.key", ca.key_pem)
    for name, (rel, ca_name, cn, orgs, server) in LEAVES.items():
        kwargs: dict[str, object] = {"orgs": orgs, "server": server, "now": now, "sans": ("127.0.0.1", "localhost") if server else ()}
        kwargs.update(overrides.get(name, {}))
        leaf = make_leaf(tree.cas[ca_name], cn, **kwargs)  # type: ignore[arg-type]
        tree.leaves[name] = leaf
        write(tree.pki / f"{rel}.crt", leaf.cert_pem, 0o644)
        write(tree.pki / f"{rel}.key", leaf.key_pem)
    sa = sa_key or _shared_sa_key()
    write(tree.pki / "sa.key", Issued(tree.cas["ca"].cert, sa).key_pem)
    write(tree.pki / "sa.pub", sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    for conf, (cn, orgs) in KUBECONFIGS.items():
        kwargs = {"orgs": orgs, "now": now}
        kwargs.update(overrides.get(conf, {}))
        client = make_leaf(tree.cas["ca"], cn, **kwargs)  # type: ignore[arg-type]
        tree.leaves[conf] = client
        write_kubeconfig(tree.root / conf, kubeconfig_doc(ca=tree.cas["ca"], client=client, user=cn, context=f"{cn}@kubernetes"))
    if kubelet:
        client = make_leaf(tree.cas["ca"], "system:node:node", orgs=("system:nodes",), now=now, **overrides.get("kubelet-client-current.pem", {}))  # type: ignore[arg-type]
        tree.leaves["kubelet-client-current.pem"] = client
        write(tree.kubelet / "pki" / "kubelet-client-current.pem", client.cert_pem + client.key_pem)
        serving_ca = make_ca("node-ca@1700000000", now=now)
        serving = make_leaf(serving_ca, "node@1700000000", sans=("node",), server=True, now=now)
        tree.leaves["kubelet-serving"] = serving
        write(tree.kubelet / "pki" / "kubelet.crt", serving.cert_pem, 0o644)
        write(tree.kubelet / "pki" / "kubelet.key", serving.key_pem)
    return tree
