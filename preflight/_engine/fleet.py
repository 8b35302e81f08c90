"""Many clusters' reports as one: the fleet table, its JSON, its Markdown with the expiry
calendar, and its JUnit (one suite per context).

Pure: ``ClusterResult``s in, text out. Which contexts ran, and how, is the CLI's business
(``preflight/_cli/fleet.py``); the exit code is ``fleet_exit_code``: 0 every cluster ready,
1 any is not or could not be checked.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kube_client._durations import format_age

from .expiry import Expiry, expiries, nearest
from .model import EXIT_FAILED, EXIT_READY, EXIT_UNUSABLE, Report
from .render import SCHEMA, _md, render_junit, render_markdown

__all__ = ["ClusterResult", "FleetView", "calendar", "fleet_exit_code", "render_fleet_json", "render_fleet_junit",
           "render_fleet_markdown", "render_fleet_table"]

FLEET_SCHEMA = "preflight/fleet/v1"


@dataclass(frozen=True, kw_only=True)
class ClusterResult:
    """One context's run: its report, or why preflight could not run against it."""

    context: str
    server: str = ""
    report: Report | None = None
    error: str = ""  # one line, when report is None (bad context entry, the fleet's deadline passed first)
    strict: bool = False

    @property
    def exit_code(self) -> int:
        return self.report.exit_code(strict=self.strict) if self.report is not None else EXIT_UNUSABLE

    @property
    def verdict(self) -> str:
        return {EXIT_READY: "READY", EXIT_FAILED: "NOT READY"}.get(self.exit_code, "NOT CHECKED")

    @property
    def root_cause(self) -> str:
        if self.report is None:
            return self.error
        root = self.report.root_cause
        return f"{root.id}: {root.message}" if root is not None and self.exit_code else ""

    @property
    def expiries(self) -> list[Expiry]:
        return expiries(self.report, cluster=self.context) if self.report is not None else []


@dataclass(frozen=True, kw_only=True)
class FleetView:
    """The fleet's run, as the renderers need it."""

    results: Sequence[ClusterResult]
    now: datetime
    warn_within: timedelta
    duration_ms: int = 0
    calendar_size: int = 20
    meta: dict[str, Any] = field(default_factory=dict)  # timeout, concurrency


def fleet_exit_code(results: Sequence[ClusterResult]) -> int:
    """0 when every cluster is ready, 1 when any is not or could not be checked."""
    return EXIT_READY if all(r.exit_code == EXIT_READY for r in results) else EXIT_FAILED


def _when(moment: datetime, now: datetime) -> str:
    left = moment - now
    rel = f"expired {format_age(-left)} ago" if left.total_seconds() < 0 else f"in {format_age(left)}"
    return f"{moment:%Y-%m-%d %H:%M} UTC ({rel})"


@dataclass(frozen=True, kw_only=True)
class CalendarRow:
    expiry: Expiry
    clusters: tuple[str, ...]  # every context through which this very credential was seen


def calendar(view: FleetView) -> list[CalendarRow]:
    """The next ``calendar_size`` expiries across the fleet, soonest first (expired ones lead).
    A credential seen through several contexts (two contexts, one cluster) is one row."""
    grouped: dict[tuple[str, ...], list[Expiry]] = {}
    for result in view.results:
        for item in result.expiries:
            grouped.setdefault(item.identity, []).append(item)
    rows = [CalendarRow(expiry=items[0], clusters=tuple(dict.fromkeys(i.cluster for i in items))) for items in grouped.values()]
    rows.sort(key=lambda r: (r.expiry.not_after, r.expiry.name))
    return rows[: view.calendar_size]


def _expiry_dict(item: Expiry, now: datetime, warn_within: timedelta) -> dict[str, Any]:
    return {
        "name": item.name,
        "source": item.source,
        "kind": item.kind,
        "check": item.check,
        "not_after": item.not_after.isoformat().replace("+00:00", "Z"),
        "seconds_left": int((item.not_after - now).total_seconds()),
        "within_warning": item.not_after - now <= warn_within,
        "renewed_by": item.renewed_by,
    }


def _clusters_text(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def render_fleet_table(view: FleetView) -> str:
    rows = [("CONTEXT", "VERDICT", "ROOT CAUSE", "NEAREST EXPIRY")]
    for r in view.results:
        soonest = nearest(r.expiries)
        cause = r.root_cause if len(r.root_cause) <= 110 else r.root_cause[:107] + "..."
        expiry = f"{soonest.name} ({soonest.source}) {_when(soonest.not_after, view.now)}" if soonest else "-"
        rows.append((r.context, r.verdict, cause or "-", expiry))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip() for a, b, c, d in rows]
    code = fleet_exit_code(view.results)
    ready = sum(1 for r in view.results if r.exit_code == EXIT_READY)
    unchecked = sum(1 for r in view.results if r.report is None)
    lines.append("")
    lines.append(f"{'READY' if code == 0 else 'NOT READY'}: {ready} of {len(view.results)} contexts ready"
                 + (f", {unchecked} not checked" if unchecked else "") + f" in {view.duration_ms / 1000:.2f}s (exit {code})")
    return "\n".join(lines) + "\n"


def render_fleet_json(view: FleetView) -> str:
    clusters = []
    for r in view.results:
        soonest = nearest(r.expiries)
        report = r.report
        clusters.append({
            "context": r.context,
            "server": r.server,
            "verdict": r.verdict.lower(),
            "exit_code": r.exit_code,
            "root_cause": (report.root_cause.id if report is not None and report.root_cause and r.exit_code else None),
            "error": r.error or None,
            "nearest_expiry": _expiry_dict(soonest, view.now, view.warn_within) if soonest else None,
            "report": ({"schema": SCHEMA, "checks": [f.as_dict() for f in report.findings], "summary": report.summary(strict=r.strict)}
                       if report is not None else None),
        })
    rows = calendar(view)
    doc = {
        "schema": FLEET_SCHEMA,
        "clusters": clusters,
        "calendar": [{**_expiry_dict(row.expiry, view.now, view.warn_within), "clusters": list(row.clusters)} for row in rows],
        "summary": {
            "contexts": len(view.results),
            "ready": sum(1 for r in view.results if r.exit_code == EXIT_READY),
            "not_ready": sum(1 for r in view.results if r.exit_code == EXIT_FAILED),
            "not_checked": sum(1 for r in view.results if r.report is None),
            "expiring_within_warning": sum(1 for row in calendar(_all(view)) if row.expiry.not_after - view.now <= view.warn_within),
            "exit_code": fleet_exit_code(view.results),
            "duration_ms": view.duration_ms,
            **view.meta,
        },
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def _all(view: FleetView) -> FleetView:
    return FleetView(results=view.results, now=view.now, warn_within=view.warn_within, calendar_size=10**9)


def render_calendar(view: FleetView) -> str:
    rows = calendar(view)
    lines = [f"### Expiry calendar: the next {len(rows)} across {len(view.results)} contexts", ""]
    if not rows:
        return "\n".join([*lines, "No expiring credential was found.", ""])
    lines += ["| Expires | Cluster | What | Source | Renewed by |", "|---|---|---|---|---|"]
    for row in rows:
        e = row.expiry
        soon = e.not_after - view.now <= view.warn_within
        when = _when(e.not_after, view.now)
        lines.append(f"| {'**' + when + '**' if soon else when} | {_md(_clusters_text(row.clusters))} | `{_md(e.name)}` ({e.kind}) "
                     f"| {e.source or '-'} | {_md(e.renewed_by) or '-'} |")
    return "\n".join(lines) + "\n"


def render_fleet_markdown(view: FleetView) -> str:
    code = fleet_exit_code(view.results)
    lines = [f"## preflight fleet: {'READY' if code == 0 else 'NOT READY'} "
             f"({sum(1 for r in view.results if r.exit_code == EXIT_READY)} of {len(view.results)} contexts ready)", "",
             "| Context | Verdict | Root cause | Nearest expiry |", "|---|---|---|---|"]
    for r in view.results:
        soonest = nearest(r.expiries)
        expiry = f"`{_md(soonest.name)}` ({soonest.source}) {_when(soonest.not_after, view.now)}" if soonest else "-"
        lines.append(f"| `{_md(r.context)}` | **{r.verdict}** | {_md(r.root_cause) or '-'} | {expiry} |")
    parts = ["\n".join(lines) + "\n", render_calendar(view)]
    for r in view.results:
        if r.report is not None and r.exit_code:
            parts.append(render_markdown(r.report, strict=r.strict, title=f"`{r.context}`"))
    return "\n".join(parts)


def render_fleet_junit(view: FleetView) -> str:
    """One testsuite per context, named after it; a context not checked is one <error>."""
    root = ET.Element("testsuites", {"name": "preflight fleet"})
    for r in view.results:
        if r.report is not None:
            one = ET.fromstring(render_junit(r.report, strict=r.strict, suite=f"preflight.{r.context}").split("\n", 1)[1])
            root.extend(one.findall("testsuite"))
            continue
        suite = ET.SubElement(root, "testsuite", {"name": f"preflight.{r.context}", "tests": "1", "failures": "0", "errors": "1",
                                                  "skipped": "0", "time": "0.000"})
        case = ET.SubElement(suite, "testcase", {"classname": f"preflight.{r.context}", "name": "preflight", "time": "0.000"})
        ET.SubElement(case, "error", {"message": r.error, "type": "error"}).text = r.error
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
