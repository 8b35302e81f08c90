"""The run's time budget: one deadline every request and retry of a run draws on."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Deadline"]


class Deadline:
    """The run's time budget, shared by every collector and request."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds
        self.seconds = seconds

    def remaining(self, *, grace: float = 0.0) -> float:
        """Seconds left; ``grace`` extends the end once, absolutely (not per caller)."""
        return max(0.0, self._end + grace - self._clock())

    def expired(self) -> bool:
        return self.remaining() <= 0
