"""Name rules, checked before any request (apimachinery/pkg/api/validation/generic.go):
namespaces are DNS-1123 labels; ServiceAccount and Secret names are DNS-1123 subdomains."""

from __future__ import annotations

import re

from kube_client._errors import ConfigError

__all__ = ["check_account", "check_namespace", "check_subdomain"]

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")


def check_namespace(name: str) -> str:
    if len(name) > 63 or not re.fullmatch(_LABEL, name):
        raise ConfigError(
            f"namespace {name!r} is not a valid name",
            fix="use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
        )
    return name


def check_subdomain(name: str, what: str) -> str:
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise ConfigError(
            f"{what} {name!r} is not a valid name",
            fix="use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
        )
    return name


def check_account(namespace: str, name: str, secret_name: str | None = None) -> str:
    """A ServiceAccount reference and its token Secret's name (default ``<name>-token``),
    checked together; returns the Secret name."""
    check_namespace(namespace)
    check_subdomain(name, "ServiceAccount")
    return check_subdomain(secret_name or f"{name}-token", "Secret")
