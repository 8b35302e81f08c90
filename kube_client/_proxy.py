"""Which HTTP proxy reaches the API server, chosen as kubectl chooses it, and a CONNECT tunnel.

kubectl (client-go) uses a cluster's ``proxy-url`` for every request when the kubeconfig sets
one; otherwise Go's ``http.ProxyFromEnvironment``: ``HTTPS_PROXY`` for https servers,
``HTTP_PROXY`` for http ones, minus ``NO_PROXY``, and never for ``localhost`` or a loopback
address (golang.org/x/net/http/httpproxy, ``useProxy``). A gate that ignored the proxy a CI
agent needs would report "unreachable" for a cluster kubectl reaches, so we follow the same
rules. Only ``http://`` proxies (HTTP CONNECT) to ``https://`` servers are supported; other
combinations are refused with a clear error rather than silently bypassed.

Secrets: a proxy URL may carry ``user:password``; it goes only into the Proxy-Authorization
header, and ``Proxy.display`` (the URL without it) is what messages show.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from http import HTTPStatus
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ._errors import ConfigError, UnreachableError
from ._urls import split_url

__all__ = ["Proxy", "choose_proxy", "open_tunnel", "tunnel_refused"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, kw_only=True)
class Proxy:
    """The HTTPS proxy a request goes through, and where that choice came from."""

    host: str
    port: int
    source: str  # "proxy-url" (the kubeconfig's cluster) or the environment variable's name
    authorization: str = field(default="", repr=False)  # a Proxy-Authorization header value

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def display(self) -> str:
        return f"proxy {self.url} (from {self.source})"

    def headers(self) -> dict[str, str]:
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}


def _parse(raw: str, source: str) -> Proxy:
    # Go prepends "http://" to a value without a scheme (httpproxy.parseProxy); so do we.
    try:
        parts = urlsplit(raw if "://" in raw else f"http://{raw}")
    except ValueError:  # "http://[::1:3128": never quoted, it may carry a password
        raise ConfigError(f"{source} is not a usable proxy address (it needs http://HOST[:PORT])") from None
    if parts.scheme != "http":
        raise ConfigError(
            f"{source} is a {parts.scheme}:// proxy; preflight supports only http:// (HTTP CONNECT) proxies",
            fix="use the proxy's http:// address, or run preflight where the API server is reachable directly",
        )
    checked = split_url(parts.geturl())
    if checked is None:
        raise ConfigError(f"{source} is not a usable proxy address (it needs http://HOST[:PORT])")
    _, host, port = checked
    auth = ""
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    return Proxy(host=host, port=port, source=source, authorization=auth)


def _first(environ: Mapping[str, str], *names: str) -> tuple[str, str]:
    return next(((n, environ[n]) for n in names if environ.get(n)), ("", ""))


def _exempt(host: str, port: int, no_proxy: str) -> bool:
    """Go's httpproxy rules: loopback is never proxied; NO_PROXY lists "*", IPs, CIDRs and
    domains ("foo.com" matches it and its subdomains, ".foo.com" only subdomains), each with
    an optional port."""
    host = host.strip("[]").lower()
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if host == "localhost" or (ip is not None and ip.is_loopback):
        return True
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if ip is not None and ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, want_port = entry, ""
        if entry.startswith("["):
            name, _, rest = entry[1:].partition("]")
            want_port = rest.removeprefix(":")
        elif entry.count(":") == 1:
            name, want_port = entry.split(":")
        if want_port and want_port != str(port):
            continue
        try:
            listed: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(name)
        except ValueError:
            listed = None
        if listed is not None:
            if ip == listed:
                return True
        elif ip is None and name:
            name = name.removeprefix("*")
            if host.endswith(name if name.startswith(".") else f".{name}") or host == name:
                return True
    return False


def choose_proxy(server: str, proxy_url: str, environ: Mapping[str, str]) -> Proxy | None:
    """The proxy kubectl would use for ``server``, or None for a direct connection."""
    parts = urlsplit(server)
    if proxy_url:
        proxy = _parse(proxy_url, "proxy-url")
    else:
        names = ("HTTPS_PROXY", "https_proxy") if parts.scheme == "https" else ("HTTP_PROXY", "http_proxy")
        name, value = _first(environ, *names)
        _, no_proxy = _first(environ, "NO_PROXY", "no_proxy")
        if not value or _exempt(parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme, 443), no_proxy):
            return None
        proxy = _parse(value, name)
    if parts.scheme != "https":
        # A proxy forwards plain http instead of tunnelling it; API servers have not served
        # plain http since the insecure port went (1.20), so we do not carry that code.
        raise ConfigError(f"{server} is plain http and the {proxy.display} applies: preflight tunnels only https",
                          fix="use the API server's https:// address, or add it to NO_PROXY")
    return proxy


def open_tunnel(proxy: Proxy, host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to ``host:port`` through ``proxy`` (HTTP CONNECT), ready for TLS."""
    try:
        sock = socket.create_connection((proxy.host, proxy.port), timeout=timeout)
    except OSError as exc:
        raise _proxy_failed(exc, f"the {proxy.display}") from None
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", *(f"{k}: {v}" for k, v in proxy.headers().items())]
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = _read_head(sock)
    except TimeoutError:
        sock.close()
        from ._network import NeverAnswered

        raise _proxy_failed(NeverAnswered(), f"the {proxy.display}", during=f" CONNECT {authority}") from None
    except OSError as exc:
        sock.close()
        raise _proxy_failed(exc, f"the {proxy.display}") from None
    status_line = head.split("\r\n", 1)[0]
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or fields[1] != "200":
        sock.close()
        raise tunnel_refused(proxy, authority, fields[1] if len(fields) > 1 else "?")
    return sock


def _proxy_failed(exc: BaseException, where: str, *, during: str = "") -> UnreachableError:
    """A failure reaching the proxy itself, in the one table's words (``_network``), as step "proxy"."""
    from ._network import network_error  # ssl: only when a tunnel is opened (Target, which judges read, imports this module)

    fix = "check the proxy address, that it runs and that this machine may reach it, or add the server to NO_PROXY"
    return network_error(exc, where, during=during, step="proxy", fix=fix) or UnreachableError(
        f"cannot reach {where}: {type(exc).__name__}", step="proxy", transient=True, fix=fix)


def tunnel_refused(proxy: Proxy, authority: str, code: str) -> UnreachableError:
    """The proxy answered CONNECT with ``code``: the status in our words (the proxy's own reason
    text and body are foreign and never quoted), and what to do about it."""
    try:
        said = f"{code} {HTTPStatus(int(code)).phrase}"
    except ValueError:
        said = f"HTTP {code[:3]!r}" if not code.isdigit() else f"HTTP {code[:3]}"
    fix = {
        "407": "the proxy wants credentials: put them in the proxy URL (http://user:password@host:port)",
        "403": "the proxy does not allow this destination: ask for it to be allowed, or add the server to NO_PROXY",
    }.get(code, f"the proxy could not reach {authority}: check the server address and that the API server runs")
    return UnreachableError(f"the {proxy.display} refused the tunnel to {authority}: {said}", step="proxy",
                            transient=code in ("502", "503", "504"), fix=fix)


def _read_head(sock: socket.socket, limit: int = 16384) -> str:
    """The proxy's response head, read a byte at a time so that no byte of the tunnel is
    consumed with it."""
    data = bytearray()
    while not data.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionResetError("closed before the end of the response head")
        data += chunk
        if len(data) > limit:
            raise ConnectionResetError("response head too long")
    return data.decode("latin-1")
