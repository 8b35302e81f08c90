"""PEM and DER parsing for certificates and keys, shared by the client and the checks.

Every parse failure is a ``ConfigError`` naming the source; callers pass bytes and say where
they came from.
"""

from __future__ import annotations

import warnings

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from ._errors import ConfigError

__all__ = ["PARSE_ERRORS", "key_matches", "load_certificates", "load_private_key", "load_public_key"]

# cryptography warns (on stderr, in the middle of a report) when a certificate's serial is not
# positive; such certificates exist in the wild and we describe them like any other. Only
# this one message is silenced; when cryptography starts refusing them, the ValueError
# becomes our usual ConfigError naming the file.
warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")

# cryptography parses lazily and raises these for malformed input; InvalidVersion and the
# extension errors are not ValueErrors (found by tests/unit/test_parsers_property.py).
PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


def load_certificates(data: bytes, *, source: str) -> list[x509.Certificate]:
    """Every certificate in ``data``: a PEM bundle (one or more) or a single DER certificate."""
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
        for cert in certs:  # fields parse lazily; touch them now so errors surface here
            _ = cert.subject, cert.issuer, cert.not_valid_after_utc, cert.not_valid_before_utc
            _ = cert.serial_number, cert.extensions
    except PARSE_ERRORS as exc:
        raise ConfigError(
            "not a PEM or DER certificate", source=source, fix="check the file or field holds a certificate"
        ) from exc
    if not certs:
        raise ConfigError("no certificate found", source=source)
    return certs


def load_private_key(data: bytes, *, source: str) -> PrivateKeyTypes:
    """A PEM or DER private key (unencrypted, as kubeadm and kubeconfigs store them)."""
    # We only compare the key's public half with a certificate, never sign with it, so RSA's
    # expensive consistency check (~50 ms for a kubeadm 2048-bit key) buys nothing here.
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
        return serialization.load_der_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except PARSE_ERRORS as exc:
        raise ConfigError("not a readable unencrypted private key", source=source) from exc


def load_public_key(data: bytes, *, source: str) -> PublicKeyTypes:
    """A PEM public key, such as kubeadm's sa.pub."""
    try:
        return serialization.load_pem_public_key(data)
    except PARSE_ERRORS as exc:
        raise ConfigError("not a PEM public key", source=source) from exc


def key_matches(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    try:
        return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)
    except PARSE_ERRORS:
        return False
