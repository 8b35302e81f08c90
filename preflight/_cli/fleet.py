"""``preflight fleet``: ``check`` against every (selected) context of the kubeconfig, concurrently,
under one deadline.

Each context runs the same ``run_check`` as ``preflight check`` on a daemon thread (a black-holed
cluster must not keep the process alive), at most ``concurrency`` at once. There is one deadline
for the whole fleet: a context gets what is left of it when its turn comes, so the wall time is
bounded by ``--timeout``, never by the number of clusters. A dead cluster is reported, with its
root cause, by ``api.reachable``; a context that could not be checked at all (a bad context
entry, a namespace that does not exist, the deadline passed before its turn) is reported as NOT
CHECKED with the reason. None is ever left out.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime

from kube_client._deadline import Deadline
from kube_client._errors import ConfigError, PreflightError, describe_bug
from kube_client._kubeconfig import default_paths, load_kubeconfig
from kube_client._target import resolve_target

from .._engine.fleet import ClusterResult
from .._facts.policy import ExpiryPolicy
from .check import CheckRequest, run_check

__all__ = ["FleetRequest", "run_fleet", "select_contexts"]

# A context whose turn comes with less than this left of the deadline is not started: it could
# not even finish a TLS handshake, and "timed out" would blame the cluster for our queue.
MIN_SLOT = 1.0
# How long past the deadline the fleet waits for a run to report its own error (each run already
# stops at the deadline plus the runner's half second).
FLEET_GRACE = 2.0


@dataclass(frozen=True, kw_only=True)
class FleetRequest:
    kubeconfig: str | None
    contexts: tuple[str, ...]
    namespace: str | None
    timeout: float
    concurrency: int
    expiry: ExpiryPolicy
    now: datetime
    strict: bool = False


def select_contexts(kubeconfig: str | None, pattern: str | None) -> tuple[str, ...]:
    """The kubeconfig's contexts whose name ``pattern`` (a regular expression) matches, in file
    order. Raises ConfigError (exit 2) for a bad pattern or one that matches nothing."""
    try:
        compiled = re.compile(pattern) if pattern is not None else None
    except re.error as exc:
        raise ConfigError(f"--context {pattern!r} is not a regular expression ({exc})",
                          fix="use Python syntax, e.g. '^prod-' or 'eu|us'") from None
    config = load_kubeconfig(default_paths(kubeconfig), explicit=bool(kubeconfig))
    names = config.context_names
    where = ", ".join(str(p) for p in config.paths)
    if not names:
        raise ConfigError(f"{where} defines no context", fix="add contexts, or pass --kubeconfig")
    chosen = tuple(n for n in names if compiled is None or compiled.search(n))
    if not chosen:
        raise ConfigError(f"--context {pattern!r} matches none of the {len(names)} contexts in {where}",
                          fix=f"the contexts are: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")
    return chosen


def _check_one(name: str, request: FleetRequest, deadline: Deadline) -> ClusterResult:
    left = deadline.remaining()
    if left < MIN_SLOT:
        return ClusterResult(context=name, error=f"not checked: the fleet's {deadline.seconds:g}s --timeout ran out before its turn "
                             "(raise --concurrency or --timeout)")
    server = ""
    try:
        target = resolve_target(kubeconfig=request.kubeconfig, context=name, namespace=request.namespace)
        server = target.cluster.server
        report = run_check(CheckRequest(target=target, timeout=left, expiry=request.expiry, now=request.now))
    except PreflightError as exc:  # this context cannot be checked; the others go on
        return ClusterResult(context=name, server=server, error=f"not checked: {exc}")
    except Exception as exc:  # noqa: BLE001 - a bug in one context's run must not hide the others
        return ClusterResult(context=name, server=server, error=f"not checked: unexpected {describe_bug(exc)}: this is a preflight bug")
    return ClusterResult(context=name, server=server, report=report, strict=request.strict)


def _start(jobs: list[tuple[str, Future[ClusterResult]]], work: Callable[[str], ClusterResult], workers: int) -> None:
    """Run ``work`` over the jobs on ``workers`` daemon threads; each result lands in its future."""
    queue = list(jobs)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                name, future = queue.pop(0)
            try:
                future.set_result(work(name))
            except BaseException as exc:  # noqa: BLE001 - handed to the collecting side
                future.set_exception(exc)

    for i in range(min(workers, len(jobs))):
        threading.Thread(target=worker, name=f"fleet-{i}", daemon=True).start()


def run_fleet(request: FleetRequest) -> tuple[list[ClusterResult], int]:
    """Every context's result, in kubeconfig order, and the fleet's wall time in ms."""
    started = time.monotonic()
    deadline = Deadline(request.timeout)
    jobs: list[tuple[str, Future[ClusterResult]]] = [(name, Future()) for name in request.contexts]
    _start(jobs, lambda name: _check_one(name, request, deadline), request.concurrency)
    results = []
    for name, future in jobs:
        try:
            results.append(future.result(timeout=deadline.remaining(grace=FLEET_GRACE)))
        except FutureTimeout:
            results.append(ClusterResult(context=name, error=f"not checked: still running at the fleet's {request.timeout:g}s deadline"))
    return results, int((time.monotonic() - started) * 1000)


def describe_selection(contexts: Sequence[str], request: FleetRequest) -> str:
    return (f"preflight: checking {len(contexts)} context{'s' if len(contexts) != 1 else ''}, {request.concurrency} at a time, "
            f"within {request.timeout:g}s")
