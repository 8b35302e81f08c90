"""Hostile servers for tests: HTTP(S) on 127.0.0.1 that is *not* the Kubernetes API.

Each answers every request the same way (a status, a body, headers), or as a scripted
sequence, and counts the TCP connections it accepted, so a test can assert a mechanism ("the
second request made no connection") instead of a timing. Kinds the issue lists: 403 or 404 to
everything, 429 with Retry-After, a gzip bomb, a plain-HTTP server where TLS is expected.
Not a fake Kubernetes API: nothing here knows a Kubernetes path or object.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Log:
    connections: int = 0
    requests: list[tuple[float, str, str]] = field(default_factory=list)  # (monotonic time, method, path)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    log: Log
    answer: Callable[[int, str, str], Answer]

    def get_request(self):  # type: ignore[no-untyped-def]
        conn = super().get_request()
        with self.log.lock:
            self.log.connections += 1
        return conn


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: with Nagle on, the body waits for the client's delayed ACK
    # (40 ms per answer on Linux). kube-apiserver (Go) sets TCP_NODELAY, so this is also the real thing.
    disable_nagle_algorithm = True

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.server.log.lock:
            self.server.log.requests.append((time.monotonic(), self.command, self.path))
            index = len(self.server.log.requests) - 1
        answer = self.server.answer(index, self.command, self.path)
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_DELETE = do_PUT = _answer  # noqa: N815 - http.server's naming

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Running:
    url: str
    log: Log


@contextlib.contextmanager
def hostile_server(answer: Answer | Callable[[int, str, str], Answer], *, tls: tuple[bytes, bytes] | None = None) -> Iterator[Running]:
    """Serve ``answer`` to every request (or ``answer(index, method, path)``), over TLS when
    ``tls`` is (certificate PEM, key PEM); yields the URL and the log."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.log = Log()
    server.answer = answer if callable(answer) else (lambda _i, _m, _p: answer)  # type: ignore[assignment,misc]
    scheme = "http"
    if tls is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as folder:
            cert, key = Path(folder, "tls.crt"), Path(folder, "tls.key")
            cert.write_bytes(tls[0])
            key.write_bytes(tls[1])
            ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    # shutdown() returns once serve_forever next looks at its flag, up to one poll later: each test
    # that serves pays it at the end, so the poll is short (an idle loop of 100 wake-ups a second).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield Running(url=f"{scheme}://127.0.0.1:{server.server_port}", log=server.log)
    finally:
        server.shutdown()
        server.server_close()


def gzip_bomb(decoded_bytes: int) -> bytes:
    """``decoded_bytes`` (whole MiB) of zeros, gzipped (about 1000:1) without deflating them all:
    one MiB is deflated and ended with a full flush, which resets the compressor, so every other
    MiB would deflate to the same bytes; those are repeated, then the last block, the CRC-32 and the
    size are appended (RFC 1952). A tenth of the time of gzip.compress; the same stream for a decoder."""
    block = b"\0" * (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate: the gzip framing is written here
    one_mib = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(decoded_bytes >> 20):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00" + b"\x00" * 4 + b"\x02\xff"  # gzip, deflate, no flags, mtime 0, best compression, OS unknown
    body = one_mib * (decoded_bytes >> 20) + packer.flush(zlib.Z_FINISH)
    return header + body + struct.pack("<II", crc, decoded_bytes & 0xFFFFFFFF)


@contextlib.contextmanager
def black_hole() -> Iterator[tuple[str, Log]]:
    """A TCP listener that accepts connections and never answers (as tests/controlplane/
    blackhole.py, in-process): yields its ``127.0.0.1:PORT`` and a log counting connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    log = Log()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)  # a fallback: the shutdown below wakes accept() at once
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with log.lock:
                log.connections += 1
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}", log
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # accept() returns (EINVAL) instead of waiting out its timeout
        thread.join(timeout=5)
        listener.close()
        for conn in held:
            conn.close()


@contextlib.contextmanager
def tcp_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that hands each connection to ``handle``, one at a time, and
    then closes it; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # accept() returns at once
        listener.close()
        thread.join(timeout=5)


@contextlib.contextmanager
def raw_server(reply: bytes) -> Iterator[Running]:
    """A TCP listener that reads each request's head, writes ``reply`` back byte for byte and
    closes the connection: for answers no HTTP server library would send (not HTTP at all,
    shorter than its Content-Length, or a keep-alive promise it then breaks). Its log counts
    the connections it has answered and closed."""
    log = Log()

    def answer(conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head and (data := conn.recv(4096)):
            head += data
        conn.sendall(reply)
        conn.close()
        with log.lock:
            log.connections += 1

    with tcp_server(answer) as port:
        yield Running(url=f"http://127.0.0.1:{port}", log=log)
