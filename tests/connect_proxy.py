"""A small HTTP CONNECT proxy for tests: it relays bytes and records what it was asked.

Not a fake API server: the far end is whatever the test points it at (the real control plane
in the cluster tests). It can require credentials (407) or refuse destinations (403), the two
answers a corporate proxy gives that a user must be told about.
"""

from __future__ import annotations

import base64
import contextlib
import selectors
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class ProxyLog:
    connects: list[str] = field(default_factory=list)  # CONNECT authorities, in order
    authorizations: list[str] = field(default_factory=list)  # Proxy-Authorization values received
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 16384:
            chunk = conn.recv(1)
            if not chunk:
                return
            head += chunk
        lines = head.decode("latin-1").split("\r\n")
        method, authority = (lines[0].split(" ") + ["", ""])[:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        with self.server.log.lock:
            self.server.log.connects.append(authority)
            if "proxy-authorization" in headers:
                self.server.log.authorizations.append(headers["proxy-authorization"])
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        if self.server.credentials and headers.get("proxy-authorization") != self.server.credentials:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\n\r\n")
            return
        if authority in self.server.deny:
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = authority.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
        except OSError:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with upstream:
            _relay(conn, upstream)


def _relay(a: socket.socket, b: socket.socket) -> None:
    # selectors (epoll), not select.select: a long test session holds more than 1024 file
    # descriptors, and select() refuses any above that ("filedescriptor out of range")
    peers = {a: b, b: a}
    with selectors.DefaultSelector() as selector:
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ)
        while True:
            ready = selector.select(30)
            if not ready:
                return
            for key, _ in ready:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    log: ProxyLog
    credentials: str
    deny: frozenset[str]


@contextlib.contextmanager
def connect_proxy(*, user: str = "", password: str = "", deny: frozenset[str] = frozenset()) -> Iterator[tuple[str, ProxyLog]]:
    """Run a proxy on 127.0.0.1; yields its ``http://127.0.0.1:PORT`` URL and its log."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.log = ProxyLog()
    server.credentials = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else ""
    server.deny = deny
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.log
    finally:
        server.shutdown()
        server.server_close()
