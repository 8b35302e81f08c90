"""What a check produces: one ``Outcome`` per ``Finding``, and the ``Report`` of a run.

Renderers and the exit code read these; none of them re-derives an outcome from booleans.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kube_client._errors import EXIT_UNUSABLE

__all__ = ["EXIT_FAILED", "EXIT_READY", "EXIT_UNUSABLE", "Finding", "Outcome", "Report"]

EXIT_READY = 0
EXIT_FAILED = 1


class Outcome(enum.StrEnum):
    """pass: looked and fine. warn: fine now, act soon. fail: the deploy cannot succeed.
    skip: not applicable, or not allowed to look (a note says which).
    error: tried to look and could not (timeout, crash); we do not know."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One answer to one question. ``id`` is part of the public contract (see README).

    A judge that answers for its own table row leaves ``id`` empty and the runner fills in the
    row's id, so each id is written once, in the table; judges that report several ids (one per
    release object, say) set them."""

    id: str = ""
    outcome: Outcome
    message: str
    remediation: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    duration_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outcome": self.outcome.value,
            "message": self.message,
            "remediation": self.remediation,
            "evidence": dict(self.evidence),
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, kw_only=True)
class Report:
    """The findings of one run, in the order they should be read (root causes first)."""

    findings: Sequence[Finding]
    duration_ms: int = 0
    meta: Mapping[str, Any] = field(default_factory=dict)  # target, request counts: never secrets

    @property
    def root_cause(self) -> Finding | None:
        """The first failure in report order: checks are ordered root causes first."""
        return next((f for f in self.findings if f.outcome in (Outcome.FAIL, Outcome.ERROR)), None)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for f in self.findings if f.outcome is outcome)

    def exit_code(self, *, strict: bool = False) -> int:
        """0 ready (warnings allowed), 1 something failed (or warned, with strict).

        An ``error`` finding means we could not tell, which is not "ready": it exits 1 too,
        because a gate that cannot see must not let the deploy through.
        """
        blocking = {Outcome.FAIL, Outcome.ERROR} | ({Outcome.WARN} if strict else set())
        return EXIT_FAILED if any(f.outcome in blocking for f in self.findings) else EXIT_READY

    def summary(self, *, strict: bool = False) -> dict[str, Any]:
        counts = {o.value: self.count(o) for o in Outcome}
        code = self.exit_code(strict=strict)
        return {
            **counts,
            "total": len(self.findings),
            "ready": code == EXIT_READY,
            "exit_code": code,
            "strict": strict,
            "duration_ms": self.duration_ms,
            "root_cause": self.root_cause.id if self.root_cause and code else None,
            **self.meta,
        }
