"""The one table that names a network failure: which step failed (DNS, connect, TLS, no answer),
whether trying again can help, what to say and what to do.

Three callers reach the network in their own way and all translate here: the HTTP client
(``_transport``: http.client over sockets), the TLS probe (raw sockets, so it knows
whether TCP was accepted) and the CONNECT tunnel through a proxy. The model is httpx's
``_exceptions`` mapping: foreign exception types in, the project's ``UnreachableError`` out,
raised ``from None`` so no foreign text (which can quote a header) travels with it.

What it does not do: HTTP statuses (``_http`` maps those) or retrying (``_retry``).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from ._errors import UnreachableError

__all__ = ["NETWORK_FAILURES", "network_error"]


class NeverAnswered(TimeoutError):
    """A timeout after the peer accepted the connection (the transport's read timeout, the probe's
    TLS handshake): something listens there but is not a working API server."""


@dataclass(frozen=True, kw_only=True)
class NetworkFailure:
    """One row of the network failure table: which exceptions, the step they fail, and the words."""

    kinds: tuple[type[BaseException], ...]
    step: str  # api.reachable's evidence.step
    transient: bool  # worth a retry within the deadline
    says: str  # {where}: what we tried to reach; {detail}: the OS's or the TLS library's reason
    fix: str = ""


# Tried in this order, on every exception in the cause chain: the first row any of them matches
# wins: the most specific first (the accepted-then-silent case before the plain timeout it
# subclasses, a reset before the OSError it is).
NETWORK_FAILURES: tuple[NetworkFailure, ...] = (
    NetworkFailure(kinds=(socket.gaierror,), step="dns", transient=False, says="DNS: cannot resolve {where}",
                   fix="check the server name in the kubeconfig and this machine's DNS"),
    NetworkFailure(kinds=(ssl.SSLError,), step="tls", transient=False, says="TLS handshake with {where} failed: {detail}",
                   fix="see tls.serving-cert for what the server presented (wrong port, or plain HTTP?)"),
    NetworkFailure(kinds=(ConnectionRefusedError,), step="connect", transient=False,
                   says="connection to {where} refused: nothing listens there",
                   fix="check that kube-apiserver runs and that the kubeconfig's port is right"),
    NetworkFailure(kinds=(NeverAnswered,), step="timeout", transient=True,
                   says="no answer from {where}: it accepted the connection but never answered{detail}",
                   fix="something accepts connections there but is not a working API server (a stuck proxy or load balancer?)"),
    NetworkFailure(kinds=(TimeoutError,), step="timeout", transient=True, says="no answer from {where} in time",
                   fix="check that the API server runs and that no firewall drops the traffic"),
    NetworkFailure(kinds=(ConnectionResetError, BrokenPipeError), step="connect", transient=True,
                   says="connection to {where} was reset"),
    NetworkFailure(kinds=(OSError,), step="connect", transient=True, says="cannot connect to {where}: {detail}"),
)


def cause_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps, outermost first: what it was raised from or while handling,
    and what it keeps in ``reason`` or its arguments."""
    chain: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(chain) < 12:
        item = todo.pop(0)
        if isinstance(item, BaseException) and item not in chain:
            chain.append(item)
            todo += [getattr(item, "reason", None), item.__cause__, item.__context__, *item.args]
    return chain


def _detail(exc: BaseException) -> str:
    # the TLS library's short reason ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER"), else
    # the OS's words ("No route to host"): never str(exc), which may quote what was sent
    for said in (getattr(exc, "verify_message", None), getattr(exc, "reason", None), getattr(exc, "strerror", None)):
        if said:
            return str(said)
    return type(exc).__name__


def network_error(exc: BaseException, where: str, *, during: str = "", step: str = "", fix: str = "") -> UnreachableError | None:
    """The row of ``NETWORK_FAILURES`` that ``exc`` (or what it wraps) matches, as an error;
    None when it is not a network failure. ``during`` completes "never answered" (" the TLS
    handshake"); ``step`` and ``fix`` override the row's (a proxy reports every failure as
    step "proxy")."""
    chain = cause_chain(exc)
    for row in NETWORK_FAILURES:
        hit = next((e for e in chain if isinstance(e, row.kinds)), None)
        if hit is None:
            continue
        transient = row.transient or (isinstance(hit, socket.gaierror) and hit.errno == socket.EAI_AGAIN)
        message = row.says.format(where=where, detail=during if row.kinds == (NeverAnswered,) else _detail(hit))
        return UnreachableError(message, step=step or row.step, transient=transient, fix=fix or row.fix)
    return None
