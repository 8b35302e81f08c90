"""``--manifests FILE|-``: read rendered manifests from a file or stdin; parsing is
``facts/manifests.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kube_client._errors import ConfigError

from .._facts.manifests import ManifestKind, kinds_of, load_objects

__all__ = ["read_manifest_objects", "read_manifests"]


def read_manifests(path: str) -> tuple[ManifestKind, ...]:
    """Distinct kinds in a multi-document YAML file (``-`` reads stdin)."""
    return kinds_of(read_manifest_objects(path), source="stdin" if path == "-" else path)


def read_manifest_objects(path: str) -> list[Mapping[str, Any]]:
    """The objects of a multi-document YAML file (``-`` reads stdin), ``List`` kinds unpacked."""
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
    return load_objects(text, source=source)
