"""The client's transport (``kube_client/_transport.py``, http.client): connections are kept
and reused (after a watch the server ended too), one the server closed while it sat idle is
replaced, not failed on, and the Host header is what Go would send."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from kube_client._deadline import Deadline
from kube_client._http import KubeClient
from kube_client._target import resolve_target
from kube_client._transport import Connection
from tests.hostile_server import Answer, hostile_server, raw_server
from tests.pkifactory import kubeconfig_doc, make_ca, write_kubeconfig


def _client(tmp_path: Path, server: str) -> KubeClient:
    doc = kubeconfig_doc(server=server, ca=make_ca(), token="t0ken")
    return KubeClient(resolve_target(kubeconfig=str(write_kubeconfig(tmp_path / "config", doc)), environ={}), Deadline(10))


def test_requests_one_after_another_share_one_connection(tmp_path: Path) -> None:
    with hostile_server(Answer(200, b'{"kind": "Status"}', (("Content-Type", "application/json"),))) as server:
        client = _client(tmp_path, server.url)
        for _ in range(5):
            assert client.get("/version").data == {"kind": "Status"}
        client.close()
    assert server.log.connections == 1 and client.stats.connects == 1 and client.stats.requests == 5


def test_a_connection_the_server_closed_while_idle_is_replaced_not_failed_on(tmp_path: Path) -> None:
    # The server answers as HTTP/1.1 keep-alive, then closes: the next request must not be sent
    # into the closed connection (that would fail it, or cost a retry).
    with raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}") as server:
        client = _client(tmp_path, server.url)
        client.request("GET", "/version", retry=False)
        give_up = time.monotonic() + 10
        while server.log.connections < 1 and time.monotonic() < give_up:  # the server has closed it
            time.sleep(0.01)
        assert server.log.connections == 1
        client.request("GET", "/version", retry=False)
        client.close()
    assert client.stats.connects == 2


def test_the_host_header_carries_the_port_unless_default_and_an_idna_name() -> None:
    sent = {}
    for host, port, tls in (("bücher.example", 6443, True), ("api.example", 443, True), ("::1", 8080, False)):
        ours, theirs = socket.socketpair()
        theirs.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # waits in the buffer for the request
        conn = Connection(host, port, lambda _timeout, s=ours: s, tls=tls)
        assert conn.send_request("GET", "/version", None, [], connect_timeout=5, read_timeout=5).status == 200
        head = theirs.recv(4096).decode()
        sent[host] = next(line for line in head.split("\r\n") if line.startswith("Host: "))
        conn.close()
        theirs.close()
    assert sent == {"bücher.example": "Host: xn--bcher-kva.example:6443", "api.example": "Host: api.example",
                    "::1": "Host: [::1]:8080"}


def test_a_watch_the_server_ended_leaves_its_connection_for_the_next_request(tmp_path: Path) -> None:
    events = b'{"type": "ADDED", "object": {}}\n{"type": "DELETED", "object": {}}\n'
    def answer(_index: int, _method: str, path: str) -> Answer:
        return Answer(200, events if "watch=1" in path else b"{}", (("Content-Type", "application/json"),))

    with hostile_server(answer) as server:
        client = _client(tmp_path, server.url)
        assert [e["type"] for e in client.watch("/api/v1/secrets", resource_version="1", timeout=5)] == ["ADDED", "DELETED"]
        client.get("/version")
        stopped = client.watch("/api/v1/secrets", resource_version="1", timeout=5)
        next(stopped)
        stopped.close()  # left mid-stream: that connection is not reused
        client.get("/version")
        client.close()
    assert server.log.connections == 2 and len(server.log.requests) == 4
