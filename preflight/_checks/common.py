"""Small helpers the checks share."""

from __future__ import annotations

from datetime import datetime

from kube_client._durations import format_age

from .._engine.model import Outcome
from .._engine.runner import FactError

__all__ = ["RESTART_HOWTO", "WORST_FIRST", "ago", "fact_problem", "worst"]

# How to really restart a static-pod control-plane component, which renewed certificates need
# (the incident: deleting the mirror pods restarted nothing).
RESTART_HOWTO = (
    "move its manifest out of /etc/kubernetes/manifests and back after 20s, or 'crictl stop' its "
    "container (deleting the mirror pod with kubectl does not restart a static pod)"
)

WORST_FIRST = [Outcome.FAIL, Outcome.ERROR, Outcome.WARN, Outcome.SKIP, Outcome.PASS]


def worst(*outcomes: Outcome) -> Outcome:
    return min(outcomes, key=WORST_FIRST.index, default=Outcome.PASS)


def ago(earlier: datetime, now: datetime) -> str:
    return format_age(now - earlier)


def fact_problem(value: object) -> str:
    """A one-line reason when ``value`` is a FactError, else ''."""
    return str(value.error) if isinstance(value, FactError) else ""
