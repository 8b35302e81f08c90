"""Run one function over many items on daemon threads (a black-holed request must never keep
the process alive past its deadline; ``concurrent.futures`` joins its threads at exit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


def parallel(fn: Callable[[Any], Any], items: Iterable[Any], *, workers: int = 4) -> list[Any]:
    """``fn`` over ``items`` on daemon threads; each result or the exception it raised."""
    todo = list(enumerate(items))
    results: list[Any] = [None] * len(todo)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                index, item = todo.pop(0)
            try:
                results[index] = fn(item)
            except Exception as exc:  # noqa: BLE001 - handed back to the caller
                results[index] = exc

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(workers, len(todo)) or 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def raise_first(results: Iterable[Any]) -> None:
    """Raise the first exception ``parallel`` handed back, for callers that need every result."""
    for result in results:
        if isinstance(result, Exception):
            raise result
