"""Server and proxy URLs checked once, the way Go's net/url would refuse them.

urlsplit accepts ``https://[::1:6443`` until ``.port`` is read, and urllib3 refuses hosts
urlsplit accepts (a space); both raise ValueError subclasses deep inside a request. Callers
check here first and turn ``None`` into one ConfigError naming the field.
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


def split_url(raw: str, *, sendable: bool = True) -> tuple[SplitResult, str, int] | None:
    """``raw`` split, with its host and port (the scheme's default when absent); None if unusable.

    With ``sendable`` urllib3, which will send the request, has the last word; the offline
    commands (which read kubeconfigs but send nothing) pass False and do not import it."""
    try:
        parts = urlsplit(raw)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return None
    if sendable:
        from urllib3.exceptions import LocationParseError
        from urllib3.util import parse_url

        try:
            parse_url(raw)
        except (ValueError, LocationParseError):
            return None
    host = parts.hostname
    if not host or port <= 0 or any(c.isspace() for c in host):
        return None
    return parts, host, port
