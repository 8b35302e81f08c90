"""``--manifests FILE|-``: read rendered manifests from a file or stdin; parsing is
``facts/manifests.py``.
"""

from __future__ import annotations

from pathlib import Path

from kube_client._errors import ConfigError

from .._facts.manifests import ManifestKind, parse_manifests

__all__ = ["read_manifests"]


def read_manifests(path: str) -> tuple[ManifestKind, ...]:
    """Distinct kinds in a multi-document YAML file (``-`` reads stdin)."""
    import sys

    source = "stdin" if path == "-" else path
    try:
        # bytes, decoded strictly: a text stdin would hand binary input on as lone surrogates
        stdin = getattr(sys.stdin, "buffer", None)
        raw = (stdin.read() if stdin is not None else sys.stdin.read().encode("utf-8")) if path == "-" else Path(path).read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read manifests: {exc.strerror}", source=source) from None
    except UnicodeError as exc:
        raise ConfigError(f"not valid YAML ({type(exc).__name__})", source=source, fix="pass the output of helm template") from None
    return parse_manifests(text, source=source)
