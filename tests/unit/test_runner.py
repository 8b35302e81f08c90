"""The runner: facts once, concurrently, under one deadline; crashes become findings."""

import threading

import pytest

from kube_client._errors import ForbiddenError, NoChecksError, UnreachableError
from preflight._engine.model import Finding, Outcome
from preflight._engine.runner import Check, FactError, Facts, run_checks
from preflight._facts.policy import Policy
from kube_client._deadline import Deadline


def ok(check_id: str):  # a check that passes and shows what it was given
    def run(policy: Policy, **facts: object) -> Finding:
        return Finding(id=check_id, outcome=Outcome.PASS, message="ok", evidence={"facts": facts})
    return run


def test_each_fact_is_collected_once_however_many_checks_need_it() -> None:
    calls: list[str] = []
    collectors = {"version": lambda facts: calls.append("version") or "v1.37.2"}
    checks = [Check(id=f"c{i}", needs=("version",), run=ok(f"c{i}")) for i in range(5)]
    report = run_checks(checks, Facts(collectors, Deadline(5)), policy=Policy())
    assert calls == ["version"]
    assert all(f.evidence["facts"] == {"version": "v1.37.2"} for f in report.findings)


def test_facts_are_collected_concurrently() -> None:
    barrier = threading.Barrier(3, timeout=5)  # only passes if all three run at once

    def collector(facts: object) -> str:
        barrier.wait()
        return "done"

    checks = [Check(id=f"c{i}", needs=(f"f{i}",), run=ok(f"c{i}")) for i in range(3)]
    report = run_checks(checks, Facts({f"f{i}": collector for i in range(3)}, Deadline(10)), policy=Policy())
    assert [f.outcome for f in report.findings] == [Outcome.PASS] * 3


@pytest.mark.timeout(30)  # a hang guard: without the deadline the run waits on the collector forever
def test_a_collector_that_never_returns_ends_at_the_deadline_as_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from preflight._engine import runner

    monkeypatch.setattr(runner, "REPORT_GRACE", 0.05)  # the moment past the deadline a collector gets to report its own error
    never = threading.Event()
    checks = [Check(id="controlplane.leases", needs=("hang",), run=ok("controlplane.leases"))]
    try:
        report = run_checks(checks, Facts({"hang": lambda facts: never.wait()}, Deadline(0.05)), policy=Policy())
    finally:
        never.set()  # let the collector's thread end
    # nothing explains it (api.reachable did not fail): could not look is an error, exit 1
    assert report.findings[0].outcome is Outcome.ERROR
    assert "deadline" in report.findings[0].message and "etcd" in report.findings[0].message
    assert report.exit_code() == 1


def test_a_check_that_raises_becomes_an_error_and_the_others_still_run() -> None:
    def boom(policy: Policy) -> Finding:
        raise RuntimeError("bug quoting Bearer s3cr3t")

    checks = [Check(id="a", needs=(), run=boom), Check(id="b", needs=(), run=ok("b"))]
    report = run_checks(checks, Facts({}, Deadline(5)), policy=Policy())
    assert [(f.id, f.outcome) for f in report.findings] == [("a", Outcome.ERROR), ("b", Outcome.PASS)]
    # the type and the raising line, never the text: foreign messages quote their input
    assert "RuntimeError at test_runner.py:" in report.findings[0].message
    assert "s3cr3t" not in repr(report.findings)
    assert report.exit_code() == 1


def test_forbidden_fact_is_a_skip_with_a_note_and_unreachable_points_at_the_root_check() -> None:
    def forbidden(facts: object) -> None:
        raise ForbiddenError("leases is forbidden: cannot list leases in kube-system", status=403)

    def unreachable(facts: object) -> None:
        raise UnreachableError("connection refused", step="connect", transient=True)

    def root(policy: Policy, probe: object) -> Finding:
        return Finding(id="api.reachable", outcome=Outcome.FAIL, message="refused")

    checks = [
        Check(id="api.reachable", needs=("probe",), run=root, tolerates=("probe",), explains=(UnreachableError,)),
        Check(id="controlplane.leases", needs=("leases",), run=ok("x")),
        Check(id="rbac.subjects", needs=("bindings",), run=ok("y")),
    ]
    collectors = {"probe": unreachable, "leases": forbidden, "bindings": unreachable}
    report = run_checks(checks, Facts(collectors, Deadline(5)), policy=Policy())
    _, leases, rbac = report.findings
    assert leases.outcome is Outcome.SKIP and "not allowed" in leases.message
    assert rbac.outcome is Outcome.SKIP and "api.reachable" in rbac.message


def test_checks_that_tolerate_a_fact_receive_its_error() -> None:
    def failing(facts: object) -> None:
        raise ValueError("nope")

    def judge(policy: Policy, thing: object) -> Finding:
        assert isinstance(thing, FactError)
        return Finding(id="x", outcome=Outcome.FAIL, message=f"explained: {thing.error}")

    report = run_checks([Check(id="x", needs=("thing",), run=judge, tolerates=("thing",))], Facts({"thing": failing}, Deadline(5)), policy=Policy())
    # A foreign error reaches the judge as its type and line, never its text (which may quote a
    # request header): the judge that quotes it cannot leak it.
    assert report.findings[0].message.startswith("explained: unexpected ValueError at test_runner.py:")
    assert "nope" not in report.findings[0].message

    def ours(facts: object) -> None:
        raise UnreachableError("connection refused", step="connect", transient=False)

    report = run_checks([Check(id="x", needs=("thing",), run=judge, tolerates=("thing",))], Facts({"thing": ours}, Deadline(5)), policy=Policy())
    assert report.findings[0].message == "explained: connection refused"


def test_an_empty_set_of_checks_is_an_error_never_a_silent_pass() -> None:
    with pytest.raises(NoChecksError):
        run_checks([], Facts({}, Deadline(5)), policy=Policy())


@pytest.mark.parametrize(
    ("outcomes", "strict", "code"),
    [
        ([Outcome.PASS, Outcome.SKIP], False, 0),
        ([Outcome.PASS, Outcome.WARN], False, 0),
        ([Outcome.PASS, Outcome.WARN], True, 1),
        ([Outcome.PASS, Outcome.FAIL], False, 1),
        ([Outcome.ERROR], False, 1),
    ],
)
def test_exit_code_contract(outcomes: list[Outcome], strict: bool, code: int) -> None:
    from preflight._engine.model import Report

    report = Report(findings=[Finding(id=f"c{i}", outcome=o, message="m") for i, o in enumerate(outcomes)])
    assert report.exit_code(strict=strict) == code
    assert report.summary(strict=strict)["ready"] is (code == 0)


def test_a_foreign_collector_error_reaches_the_report_without_its_text() -> None:
    """http.client's ValueError for a header with CR/LF quotes the header, token included."""
    def collect(facts: Facts) -> object:
        raise ValueError("Invalid header value b'Bearer s3cr3t\\r\\nX: y'")

    checks = [Check(id="a", needs=("x",), run=ok("a"))]
    report = run_checks(checks, Facts({"x": collect}, Deadline(5)), policy=Policy())
    (finding,) = report.findings
    assert finding.outcome is Outcome.ERROR and "ValueError" in finding.message
    assert "s3cr3t" not in repr(finding)
