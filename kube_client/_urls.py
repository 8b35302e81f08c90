"""Server and proxy URLs checked once, the way Go's net/url would refuse them.

urlsplit accepts ``https://[::1:6443`` until ``.port`` is read, and hosts Go refuses (a
space), which http.client would refuse deep inside a request. Callers check here first and
turn ``None`` into one ConfigError naming the field.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

__all__ = ["redact_url", "split_url"]

# "scheme://userinfo@": the userinfo may hold a password (or be a token); parsed leniently,
# so a URL too malformed for urlsplit is still redacted before it is quoted in a message.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*@")


def redact_url(raw: str) -> str:
    """``raw`` without its ``user:password@`` part, as ``Proxy.display`` shows a proxy: what
    messages, the progress line and reports print in place of a server URL."""
    return _USERINFO.sub(lambda m: m.group(1) or "", raw)

DEFAULT_PORTS = {"https": 443, "http": 80}
# What Go's net/url refuses in a host name (url.go shouldEscape, encodeHost) that urlsplit
# lets through: control characters, space, and \ ^ ` { | }.
_BAD_HOST = re.compile(r"[\x00-\x20\x7f\\^`{|}]")


def split_url(raw: str) -> tuple[SplitResult, str, int] | None:
    """``raw`` split, with its host and port (the scheme's default when absent); None if unusable."""
    try:
        parts = urlsplit(raw)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return None
    host = parts.hostname
    if not host or port <= 0 or _BAD_HOST.search(host):
        return None
    return parts, host, port
