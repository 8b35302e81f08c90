"""Collect facts concurrently under one deadline, then judge them with pure checks.

The troubleshoot split (collectors do I/O, analyzers judge): a *collector* gathers one kind
of fact and is called at most once per run, however many checks need it (facts are memoized
futures); a *check* is a pure function of the facts it names plus the run's ``Policy``.

- Every fact a check needs is started at once, each in its own daemon thread, so a black-holed
  socket cannot keep the process alive past the deadline (``concurrent.futures`` threads are
  joined at interpreter exit; daemon threads are not).
- A fact that failed reaches the check as a ``FactError`` only when the check ``tolerates``
  that fact; otherwise the runner reports it: ``skip`` when we were not allowed to look (403)
  or when a root check already explains it, ``error`` when we could not look.
- A check that raises becomes an ``error`` finding; the other checks still run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kube_client._deadline import Deadline
from kube_client._errors import (
    ConfigError,
    ForbiddenError,
    NoChecksError,
    PreflightError,
    UnreachableError,
    describe_bug,
)

from .model import Finding, Outcome, Report

__all__ = ["Check", "Collector", "Deadline", "FactError", "Facts", "run_checks"]


@dataclass(frozen=True)
class FactError:
    """Stands in for a fact whose collector failed."""

    name: str
    error: BaseException

    @property
    def forbidden(self) -> bool:
        return isinstance(self.error, ForbiddenError)


Collector = Callable[["Facts"], Any]


class _Pending:
    """One collector's outcome, set once by its thread (what ``concurrent.futures.Future`` would
    do here, without importing it and ``logging`` with it on every run)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def settle(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value, self._error = value, error
        self.done.set()

    def outcome(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


REPORT_GRACE = 0.5  # seconds past the deadline a collector gets to report its own error


class Facts:
    """Memoized, concurrently gathered facts. ``get`` blocks until a fact is ready."""

    def __init__(self, collectors: Mapping[str, Collector], deadline: Deadline) -> None:
        self._collectors = collectors
        self.deadline = deadline
        self._pending: dict[str, _Pending] = {}
        self._durations: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self, name: str) -> _Pending:
        with self._lock:
            if name in self._pending:
                return self._pending[name]
            if name not in self._collectors:
                raise KeyError(f"no collector for fact {name!r}")
            pending = self._pending[name] = _Pending()
        threading.Thread(target=self._collect, args=(name, pending), name=f"fact:{name}", daemon=True).start()
        return pending

    def _collect(self, name: str, pending: _Pending) -> None:
        started = time.monotonic()
        value: Any = None
        error: BaseException | None = None
        try:
            value = self._collectors[name](self)
        except BaseException as exc:  # noqa: BLE001 - handed to the check as a FactError
            error = exc
        self._durations[name] = time.monotonic() - started
        pending.settle(value, error)

    def get(self, name: str) -> Any:
        pending = self.start(name)
        # Collectors honour the deadline themselves and then raise a precise error (e.g.
        # "accepted the connection but never answered"); wait a moment past it for that.
        if not pending.done.wait(timeout=self.deadline.remaining(grace=REPORT_GRACE)):
            raise UnreachableError(
                f"gave up collecting {name} at the {self.deadline.seconds:g}s deadline",
                step="timeout",
                transient=True,
                fix="raise --timeout, or see api.reachable",
            )
        return pending.outcome()

    def get_or_error(self, name: str) -> Any:
        try:
            return self.get(name)
        except Exception as exc:  # noqa: BLE001 - reported, never raised past the runner
            return FactError(name, exc)

    def duration_ms(self, names: Iterable[str]) -> int:
        return int(max((self._durations.get(n, 0.0) for n in names), default=0.0) * 1000)


CheckFn = Callable[..., "Finding | Iterable[Finding]"]


@dataclass(frozen=True, kw_only=True)
class Check:
    """A row of a check table: the id it reports under, the facts it needs, the judge."""

    id: str
    needs: tuple[str, ...]
    run: CheckFn
    tolerates: tuple[str, ...] = ()  # facts the check still judges when they failed
    # Errors this check is the root cause of: when it failed, a later check whose fact failed
    # with one of them is skipped with a pointer here instead of repeating the error.
    explains: tuple[type[BaseException], ...] = ()
    # A 403 on one of its facts is "not allowed to look" (skip) for an informative check; for a
    # gate's own question it is "could not look", an error: the gate must not say go.
    skip_when_forbidden: bool = True


BUG_REMEDIATION = "this is a preflight bug; please report it with the JSON output"


def _finding_for_fact_error(check: Check, failed: FactError, failed_roots: Sequence[Check]) -> Finding:
    err = failed.error
    if isinstance(err, ForbiddenError):
        gate = not check.skip_when_forbidden  # the gate's own question: could not look is an error
        return Finding(
            id=check.id,
            outcome=Outcome.ERROR if gate else Outcome.SKIP,
            message=(f"could not look: the API server refused {failed.name} (403): " if gate else "not allowed to look: ") + err.message,
            remediation=err.fix or ("this identity may not ask; grant it the permission named above" if gate
                                    else "grant the permission named above to check this"),
            evidence={"fact": failed.name, "status": 403},
        )
    for root in (r.id for r in failed_roots if isinstance(err, r.explains)):
        return Finding(
            id=check.id,
            outcome=Outcome.SKIP,
            message=f"not checked: the API request failed ({getattr(err, 'message', err)}); see {root}",
            evidence={"fact": failed.name, "blocked_by": root},
        )
    hint = ""
    if isinstance(err, UnreachableError) and err.step == "timeout":
        hint = " while the API server answered other requests: a sign that etcd is slow or down"
    if not isinstance(err, PreflightError):
        return Finding(
            id=check.id,
            outcome=Outcome.ERROR,
            message=f"could not collect {failed.name}: {describe_bug(err)}",
            remediation=BUG_REMEDIATION,
            evidence={"fact": failed.name, "error": type(err).__name__},
        )
    return Finding(
        id=check.id,
        outcome=Outcome.ERROR,
        message=f"could not collect {failed.name}: {err}{hint}",
        remediation=err.fix,
        evidence={"fact": failed.name, "error": type(err).__name__},
    )


def _judge(check: Check, facts: Facts, policy: object, failed_roots: Sequence[Check]) -> list[Finding]:
    values = {name: facts.get_or_error(name) for name in check.needs}
    failed = [v for n, v in values.items() if isinstance(v, FactError) and n not in check.tolerates]
    for name, value in values.items():
        if isinstance(value, FactError) and not isinstance(value.error, PreflightError):
            # A judge that tolerates the fact quotes its error: never a foreign exception's text.
            values[name] = FactError(name, PreflightError(f"unexpected {describe_bug(value.error)} while collecting {name}",
                                                          fix=BUG_REMEDIATION))
    if failed:
        return [_finding_for_fact_error(check, failed[0], failed_roots)]
    started = time.monotonic()
    try:
        produced = check.run(policy, **values)
        findings = [produced] if isinstance(produced, Finding) else list(produced)
    except Exception as exc:  # noqa: BLE001 - a crashing check is an error finding, not a crash
        findings = [
            Finding(
                id=check.id,
                outcome=Outcome.ERROR,
                message=f"the check itself failed: {describe_bug(exc)}",
                remediation=BUG_REMEDIATION,
            )
        ]
    own_ms = int((time.monotonic() - started) * 1000)
    took = facts.duration_ms(check.needs) + own_ms
    return [replace(f, id=f.id or check.id, duration_ms=f.duration_ms or took) for f in findings]


def run_checks(checks: Sequence[Check], facts: Facts, *, policy: object, meta: Mapping[str, Any] | None = None) -> Report:
    """Run ``checks`` (in report order) over ``facts``, collecting what they need at once.
    ``policy`` is handed to every judge as its first argument; the runner never reads it."""
    if not checks:
        raise NoChecksError("no checks selected: nothing would be verified", fix="drop the filter that excluded them")
    started = time.monotonic()
    for check in checks:  # start every needed fact now so they run concurrently
        for name in check.needs:
            facts.start(name)
    findings: list[Finding] = []
    for check in checks:
        bad_input = next((v.error for n in check.needs if isinstance(v := facts.get_or_error(n), FactError)
                          and isinstance(v.error, ConfigError)), None)
        if bad_input is not None:  # bad input found while collecting (an exec plugin that cannot start): exit 2, as kubectl stops
            raise bad_input
        failed_ids = {f.id for f in findings if f.outcome in (Outcome.FAIL, Outcome.ERROR)}
        failed_roots = [c for c in checks if c.explains and c.id in failed_ids]
        findings.extend(_judge(check, facts, policy, failed_roots))
    if not findings:
        raise NoChecksError("the selected checks produced no findings")
    return Report(findings=findings, duration_ms=int((time.monotonic() - started) * 1000), meta=dict(meta or {}))
