"""The one table that names network failures, as its three callers see it: what the client's
transport raises, what a raw socket raises, and what the proxy tunnel raises come out as the same steps."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from kube_client._deadline import Deadline
from kube_client._errors import UnreachableError
from kube_client._http import KubeClient
from kube_client._network import NETWORK_FAILURES, NeverAnswered, network_error
from kube_client._target import resolve_target
from tests.hostile_server import black_hole, raw_server
from tests.pkifactory import kubeconfig_doc, make_ca, write_kubeconfig


@pytest.mark.parametrize(("exc", "step", "transient", "says"), [
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "dns", False, "DNS: cannot resolve api:6443"),
    (socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), "dns", True, "DNS: cannot resolve api:6443"),
    (ConnectionRefusedError(111, "Connection refused"), "connect", False, "refused: nothing listens there"),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "tls", False, "TLS handshake with api:6443 failed"),
    (NeverAnswered(), "timeout", True, "accepted the connection but never answered"),
    (TimeoutError(), "timeout", True, "no answer from api:6443 in time"),
    (ConnectionResetError(104, "Connection reset by peer"), "connect", True, "was reset"),
    (OSError(113, "No route to host"), "connect", True, "cannot connect to api:6443: No route to host"),
])
def test_each_row_names_its_step_and_whether_to_retry(exc: BaseException, step: str, transient: bool, says: str) -> None:
    err = network_error(exc, "api:6443")
    assert err is not None and err.step == step and err.transient is transient and says in err.message


def _client(tmp_path: Path, server: str, seconds: float = 5) -> KubeClient:
    doc = kubeconfig_doc(server=server, ca=make_ca(), token="t0ken")
    return KubeClient(resolve_target(kubeconfig=str(write_kubeconfig(tmp_path / "config", doc)), environ={}), Deadline(seconds))


def test_a_silent_tls_handshake_is_an_accepted_connection_that_never_answered(tmp_path: Path) -> None:
    with black_hole() as (address, log):
        with pytest.raises(UnreachableError) as err:
            _client(tmp_path, f"https://{address}", seconds=0.5).request("GET", "/version", retry=False)
    assert log.connections == 1
    assert err.value.step == "timeout" and "accepted the connection but never answered" in err.value.message


@pytest.mark.parametrize("reply", [
    b"SSH-2.0-OpenSSH_9.6\r\n",  # not HTTP at all
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}",  # ends before its Content-Length
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnot!",  # gzip that does not inflate
])
def test_an_answer_that_breaks_http_is_a_reset_connection_worth_one_more_try(tmp_path: Path, reply: bytes) -> None:
    with raw_server(reply) as server:
        with pytest.raises(UnreachableError) as err:
            _client(tmp_path, server.url).request("GET", "/version", retry=False)
    assert err.value.step == "connect" and err.value.transient and "was reset" in err.value.message


def test_a_proxy_reports_every_failure_as_its_own_step() -> None:
    err = network_error(ConnectionRefusedError(111, "Connection refused"), "the proxy http://p:3128", step="proxy", fix="check it")
    assert err is not None and err.step == "proxy" and err.message.startswith("connection to the proxy http://p:3128 refused")


def test_anything_else_is_not_a_network_failure_and_every_row_has_words() -> None:
    assert network_error(ValueError("x"), "api:6443") is None
    assert all(row.says and row.step in ("dns", "tls", "connect", "timeout") for row in NETWORK_FAILURES)
