"""preflight explain on facts recorded from the real control plane (tests/unit/recorded/).

Each recording is one way a deploy fails on the harness's control plane; the tests run the
explain check table over it exactly as a live run would (same runner, same checks), so the
report order, the root cause and the exit code are judged too.
"""

from __future__ import annotations

from typing import Any

import pytest

from kube_client._deadline import Deadline
from preflight._cli.explain import explain_table
from preflight._engine.model import Outcome, Report
from preflight._engine.runner import Facts, run_checks
from preflight._facts.policy import Policy
from tests.unit.explain_recordings import explain_inputs, recording, server_time


def explain(name: str, **override: Any) -> tuple[Report, dict[str, Any]]:
    doc = recording(name)
    inputs = explain_inputs(doc) | override
    collectors = {k: (lambda facts, v=v: v) for k, v in inputs.items()}
    table = [c for c in explain_table() if c.id != "api.reachable"]  # it probes the network
    report = run_checks(table, Facts(collectors, Deadline(5)), policy=Policy(now=server_time(doc)))
    return report, {f.id: f for f in report.findings}


def test_a_healthy_release_is_ready_and_says_so() -> None:
    report, found = explain("healthy")
    assert report.exit_code() == 0, [f.message for f in report.findings]
    assert found["release.configmap.g-stallable"].outcome is Outcome.PASS
    assert found["release.status"].outcome is Outcome.PASS and "is deployed and every object is ready" in found["release.status"].message
    # no nodes at all, but this release runs no pods: a warning, not a failure
    assert found["cluster.nodes"].outcome is Outcome.WARN and "runs no pods" in found["cluster.nodes"].message


def test_stopped_controller_manager_means_no_replicaset_and_the_control_plane_is_blamed() -> None:
    report, found = explain("kcm")
    dep = found["release.deployment.f-web"]
    assert dep.outcome is Outcome.FAIL and dep.evidence["verdict"] == "control-plane"
    assert "the control plane is broken: kube-controller-manager is not running controllers" in dep.message
    assert "so the Deployment got no ReplicaSet" in dep.message
    # the PersistentVolume controller is in kube-controller-manager too
    pvc = found["release.persistentvolumeclaim.f-data"]
    assert pvc.evidence["verdict"] == "control-plane" and "nothing binds the claim" in pvc.message
    svc = found["release.service.f-web"]
    assert svc.evidence["verdict"] == "control-plane" and "got no EndpointSlice" in svc.message
    # nodes are missing too, but they are not what stopped this deploy
    assert found["cluster.nodes"].outcome is Outcome.WARN
    assert "helm --wait timed out" in found["release.status"].message
    assert report.exit_code() == 1


def test_stopped_scheduler_leaves_pods_unlooked_at_and_the_scheduler_is_named() -> None:
    report, found = explain("scheduler")
    dep = found["release.deployment.e-web"]
    assert dep.outcome is Outcome.FAIL and dep.evidence["verdict"] == "control-plane"
    assert "the control plane is broken: the scheduler is not running: kube-scheduler released its leader lease" in dep.message
    assert "no scheduler has looked at it" in dep.message
    assert found["cluster.nodes"].outcome is Outcome.WARN  # a scheduler would find none, but it is not running


def test_no_nodes_is_no_node_can_take_it_and_the_root_cause() -> None:
    report, found = explain("nonode")
    dep = found["release.deployment.a-web"]
    assert dep.evidence["verdict"] == "nodes"
    assert "no node can take it" in dep.message and "no nodes available to schedule pods" in dep.message
    assert report.root_cause is not None and report.root_cause.id == "cluster.nodes"
    assert "the cluster has no nodes" in found["cluster.nodes"].message
    pvc = found["release.persistentvolumeclaim.a-data"]
    assert pvc.evidence["verdict"] == "storage"
    assert "no volume for it: Pending: no persistent volumes available for this claim and no storage class is set" in pvc.message
    svc = found["release.service.a-web"]
    assert svc.outcome is Outcome.WARN and "see release.deployment.a-web" in svc.message


def test_a_missing_serviceaccount_is_the_apps_fault_even_without_nodes() -> None:
    report, found = explain("app")
    dep = found["release.deployment.b-web"]
    assert dep.evidence["verdict"] == "app" and dep.message.count("the app is broken") == 1
    assert 'serviceaccount "nope" not found' in dep.message
    assert report.root_cause is not None and report.root_cause.id == "release.deployment.b-web"
    assert found["cluster.nodes"].outcome is Outcome.WARN


def test_a_failed_pre_install_hook_is_explained_and_the_objects_after_it_were_never_created() -> None:
    report, found = explain("hook")
    job = found["release.job.c-migrate"]
    assert job.outcome is Outcome.FAIL and job.evidence["hook"] == ["pre-install", "pre-upgrade"]
    assert "failed (DeadlineExceeded" in job.message and "never got a node: no nodes available to schedule pods" in job.message
    order = [f.id for f in report.findings]
    assert order.index("release.job.c-migrate") < order.index("release.deployment.c-web")  # hooks first, as helm ran them
    dep = found["release.deployment.c-web"]
    assert dep.outcome is Outcome.SKIP and "helm stopped at the Job c-migrate hook, which failed" in dep.message
    assert "failed pre-install" in found["release.status"].message


def test_unreadable_nodes_and_events_only_blunt_the_diagnosis() -> None:
    from kube_client._errors import ForbiddenError

    def forbidden(facts: Facts) -> Any:
        raise ForbiddenError("nodes is forbidden")

    doc = recording("nonode")
    collectors: dict[str, Any] = {k: (lambda facts, v=v: v) for k, v in explain_inputs(doc).items()}
    collectors["nodes"] = forbidden
    table = [c for c in explain_table() if c.id != "api.reachable"]
    report = run_checks(table, Facts(collectors, Deadline(5)), policy=Policy(now=server_time(doc)))
    found = {f.id: f for f in report.findings}
    assert found["cluster.nodes"].outcome is Outcome.SKIP
    assert found["release.deployment.a-web"].evidence["verdict"] == "nodes"  # the scheduler's condition still says why


def test_nothing_secret_of_the_release_reaches_the_report() -> None:
    import json

    from preflight._engine.render import render_json

    doc = recording("app")
    report, _ = explain("app")
    out = render_json(report)
    assert "serviceAccountName" not in out  # the release's config (values) is never carried
    assert doc["release_secrets"][0]["data"]["release"][:40] not in out
    assert json.loads(out)["summary"]["root_cause"] == "release.deployment.b-web"


@pytest.mark.parametrize("name", ["healthy", "kcm", "scheduler", "nonode", "app", "hook"])
def test_every_finding_id_follows_the_contract(name: str) -> None:
    import re

    report, _ = explain(name)
    for f in report.findings:
        assert re.fullmatch(r"[a-z]+(\.[a-z0-9.-]+)+", f.id), f.id
