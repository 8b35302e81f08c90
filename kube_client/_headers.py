"""What the client may send in HTTP headers: refused before any connection, never quoted.

``resolve_target`` checks the kubeconfig's static credentials with these (a token with a line
break is refused before the first connection, as kubectl refuses it before its first request);
the client builds its headers with the same functions.
"""

from __future__ import annotations

from ._errors import ConfigError
from ._kubeconfig import Impersonation

__all__ = ["header_value", "impersonation_headers"]


def header_value(value: str, *, what: str, source: str) -> str:
    """``value`` if it can be sent as an HTTP header value, else a ConfigError that never quotes it.

    Go's net/http refuses control characters other than tab (httpguts.ValidHeaderFieldValue:
    "invalid header field value"), and so kubectl fails; http.client refuses CR/LF too but
    quotes the whole value, the token, in its error. Non-latin-1 text cannot be encoded at all.
    """
    bad = next((i for i, c in enumerate(value) if (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F or ord(c) > 0xFF), None)
    if bad is not None:
        kind = "a line break" if value[bad] in "\r\n" else f"character U+{ord(value[bad]):04X}"
        raise ConfigError(f"{what} contains {kind} at position {bad}, which cannot be sent in an HTTP header", source=source,
                          fix="re-copy it: a stray newline or a pasted quote is the usual cause")
    return value


def _header_key_escape(key: str) -> str:
    """client-go's headerKeyEscape (transport/round_trippers.go): every byte that is not an HTTP
    token character, and '%', becomes %XX, so a key with '/' or a space fits a header name."""
    return "".join(chr(b) if b in _TOKEN_BYTES else f"%{b:02X}" for b in key.encode())


_TOKEN_BYTES = frozenset(b"!#$&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def impersonation_headers(imp: Impersonation | None, *, source: str = "") -> list[tuple[str, str]]:
    """The headers client-go's impersonating round tripper adds (transport/round_trippers.go):
    Impersonate-User, Impersonate-Uid, one Impersonate-Group per group, one
    Impersonate-Extra-<escaped key> per value. Authorization is then the impersonated identity's."""
    if imp is None:
        return []
    headers = [("Impersonate-User", imp.user)] + ([("Impersonate-Uid", imp.uid)] if imp.uid else [])
    headers += [("Impersonate-Group", group) for group in imp.groups]
    headers += [(f"Impersonate-Extra-{_header_key_escape(key)}", value) for key, values in imp.extra for value in values]
    # Go sends a header value's UTF-8 bytes; http.client sends a str as latin-1, so hand it the
    # UTF-8 bytes as latin-1 characters (a user "jürgen" must reach the server as kubectl sends it).
    return [(name, header_value(value.encode().decode("latin-1"), what=f"the {name} value", source=source)) for name, value in headers]
