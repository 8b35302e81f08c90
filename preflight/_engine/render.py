"""Render a ``Report``: a table for people, JSON for programs, JUnit for Jenkins, Markdown
for pull requests and build descriptions.

The JSON shape is the public contract ``preflight/v1`` (README, "Output contract").

JUnit mapping (Jenkins' ``junit`` step marks a build UNSTABLE on failures and errors, and
only counts skipped tests): fail -> <failure>, error -> <error>, skip -> <skipped>, and
warn -> <skipped message="warning: ..."> so warnings are listed on the test page without
changing the build result; with ``--strict`` a warning is a <failure>, as the exit code is.

Every renderer first passes the report through ``printable``: control characters (C0 but
tab, DEL, C1) and lone surrogates go, whoever wrote the text (an exec plugin printing colour
codes made the JUnit file invalid XML, which Jenkins' junit step rejects). Messages become one
line; evidence keeps its line breaks (a ready-to-apply Role is YAML).

What this module does not do: decide outcomes or exit codes (the Report does), or write
files (the CLI writes them with ``kube_client._files.write_atomic``, in one rename).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import replace
from typing import Any

from .model import Finding, Outcome, Report

__all__ = ["render_json", "render_junit", "render_markdown", "render_table", "use_color"]

SCHEMA = "preflight/v1"

_COLORS = {
    Outcome.PASS: "32",
    Outcome.WARN: "33",
    Outcome.FAIL: "31;1",
    Outcome.ERROR: "35;1",
    Outcome.SKIP: "2",
}


# Control characters but tab (and, where kept, line feed), DEL, C1, lone surrogates, and the
# two XML non-characters.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_UNPRINTABLE_KEEP_LF = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _text(value: str, *, lines: bool) -> str:
    if lines:
        return _UNPRINTABLE_KEEP_LF.sub("", value.replace("\r\n", "\n"))
    return _UNPRINTABLE.sub("", value.replace("\r\n", " ").replace("\n", " "))


def _deep(value: Any) -> Any:
    if isinstance(value, str):
        return _text(value, lines=True)
    if isinstance(value, dict):
        return {_deep(k): _deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_deep(v) for v in value]
    return value


def printable(report: Report) -> Report:
    """``report`` with every string safe for a terminal and for XML (see the module notes)."""
    findings = [replace(f, id=_text(f.id, lines=False), message=_text(f.message, lines=False),
                        remediation=_text(f.remediation, lines=False), evidence=_deep(dict(f.evidence)))
                for f in report.findings]
    return replace(report, findings=findings, meta=_deep(dict(report.meta)))


def use_color(stream: object, environ: dict[str, str] | None = None) -> bool:
    """Color only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _verdict(report: Report, strict: bool) -> str:
    return "READY" if report.exit_code(strict=strict) == 0 else "NOT READY"


def _counts(report: Report) -> str:
    parts = [f"{report.count(o)} {o.value}" for o in Outcome if report.count(o)]
    return ", ".join(parts)


def render_table(report: Report, *, color: bool = False, strict: bool = False) -> str:
    report = printable(report)
    def paint(outcome: Outcome, text: str) -> str:
        return f"\x1b[{_COLORS[outcome]}m{text}\x1b[0m" if color else text

    width = max(len("CHECK"), *(len(f.id) for f in report.findings))
    lines = [f"{'RESULT':<7} {'CHECK':<{width}}  MESSAGE"]
    for f in report.findings:
        label = paint(f.outcome, f"{f.outcome.value.upper():<7}")
        lines.append(f"{label} {f.id:<{width}}  {f.message}")
        if f.remediation and f.outcome in (Outcome.FAIL, Outcome.WARN, Outcome.ERROR):
            lines.append(f"{'':<7} {'':<{width}}  fix: {f.remediation}")
    code = report.exit_code(strict=strict)
    verdict = paint(Outcome.PASS if code == 0 else Outcome.FAIL, _verdict(report, strict))
    lines.append("")
    lines.append(f"{verdict}: {_counts(report)} in {report.duration_ms / 1000:.2f}s (exit {code})")
    root = report.root_cause
    if code and root is not None:
        summary = root.message if len(root.message) <= 160 else root.message[:157] + "..."
        lines.append(f"root cause: {root.id}: {summary}")
    return "\n".join(lines) + "\n"


def render_json(report: Report, *, strict: bool = False) -> str:
    report = printable(report)
    doc = {
        "schema": SCHEMA,
        "checks": [f.as_dict() for f in report.findings],
        "summary": report.summary(strict=strict),
    }
    return json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"


def _junit_name(f: Finding, ambiguous: set[str]) -> str:
    scope = f.evidence.get("context") or f.evidence.get("path")
    return f"{f.id} [{scope}]" if f.id in ambiguous and scope else f.id


def render_junit(report: Report, *, strict: bool = False, suite: str = "preflight") -> str:
    import xml.etree.ElementTree as ET  # only for --junit: a check's start-up does not pay for it

    report = printable(report)
    ambiguous = {i for i, n in Counter(f.id for f in report.findings).items() if n > 1}
    failures = errors = skipped = 0
    cases = []
    for f in report.findings:
        case = ET.Element(
            "testcase",
            {"classname": f"{suite}.{f.id.split('.')[0]}", "name": _junit_name(f, ambiguous), "time": f"{f.duration_ms / 1000:.3f}"},
        )
        detail = "\n".join(
            x for x in (f.message, f"fix: {f.remediation}" if f.remediation else "", json.dumps(dict(f.evidence), indent=2, default=str)) if x
        )
        warn_fails = strict and f.outcome is Outcome.WARN
        if f.outcome is Outcome.FAIL or warn_fails:
            failures += 1
            ET.SubElement(case, "failure", {"message": f.message, "type": f.outcome.value}).text = detail
        elif f.outcome is Outcome.ERROR:
            errors += 1
            ET.SubElement(case, "error", {"message": f.message, "type": "error"}).text = detail
        elif f.outcome is Outcome.WARN:
            skipped += 1
            ET.SubElement(case, "skipped", {"message": f"warning: {f.message}"})
        elif f.outcome is Outcome.SKIP:
            skipped += 1
            ET.SubElement(case, "skipped", {"message": f.message})
        ET.SubElement(case, "system-out").text = detail
        cases.append(case)
    counts = {
        "tests": str(len(cases)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
        "time": f"{report.duration_ms / 1000:.3f}",
    }
    root = ET.Element("testsuites", {"name": suite, **counts})
    suite_el = ET.SubElement(root, "testsuite", {"name": suite, **counts})
    suite_el.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def render_markdown(report: Report, *, strict: bool = False, title: str = "preflight") -> str:
    report = printable(report)
    lines = [
        f"### {title}: {_verdict(report, strict)} ({_counts(report)})",
        "",
        "| Result | Check | Finding |",
        "|---|---|---|",
    ]
    for f in report.findings:
        text = _md(f.message) + (f"<br>**Fix:** {_md(f.remediation)}" if f.remediation and f.outcome is not Outcome.PASS else "")
        lines.append(f"| **{f.outcome.value.upper()}** | `{f.id}` | {text} |")
    return "\n".join(lines) + "\n"


