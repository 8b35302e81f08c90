"""Name rules, checked before any request, as client-go and the API server check them.

A namespace must first be a valid path segment (client-go rest/request.go ``Namespace``:
``IsValidPathSegmentName``, so ``../../kube-system`` never becomes a request path), then a
DNS-1123 label; ServiceAccount and Secret names are DNS-1123 subdomains
(apimachinery/pkg/api/validation/generic.go). A message quotes at most the start of a long
name, so the rule it broke and the limit always fit in the one line.
"""

from __future__ import annotations

import re

from ._errors import ConfigError

__all__ = ["check_account", "check_namespace", "check_subdomain", "quote_name"]

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_SHOWN = 40  # characters of a name quoted in a message


def quote_name(name: str) -> str:
    """``name`` quoted for a message: its start and its length when it is long."""
    return repr(name) if len(name) <= _SHOWN else f"{name[:_SHOWN]!r}... ({len(name)} characters)"


def _path_segment_problem(name: str) -> str:
    """client-go's IsValidPathSegmentName (apimachinery/pkg/api/validation/path)."""
    if name in (".", ".."):
        return f"may not be {name!r}"
    bad = next((c for c in ("/", "%") if c in name), None)
    return f"may not contain {bad!r}" if bad else ""


def check_namespace(name: str, *, source: str = "") -> str:
    problem = _path_segment_problem(name)
    if not problem and len(name) > 63:
        problem = "at most 63 characters are allowed"
    if not problem and not re.fullmatch(_LABEL, name):
        problem = "it is not a DNS-1123 label"
    if problem:
        raise ConfigError(
            f"namespace {quote_name(name)} is not a valid name: {problem}", source=source,
            fix="use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
        )
    return name


def check_subdomain(name: str, what: str) -> str:
    problem = _path_segment_problem(name)
    if not problem and len(name) > 253:
        problem = "at most 253 characters are allowed"
    if not problem and not _SUBDOMAIN.fullmatch(name):
        problem = "it is not a DNS-1123 subdomain"
    if problem:
        raise ConfigError(
            f"{what} {quote_name(name)} is not a valid name: {problem}",
            fix="use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
        )
    return name


def check_account(namespace: str, name: str, secret_name: str | None = None) -> str:
    """A ServiceAccount reference and its token Secret's name (default ``<name>-token``),
    checked together; returns the Secret name."""
    check_namespace(namespace)
    check_subdomain(name, "ServiceAccount")
    return check_subdomain(secret_name or f"{name}-token", "Secret")
