"""The offline certificate engine: load, describe, relate and judge X.509 certificates.

Loads PEM (one or a bundle) and DER certificates and PEM/DER private keys; tells whether a
key belongs to a certificate and whether a certificate was signed by a given CA; judges
validity against the warn/fail thresholds.

Private PKIs such as kubeadm's lack extensions that web-PKI verification insists on (a CA
without KeyUsage, leaves without AuthorityKeyIdentifier). So "signed by" here means what the
API server's client-certificate authenticator needs: the issuer name matches and the CA's
key verifies the signature (``Certificate.verify_directly_issued_by``); no extension policy.

What this module does not do: read files (callers pass bytes and name their source), or talk
to the network. Every parse failure is a ``ConfigError`` naming the source.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from kube_client._durations import format_residual
from kube_client._pem import PARSE_ERRORS as _PARSE_ERRORS
from kube_client._pem import key_matches, load_certificates, load_private_key, load_public_key

__all__ = ["CertInfo", "chains_to", "describe", "issued_by", "key_matches", "load_certificates", "load_private_key", "load_public_key", "rfc3339", "san_matches"]

def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """True when ``ca`` signed ``cert``: issuer name matches and the signature verifies."""
    try:
        cert.verify_directly_issued_by(ca)
    except (*_PARSE_ERRORS, InvalidSignature):
        return False
    return True


def chains_to(
    leaf: x509.Certificate, roots: Sequence[x509.Certificate], intermediates: Sequence[x509.Certificate] = ()
) -> bool:
    """True when a path of signatures leads from ``leaf`` to one of ``roots``."""
    current, pool = leaf, list(intermediates)
    for _ in range(len(pool) + 1):
        if any(issued_by(current, root) for root in roots):
            return True
        parent = next((c for c in pool if issued_by(current, c)), None)
        if parent is None:
            return False
        pool.remove(parent)
        current = parent
    return False


@dataclass(frozen=True, kw_only=True)
class CertInfo:
    """What a person asks of a certificate, as plain values."""

    subject: str
    issuer: str
    serial: str  # decimal, as the API server's x509 log lines quote it ("SN=...")
    sha256: str
    sans: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    is_ca: bool

    def residual(self, now: datetime) -> str:
        return format_residual(self.not_after - now)

    def evidence(self, now: datetime) -> dict[str, object]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "sha256": self.sha256,
            "sans": list(self.sans),
            "not_before": rfc3339(self.not_before),
            "not_after": rfc3339(self.not_after),
            "residual": self.residual(now),
            "expired": now > self.not_after,
            "not_yet_valid": now < self.not_before,
        }


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, *_PARSE_ERRORS):
        return ()
    ips = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return tuple(ext.get_values_for_type(x509.DNSName)) + tuple(ips)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, *_PARSE_ERRORS):
        return False


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except _PARSE_ERRORS:
        return "<unreadable name>"


def describe(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        serial=str(cert.serial_number),
        sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
        sans=_sans(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=_is_ca(cert),
    )


def san_matches(info: CertInfo, host: str) -> bool:
    """Does the certificate name ``host``? IPs compare as addresses; DNS names allow one
    leading wildcard label, as Go's crypto/x509 VerifyHostname does."""
    try:
        wanted_ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        wanted_ip = None
    for san in info.sans:
        if wanted_ip is not None:
            try:
                if ipaddress.ip_address(san) == wanted_ip:
                    return True
            except ValueError:
                continue
        elif san.lower() == host.lower() or (
            san.startswith("*.") and host.lower().partition(".")[2] == san[2:].lower()
        ):
            return True
    return False


