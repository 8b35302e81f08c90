"""Durations as users type them (``30d``, ``20s``, ``1h30m``) and as kubeadm prints them."""

from __future__ import annotations

import re
from datetime import timedelta

from ._errors import ConfigError

__all__ = ["format_residual", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


# time.Duration is int64 nanoseconds (Go time.ParseDuration: "invalid duration" beyond it)
MAX_SECONDS = (2**63 - 1) / 1e9


def parse_duration(text: str, *, name: str = "duration") -> timedelta:
    """``30d``, ``1h30m``, ``500ms``, or bare seconds (``20``)."""
    raw = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        seconds = float(raw)
    else:
        parts = _PART.findall(raw)
        if not raw or "".join(n + u for n, u in parts) != raw:
            raise ConfigError(
                f"{name}: {text!r} is not a duration", fix="use a number with a unit, e.g. 20s, 7d, 1h30m"
            )
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds > MAX_SECONDS:  # timedelta would overflow long before; Go's ParseDuration stops here
        raise ConfigError(f"{name}: {text!r} is longer than a Go duration can be (about 292 years)", fix="use a shorter duration")
    return timedelta(seconds=seconds)


def format_residual(remaining: timedelta) -> str:
    """Residual time exactly as ``kubeadm certs check-expiration`` prints it.

    A port of k8s.io/apimachinery/pkg/util/duration.HumanDuration (v0.37.2), which kubeadm's
    certTextPrinter uses (cmd/kubeadm/app/cmd/certs.go): ``<invalid>`` once expired beyond a
    2 s tolerance, then finer units for short spans (``5m30s``, ``3d4h``, ``2y91d``).
    """
    seconds = int(remaining.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m" if seconds % 60 == 0 else f"{minutes}m{seconds % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"


def format_age(delta: timedelta) -> str:
    """A short human age for messages: ``35d``, ``47m``, ``2h``."""
    return format_residual(abs(delta)) if abs(delta) >= timedelta(seconds=2) else "0s"
