"""The one table that names network failures, as its three callers see it: what urllib3 raises,
what a raw socket raises, and what the proxy tunnel raises come out as the same steps."""

from __future__ import annotations

import socket
import ssl

import pytest
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ReadTimeoutError, SSLError

from kube_client._http import translate_network_error
from kube_client._network import NETWORK_FAILURES, NeverAnswered, network_error


def raised(outer: BaseException, inner: BaseException) -> BaseException:
    """``outer`` as urllib3 raises it: while handling ``inner``."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 - implicit chaining (__context__), as urllib3 does
    except BaseException as exc:  # noqa: BLE001
        return exc


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


def test_a_refused_connection_wins_over_the_timeout_urllib3_wraps_it_in() -> None:
    # urllib3's NewConnectionError is a ConnectTimeoutError: the refusal underneath is what happened
    wrapped = raised(NewConnectionError(None, "refused"), ConnectionRefusedError(111, "Connection refused"))  # type: ignore[arg-type]
    assert translate_network_error(wrapped, "api:6443").step == "connect"


def test_urllib3_read_timeout_is_an_accepted_connection_that_never_answered() -> None:
    wrapped = raised(ReadTimeoutError(None, "/version", "Read timed out."), TimeoutError())  # type: ignore[arg-type]
    err = translate_network_error(wrapped, "api:6443")
    assert err.step == "timeout" and "accepted the connection but never answered" in err.message


def test_urllib3_name_resolution_and_tls_failures_reach_the_same_rows() -> None:
    dns = raised(NameResolutionError("api", None, socket.gaierror(-2, "Name or service not known")),  # type: ignore[arg-type]
                 socket.gaierror(-2, "Name or service not known"))
    assert translate_network_error(MaxRetryError(None, "/", dns), "api:6443").step == "dns"  # type: ignore[arg-type]
    tls = raised(SSLError("certificate verify failed"), ssl.SSLCertVerificationError(1, "certificate verify failed"))
    assert translate_network_error(tls, "api:6443").step == "tls"


def test_a_proxy_reports_every_failure_as_its_own_step() -> None:
    err = network_error(ConnectionRefusedError(111, "Connection refused"), "the proxy http://p:3128", step="proxy", fix="check it")
    assert err is not None and err.step == "proxy" and err.message.startswith("connection to the proxy http://p:3128 refused")


def test_anything_else_is_not_a_network_failure_and_every_row_has_words() -> None:
    assert network_error(ValueError("x"), "api:6443") is None
    assert all(row.says and row.step in ("dns", "tls", "connect", "timeout") for row in NETWORK_FAILURES)
