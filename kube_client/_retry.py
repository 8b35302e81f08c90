"""The one retry policy: transient failures only, never past the run's deadline; and the
circuit breaker that stops retrying a host that cannot be reached at all.

Transient: a reset connection, no answer in time, 429 and 5xx (``ClusterError.transient``).
Never retried: 401, 403, 404, 409, a refused connection, a name that does not resolve, and
TLS/x509 failures, which repeat exactly (design notes: "Retry only what is transient ...
A refused connection or a name that does not resolve fails that host at once").
``stop_before_delay`` counts the upcoming sleep, so a retry never starts past the deadline.

A 429 or 5xx with ``Retry-After`` (API Priority and Fairness sends it) waits that long, as
client-go's ``checkWait`` does, and gives up at once when that wait would cross the deadline.

``Breaker``: after a refused connection, a name that does not resolve or a failed TLS
handshake, every later request to that host fails at once with the same error, without a
connection attempt. Until one connection to the host has succeeded, connection attempts take
turns (one at a time), so a dead host costs one attempt, not one per concurrent request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from ._deadline import Deadline
from ._errors import ClusterError, UnreachableError

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["Breaker", "is_transient", "with_retries"]

T = TypeVar("T")

# The failures that say "this host cannot be reached at all": the same answer every time.
TRIPPING_STEPS = frozenset({"dns", "connect", "tls", "proxy"})


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, ClusterError) and exc.transient


def _wait(state: RetryCallState) -> float:
    """0.1 s, 0.2 s, 0.4 s ... capped at 2 s, plus jitter so parallel facts do not align; or
    the server's Retry-After when it sent one (client-go honours it the same way)."""
    from tenacity import wait_exponential, wait_random

    exc = state.outcome.exception() if state.outcome is not None else None
    asked = getattr(exc, "retry_after", None)
    backoff = wait_exponential(multiplier=0.1, max=2) + wait_random(0, 0.1)
    return float(asked) if isinstance(asked, (int, float)) and asked > 0 else backoff(state)


def with_retries(deadline: Deadline, attempt: Callable[[], T]) -> T:
    """Call ``attempt`` until it succeeds, fails for good, or the deadline is near.

    The first attempt runs bare: nearly every request succeeds at once, and tenacity (about
    10 ms of a check's start-up, bench/README.md) is imported only when one must be retried.
    Its failure is then replayed as tenacity's first attempt, so the waits and the deadline
    are exactly as if tenacity had made it."""
    try:
        return attempt()
    except Exception as exc:  # noqa: BLE001 - only a transient failure goes on, untouched
        if not is_transient(exc):
            raise
        first: list[BaseException] = [exc]

    from tenacity import Retrying, retry_if_exception, stop_before_delay

    def replay_then_attempt() -> T:
        if first:
            raise first.pop()
        return attempt()

    retrying = Retrying(
        stop=stop_before_delay(deadline.remaining()),
        wait=_wait,
        retry=retry_if_exception(is_transient),
        reraise=True,
    )
    return retrying(replay_then_attempt)


class Breaker:
    """One host's circuit breaker (see the module notes). Thread-safe; one per client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn = threading.Lock()  # held by the one connection attempt in flight until a first success
        self._open: UnreachableError | None = None
        self._proven = False
        self.attempts = 0  # connection attempts made (a tripped breaker makes none)

    @staticmethod
    def trips_on(err: BaseException) -> bool:
        return isinstance(err, UnreachableError) and not err.transient and err.step in TRIPPING_STEPS

    @property
    def tripped(self) -> UnreachableError | None:
        return self._open

    def check(self) -> None:
        """Raise the error that tripped the breaker (a fresh copy: threads raise it at once)."""
        err = self._open
        if err is not None:
            raise UnreachableError(err.message, step=err.step, transient=False, fix=err.fix)

    def record(self, err: BaseException) -> None:
        if isinstance(err, UnreachableError) and self.trips_on(err):
            with self._lock:
                if self._open is None:
                    self._open = err

    @contextmanager
    def attempt(self, translate: Callable[[BaseException], BaseException], wait: float, on_wait_timeout: Callable[[], BaseException]
                ) -> Iterator[None]:
        """Guard one connection attempt: fail at once when open; take turns until proven;
        record a failure, translated by ``translate``, before the next attempt may start."""
        self.check()
        held = False
        if not self._proven:
            held = self._turn.acquire(timeout=max(0.0, wait))
            if not held:
                raise on_wait_timeout()
        try:
            self.check()  # the attempt we waited for may have tripped it
            with self._lock:
                self.attempts += 1
            yield
        except BaseException as exc:
            # ours already (a proxy's refusal, or the breaker's own error, which records nothing twice) or foreign
            self.record(exc if isinstance(exc, UnreachableError) else translate(exc))
            raise
        else:
            self._proven = True
        finally:
            if held:
                self._turn.release()
