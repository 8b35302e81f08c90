"""One raw, non-verifying TLS handshake: where it fails, and what the server presents.

``api.reachable`` needs to say which step failed (DNS, TCP connect, TLS) and
``tls.serving-cert`` needs the served chain even when verification would fail (an expired or
foreign certificate), which a verifying client never sees. So we connect once ourselves with
verification off, keep the presented chain as DER, and judge it offline.

What this does not do: authenticate, or send any HTTP. It does present a client certificate
when given one, because servers that require one (etcd) may abort a handshake without it.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time

from kube_client._deadline import Deadline
from kube_client._errors import UnreachableError
from kube_client._network import NeverAnswered, network_error
from kube_client._proxy import Proxy, open_tunnel

from .._facts.cluster import TlsProbe

__all__ = ["TlsProbe", "probe_tls"]

CONNECT_TIMEOUT = 5.0


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _presented_chain(sock: ssl.SSLSocket) -> tuple[bytes, ...]:
    # Public as SSLSocket.get_unverified_chain() only from Python 3.13; 3.10-3.12 have it on
    # the private _sslobj. Fall back to the leaf, which getpeercert returns under CERT_NONE.
    getter = getattr(sock, "get_unverified_chain", None) or getattr(getattr(sock, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        return tuple(c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain)  # type: ignore[attr-defined]
    leaf = sock.getpeercert(binary_form=True)
    return (leaf,) if leaf else ()


def _failed(exc: BaseException, where: str, *, during: str = "") -> UnreachableError:
    """The network failure in the one table's words (kube_client/_network.py)."""
    return network_error(exc, where, during=during) or UnreachableError(f"cannot reach {where}: {type(exc).__name__}",
                                                                         step="connect", transient=True)


def _connect_direct(host: str, port: int, deadline: Deadline) -> tuple[socket.socket, str, float]:
    """Resolve and connect: the socket, the address connected to, and when DNS finished."""
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _failed(exc, host) from None
    resolved = time.monotonic()
    family, _, _, _, sockaddr = infos[0]
    raw = socket.socket(family, socket.SOCK_STREAM)
    raw.settimeout(min(CONNECT_TIMEOUT, max(0.05, deadline.remaining())))
    try:
        raw.connect(sockaddr)
    except OSError as exc:
        raw.close()
        raise _failed(exc, where) from None
    return raw, str(sockaddr[0]), resolved


def probe_tls(
    host: str,
    port: int,
    *,
    server_name: str,
    deadline: Deadline,
    client_pair: tuple[str, str] | None = None,
    proxy: Proxy | None = None,
    tls: bool = True,
) -> TlsProbe:
    """Resolve, connect (through ``proxy`` if given) and, unless ``tls`` is False (an http://
    server), handshake; raise ``UnreachableError``
    naming the failed step. Through a proxy, the proxy resolves the name: DNS time is zero and
    the address is the name as given."""
    where = f"{host}:{port}"
    started = time.monotonic()
    if proxy is None:
        raw, address, resolved = _connect_direct(host, port, deadline)
    else:
        raw = open_tunnel(proxy, host.strip("[]"), port, min(CONNECT_TIMEOUT, max(0.05, deadline.remaining())))
        address, resolved = host, started
    connected = time.monotonic()
    if not tls:  # a plain http:// server: reaching it is all there is to measure
        raw.close()
        return TlsProbe(host=host, port=port, address=address, via=proxy.display if proxy else "",
                        dns_ms=(resolved - started) * 1000, connect_ms=(connected - resolved) * 1000, tls_ms=0.0,
                        tls_version="", chain=())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if client_pair is not None:
        ctx.load_cert_chain(*client_pair)
    try:
        raw.settimeout(min(CONNECT_TIMEOUT, max(0.05, deadline.remaining())))
        with ctx.wrap_socket(raw, server_hostname=None if _is_ip(server_name) else server_name) as sock:
            return TlsProbe(
                host=host,
                port=port,
                address=address,
                via=proxy.display if proxy else "",
                dns_ms=(resolved - started) * 1000,
                connect_ms=(connected - resolved) * 1000,
                tls_ms=(time.monotonic() - connected) * 1000,
                tls_version=sock.version() or "",
                chain=_presented_chain(sock),
            )
    except TimeoutError:  # TCP was accepted: the silence is the handshake's
        raise _failed(NeverAnswered(), where, during=" the TLS handshake") from None
    except OSError as exc:  # ssl.SSLError included
        raise _failed(exc, where) from None
    finally:
        raw.close()
