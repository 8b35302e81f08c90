"""The one retry policy: transient failures only, never past the run's deadline.

Transient: connection refused or reset, no answer in time, 429 and 5xx (``ClusterError.
transient``). Never retried: 401, 403, 404, 409, and TLS/x509 failures, which repeat exactly
(design notes: "Retry only what is transient ... never retry 401, 403 or an x509 error").
``stop_before_delay`` counts the upcoming sleep, so a retry never starts past the deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, stop_before_delay, wait_exponential, wait_random

from ._deadline import Deadline
from ._errors import ClusterError

__all__ = ["is_transient", "with_retries"]

T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, ClusterError) and exc.transient


def with_retries(deadline: Deadline, attempt: Callable[[], T]) -> T:
    """Call ``attempt`` until it succeeds, fails for good, or the deadline is near."""
    retrying = Retrying(
        stop=stop_before_delay(deadline.remaining()),
        # 0.1 s, 0.2 s, 0.4 s ... capped at 2 s, plus jitter so parallel facts do not align
        wait=wait_exponential(multiplier=0.1, max=2) + wait_random(0, 0.1),
        retry=retry_if_exception(is_transient),
        reraise=True,
    )
    return retrying(attempt)
