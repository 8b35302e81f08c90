"""Server and proxy URLs checked once, the way Go's net/url would refuse them.

urlsplit accepts ``https://[::1:6443`` until ``.port`` is read, and urllib3 refuses hosts
urlsplit accepts (a space); both raise ValueError subclasses deep inside a request. Callers
check here first and turn ``None`` into one ConfigError naming the field.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

__all__ = ["split_url"]

DEFAULT_PORTS = {"https": 443, "http": 80}


def split_url(raw: str) -> tuple[SplitResult, str, int] | None:
    """``raw`` split, with its host and port (the scheme's default when absent); None if unusable."""
    # urllib3 is what will send the request, so it has the last word (imported here: the
    # offline commands check no URL and should not pay for it).
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parts = urlsplit(raw)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
        parse_url(raw)
    except (ValueError, LocationParseError):
        return None
    host = parts.hostname
    if not host or port <= 0 or any(c.isspace() for c in host):
        return None
    return parts, host, port
