"""HTTP/1.1 to one API server on the standard library's ``http.client``.

What the client needs from a transport, and all it gets: connections opened through its
circuit breaker (direct, or through the proxy's CONNECT tunnel, then TLS for the name the
serving certificate must carry), a connect timeout and a read timeout, idle connections kept
for reuse, and answers read in chunks, gzip inflated as it is read, so that a cap on the
decoded size costs the cap and not the bomb.

Why not urllib3, which the ``kubernetes`` package uses: importing it cost every check about
30 ms (``bench/README.md``, "Speed": a check went from 0.224 s to 0.195 s): ``logging``,
``importlib.metadata`` for its HTTP/2 probe, regular expressions compiled at import, 55
modules in all. Its pooling, proxying and retries were already turned off or replaced (one
request per slot, our own CONNECT tunnel for the TLS probe, ``_retry``), so what was left of
it is this module.

Errors: what ``socket``, ``ssl``, ``zlib`` and ``http.client`` raise leaves this module as
they raised it, except that a timeout after the server accepted the connection becomes
``NeverAnswered``, and an HTTP answer that breaks the protocol becomes ``ConnectionResetError``:
``_http`` translates them with ``_network``'s table.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Callable, Iterator

from ._network import NeverAnswered
from ._proxy import Proxy, open_tunnel

__all__ = ["Connection", "Lane", "body_chunks", "open_socket"]

# Opens a connected (and for https, handshaken) socket within a connect timeout.
Opener = Callable[[float], socket.socket]


def open_socket(host: str, port: int, timeout: float, *, proxy: Proxy | None, ssl_context: ssl.SSLContext | None,
                tls_name: str) -> socket.socket:
    """TCP to ``host:port`` (through ``proxy``'s CONNECT tunnel if given), then TLS checked
    against ``tls_name``. A TLS handshake that times out is ``NeverAnswered``: the server accepted
    the connection and never answered it."""
    sock = open_tunnel(proxy, host, port, timeout) if proxy is not None else socket.create_connection((host, port), timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # requests are small: no 40 ms Nagle wait
        if ssl_context is None:
            return sock
        try:
            return ssl_context.wrap_socket(sock, server_hostname=tls_name)
        except TimeoutError:
            raise NeverAnswered() from None
    except BaseException:
        sock.close()
        raise


class Connection(http.client.HTTPConnection):
    """One keep-alive connection; ``connect`` opens its socket with the client's opener."""

    def __init__(self, host: str, port: int, opener: Opener, *, tls: bool) -> None:
        # The Host header is ASCII: an internationalized name goes as its IDNA form, as Go sends it.
        super().__init__(host if host.isascii() else host.encode("idna").decode("ascii"), port)
        self.default_port = 443 if tls else 80  # the Host header leaves out the scheme's default port
        self._opener = opener

    def connect(self) -> None:
        # send_request sets the connect timeout first; http.client's own default is an object, not seconds
        self.sock = self._opener(self.timeout if isinstance(self.timeout, (int, float)) else 5.0)

    def send_request(self, method: str, url: str, body: bytes | None, headers: list[tuple[str, str]],
                     *, connect_timeout: float, read_timeout: float) -> http.client.HTTPResponse:
        """Send one request and read the answer's head. A connection the server closed while it
        sat idle is closed here first and opened again, as urllib3 did before each reuse."""
        if self.sock is not None and _readable(self.sock):
            self.close()  # idle and readable: the server closed it (or broke the protocol)
        if self.sock is None:
            self.timeout = connect_timeout
            self.connect()
        assert self.sock is not None
        self.sock.settimeout(read_timeout)
        try:
            self.putrequest(method, url, skip_accept_encoding=True)
            for name, value in headers:
                self.putheader(name, value)
            if body is not None or method in ("POST", "PUT", "PATCH"):
                self.putheader("Content-Length", str(len(body or b"")))
            self.endheaders(body)
            return self.getresponse()
        except TimeoutError:
            raise NeverAnswered() from None
        except http.client.HTTPException as exc:  # RemoteDisconnected is one, and a ConnectionResetError already
            if isinstance(exc, OSError):
                raise
            raise ConnectionResetError(f"not an HTTP answer ({type(exc).__name__})") from None


def _readable(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read right now (poll, not select: no 1024-descriptor limit)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def body_chunks(resp: http.client.HTTPResponse, size: int) -> Iterator[bytes]:
    """The answer's body as it arrives, each piece at most ``size`` bytes once decoded (gzip
    and deflate are inflated a piece at a time). ``read1`` returns what has arrived, so a
    watch's events come out as the server sends them."""
    encoding = (resp.getheader("Content-Encoding") or "").strip().lower()
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip") else \
        zlib.decompressobj() if encoding == "deflate" else None
    try:
        while raw := resp.read1(size):
            if inflate is None:
                yield raw
                continue
            while raw:
                if out := inflate.decompress(raw, size):
                    yield out
                raw = inflate.unconsumed_tail
        if resp.length:  # read1 ends quietly when the server closes before Content-Length
            raise ConnectionResetError("the answer ended before its Content-Length")
        resp.close()  # read to the end; read1 (3.11) leaves it open, and then the connection is not reused
    except TimeoutError:
        raise NeverAnswered() from None
    except zlib.error:
        raise ConnectionResetError(f"a {encoding} body that does not inflate") from None
    except http.client.HTTPException as exc:  # IncompleteRead: the server closed mid-body
        raise ConnectionResetError(f"the answer ended early ({type(exc).__name__})") from None


class Lane:
    """Connections for one kind of request: at most ``size`` in use at once (a request takes a
    slot before its timeouts are computed, so one queued behind hung requests still ends at its
    deadline), and the idle ones kept for the next request."""

    def __init__(self, size: int, new: Callable[[], Connection]) -> None:
        self.slots = threading.BoundedSemaphore(size)
        self._new = new
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def take(self) -> Connection:
        with self._lock:
            return self._idle.pop() if self._idle else self._new()

    def give_back(self, conn: Connection, resp: http.client.HTTPResponse) -> None:
        """Keep ``conn`` for reuse when its answer was read to the end and it stays open."""
        if resp.isclosed() and not resp.will_close and conn.sock is not None:
            with self._lock:
                self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
