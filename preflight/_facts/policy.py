"""What a check may consult besides facts: the run's clock and the user's expiry thresholds.

Options that only one judge reads (``--service-account`` given, ``--helm-timeout``) are not
here: the check table binds them to that judge's own typed parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kube_client._durations import format_age
from kube_client._errors import ConfigError

from .._engine.model import Outcome
from .x509 import CertInfo, human_time

__all__ = ["ExpiryPolicy", "Policy"]


@dataclass(frozen=True, kw_only=True)
class ExpiryPolicy:
    """When a certificate's remaining validity becomes a warning, then a failure."""

    warn_within: timedelta = timedelta(days=30)
    fail_within: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if self.fail_within > self.warn_within:
            raise ConfigError(
                "--fail-within is longer than --warn-within",
                fix="make the failure threshold the shorter one, e.g. --warn-within 30d --fail-within 7d",
            )

    def judge(self, info: CertInfo, now: datetime) -> tuple[Outcome, str]:
        """The outcome and a phrase such as "expired 35d ago (2023-05-14 05:49 UTC)"."""
        if now > info.not_after:
            return Outcome.FAIL, f"expired {format_age(now - info.not_after)} ago ({human_time(info.not_after)})"
        if now < info.not_before:
            return Outcome.FAIL, (
                f"not valid until {human_time(info.not_before)}, {format_age(info.not_before - now)} "
                "from now by this machine's clock (clock skew?)"
            )
        phrase = f"expires in {info.residual(now)} ({human_time(info.not_after)})"
        return self.judge_remaining(info.not_after - now), phrase

    def judge_remaining(self, remaining: timedelta) -> Outcome:
        if remaining <= self.fail_within:
            return Outcome.FAIL
        if remaining <= self.warn_within:
            return Outcome.WARN
        return Outcome.PASS


@dataclass(frozen=True, kw_only=True)
class Policy:
    """Everything a check may consult besides facts: the clock and the user's thresholds."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    expiry: ExpiryPolicy = field(default_factory=ExpiryPolicy)
