"""What expires, read from findings' evidence: the calendar's and the metrics' one source.

The convention (judges write it, this module reads it; it names no check): an evidence mapping,
the finding's own or one nested in it (in a list or a mapping), that has ``not_after`` (RFC 3339)
describes one credential that expires. Its other keys, all optional:

- ``name``: what it is (``apiserver``, ``admin.conf``, a user or Secret name); default the finding id
- ``source``: ``served`` (what a server presents), ``kubeconfig``, ``file`` or ``secret``
- ``kind``: ``certificate`` (default) or ``token`` (a bearer token's expiry, no certificate)
- ``renewed_by``: what renews it, in words a person acts on
- ``subject``, ``issuer`` (RFC 4514), ``serial`` (decimal), ``sha256``, ``not_before``
- where it lives: ``path`` (a file), ``embedded_kind``/``embedded_key`` (a kubeconfig's user
  block), ``secret`` (``namespace/name``) and ``secret_key``, ``endpoint`` (``host:port``)
- ``matches_disk`` (served only): whether what is served is the file on disk

``expiring(...)`` builds those keys, so judges spell them once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .model import Finding, Report

__all__ = ["Expiry", "expiries", "expiring", "nearest", "parse_rfc3339"]


def expiring(name: str, source: str, renewed_by: str, *, kind: str = "certificate", **where: Any) -> dict[str, Any]:
    """The evidence keys that put a credential on the calendar (merge them into the evidence)."""
    return {"name": name, "source": source, "kind": kind, "renewed_by": renewed_by, **where}


def parse_rfc3339(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Expiry:
    """One expiring credential of one cluster."""

    cluster: str
    check: str  # the finding that reported it
    name: str
    source: str
    kind: str
    not_after: datetime
    not_before: datetime | None
    renewed_by: str
    evidence: Mapping[str, Any]  # the mapping it was read from (labels come from here)

    @property
    def identity(self) -> tuple[str, ...]:
        """The same credential seen through several contexts has the same identity."""
        return (self.evidence.get("sha256") or self.evidence.get("serial") or self.not_after.isoformat(), self.source, self.name)


def _mappings(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        yield value
        for inner in value.values():
            yield from _mappings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _mappings(inner)


def _of_finding(finding: Finding, cluster: str) -> Iterator[Expiry]:
    for ev in _mappings(finding.evidence):
        not_after = parse_rfc3339(ev["not_after"]) if isinstance(ev.get("not_after"), str) else None
        if not_after is None:
            continue
        yield Expiry(
            cluster=cluster,
            check=finding.id,
            name=str(ev.get("name") or finding.id),
            source=str(ev.get("source") or ""),
            kind=str(ev.get("kind") or "certificate"),
            not_after=not_after,
            not_before=parse_rfc3339(ev["not_before"]) if isinstance(ev.get("not_before"), str) else None,
            renewed_by=str(ev.get("renewed_by") or finding.remediation or ""),
            evidence=ev,
        )


def expiries(report: Report, *, cluster: str = "") -> list[Expiry]:
    """Every expiring credential the report's evidence names, soonest first."""
    found = [e for f in report.findings for e in _of_finding(f, cluster)]
    return sorted(found, key=lambda e: (e.not_after, e.cluster, e.name))


def nearest(items: Sequence[Expiry]) -> Expiry | None:
    return min(items, key=lambda e: e.not_after, default=None)
