"""Reports: the JSON contract, JUnit that Jenkins and other parsers read, Markdown, table."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from preflight._engine.model import Finding, Outcome, Report
from kube_client._files import write_atomic
from preflight._engine.render import render_json, render_junit, render_markdown, render_table, use_color

REPORT = Report(
    findings=[
        Finding(id="controlplane.leases", outcome=Outcome.FAIL, message="kube-controller-manager lease stale for 47m",
                remediation="restart it", evidence={"age_seconds": 2820}, duration_ms=12),
        Finding(id="pki.apiserver", outcome=Outcome.WARN, message="expires in 20d", remediation="renew", duration_ms=3),
        Finding(id="rbac.subjects", outcome=Outcome.SKIP, message="not allowed to look"),
        Finding(id="api.reachable", outcome=Outcome.PASS, message="v1.37.2", duration_ms=40),
        Finding(id="auth.identity", outcome=Outcome.ERROR, message="timed out"),
    ],
    duration_ms=120,
)


def test_json_has_exactly_the_documented_shape() -> None:
    doc = json.loads(render_json(REPORT))
    assert list(doc) == ["schema", "checks", "summary"]
    assert doc["schema"] == "preflight/v1"
    for check in doc["checks"]:
        assert list(check) == ["id", "outcome", "message", "remediation", "evidence", "duration_ms"]
        assert check["outcome"] in {"pass", "warn", "fail", "skip", "error"}
    assert doc["summary"]["fail"] == 1 and doc["summary"]["warn"] == 1 and doc["summary"]["total"] == 5
    assert doc["summary"]["exit_code"] == 1 and doc["summary"]["ready"] is False
    assert doc["summary"]["root_cause"] == "controlplane.leases"


def test_junit_maps_outcomes_so_warnings_show_without_failing_the_build() -> None:
    root = ET.fromstring(render_junit(REPORT))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("5", "1", "1", "2")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["controlplane.leases"].find("failure") is not None
    assert cases["auth.identity"].find("error") is not None
    warn = cases["pki.apiserver"].find("skipped")
    assert warn is not None and warn.get("message", "").startswith("warning: ")
    assert cases["api.reachable"].find("failure") is None and cases["api.reachable"].find("skipped") is None


def test_junit_strict_turns_warnings_into_failures() -> None:
    suite = ET.fromstring(render_junit(REPORT, strict=True)).find("testsuite")
    assert suite is not None and suite.get("failures") == "2"


def test_junit_is_read_by_an_independent_parser(tmp_path: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    path = tmp_path / "r.xml"
    path.write_text(render_junit(REPORT))
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml) if hasattr(xml, "__iter__") else [xml]
    results = {case.name: [type(r).__name__ for r in case.result] for s in suites for case in s}
    assert results["controlplane.leases"] == ["Failure"]
    assert results["auth.identity"] == ["Error"]
    assert results["pki.apiserver"] == ["Skipped"]
    assert results["api.reachable"] == []


def test_duplicate_ids_get_their_context_in_the_junit_name() -> None:
    report = Report(findings=[
        Finding(id="kubeconfig.credentials", outcome=Outcome.PASS, message="a", evidence={"context": "dev"}),
        Finding(id="kubeconfig.credentials", outcome=Outcome.PASS, message="b", evidence={"context": "prod"}),
    ])
    names = [c.get("name") for c in ET.fromstring(render_junit(report)).iter("testcase")]
    assert names == ["kubeconfig.credentials [dev]", "kubeconfig.credentials [prod]"]


def test_markdown_escapes_pipes_and_shows_fixes_for_problems_only() -> None:
    report = Report(findings=[
        Finding(id="a", outcome=Outcome.FAIL, message="x | y", remediation="do z"),
        Finding(id="b", outcome=Outcome.PASS, message="fine", remediation="nothing"),
    ])
    md = render_markdown(report)
    assert "x \\| y<br>**Fix:** do z" in md
    assert "nothing" not in md
    assert md.startswith("### preflight: NOT READY")


def test_table_puts_fixes_under_problems_and_ends_with_the_verdict() -> None:
    text = render_table(REPORT)
    lines = text.splitlines()
    assert lines[0].split() == ["RESULT", "CHECK", "MESSAGE"]
    assert lines[2].strip() == "fix: restart it"
    assert lines[-2].startswith("NOT READY: 1 pass, 1 warn, 1 fail, 1 skip, 1 error")
    assert lines[-1] == "root cause: controlplane.leases: kube-controller-manager lease stale for 47m"
    assert "\x1b[" not in text


class _Tty:
    def isatty(self) -> bool:
        return True


def test_color_only_on_a_tty_and_never_with_no_color() -> None:
    assert use_color(_Tty(), {}) is True
    assert use_color(_Tty(), {"NO_COLOR": "1"}) is False
    assert use_color(object(), {}) is False
    assert "\x1b[31;1m" in render_table(REPORT, color=True)


def test_atomic_write_replaces_in_one_step_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "report.xml"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.xml"]
