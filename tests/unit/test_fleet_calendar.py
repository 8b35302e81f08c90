"""The expiry calendar: what expires, read from the findings' evidence, merged across a fleet."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from kube_client._cluster import LeaseState, Leases, ServerVersion
from preflight._checks.serviceaccount import serviceaccount_token
from preflight._engine.expiry import expiries
from preflight._engine.fleet import ClusterResult, FleetView, calendar, render_calendar, render_fleet_json
from preflight._engine.model import Finding, Outcome, Report
from preflight._facts.cluster import ServiceAccountFacts
from preflight._facts.policy import Policy
from tests.pkifactory import make_ca

NOW = datetime(2026, 12, 1, tzinfo=UTC)
V137 = ServerVersion(git_version="v1.37.2", major=1, minor=37)


def cert(name: str, not_after: str, *, source: str = "served", sha: str = "", renewed_by: str = "renew it") -> Finding:
    ev = {"name": name, "source": source, "kind": "certificate", "not_after": not_after, "renewed_by": renewed_by, "sha256": sha or name}
    return Finding(id="tls.serving-cert", outcome=Outcome.PASS, message="ok", evidence=ev)


def test_token_secrets_put_their_ca_and_the_cleaners_date_on_the_calendar() -> None:
    ca = make_ca(now=NOW - timedelta(days=10))
    account = {"metadata": {"name": "jenkins", "namespace": "ci", "uid": "u1"}, "secrets": [{"name": "jenkins-token"}]}
    secret = {"metadata": {"name": "jenkins-token", "annotations": {"kubernetes.io/service-account.name": "jenkins",
                                                                    "kubernetes.io/service-account.uid": "u1"},
                           "labels": {"kubernetes.io/legacy-token-last-used": "2026-03-04"}},
              "type": "kubernetes.io/service-account-token",
              "data": {"token": "c2VjcmV0", "namespace": "Y2k=", "ca.crt": base64.b64encode(ca.cert_pem).decode()}}
    facts = ServiceAccountFacts(namespace="ci", name="jenkins", account=account, token_secrets=(secret,))
    leases = Leases(items={"kube-controller-manager": LeaseState(name="kube-controller-manager", holder="n", renew_time=NOW,
                                                                   duration_seconds=15)}, server_time=NOW)
    finding = serviceaccount_token(Policy(now=NOW), facts, V137, leases)
    items = {(e.kind, e.name): e for e in expiries(Report(findings=[finding]), cluster="prod")}
    ca_item = items[("certificate", "jenkins-token/ca.crt")]
    assert (ca_item.source, ca_item.not_after) == ("secret", ca.cert.not_valid_after_utc)
    assert ca_item.evidence["secret"] == "ci/jenkins-token" and ca_item.evidence["secret_key"] == "ca.crt"
    cleanup = items[("token", "jenkins-token")]
    assert cleanup.not_after == datetime(2027, 3, 4, tzinfo=UTC) and "legacy token cleaner" in cleanup.renewed_by
    assert "c2VjcmV0" not in json.dumps(finding.as_dict())  # the token never reaches the evidence


def test_the_calendar_is_sorted_soonest_first_and_one_credential_through_many_contexts_is_one_row() -> None:
    shared = cert("apiserver", "2027-06-01T00:00:00Z", sha="same")
    a = ClusterResult(context="a", report=Report(findings=[shared, cert("admin", "2027-01-01T00:00:00Z", source="kubeconfig")]))
    b = ClusterResult(context="b", report=Report(findings=[shared, cert("old", "2026-11-01T00:00:00Z", sha="old")]))
    dead = ClusterResult(context="dead", error="not checked: no such namespace")
    view = FleetView(results=[a, b, dead], now=NOW, warn_within=timedelta(days=45), calendar_size=10)
    rows = calendar(view)
    assert [(r.expiry.name, r.clusters) for r in rows] == [("old", ("b",)), ("admin", ("a",)), ("apiserver", ("a", "b"))]
    text = render_calendar(view)
    assert text.index("`old`") < text.index("`admin`") < text.index("`apiserver`")
    assert "**2026-11-01 00:00 UTC (expired 30d ago)**" in text and "| a, b |" in text
    doc = json.loads(render_fleet_json(view))
    assert [(c["name"], c["within_warning"]) for c in doc["calendar"]] == [("old", True), ("admin", True), ("apiserver", False)]
    assert doc["summary"]["expiring_within_warning"] == 2 and doc["summary"]["not_checked"] == 1
    small = FleetView(results=[a, b], now=NOW, warn_within=timedelta(days=45), calendar_size=1)
    assert [r.expiry.name for r in calendar(small)] == ["old"]


def test_a_report_without_anything_that_expires_says_so() -> None:
    empty = ClusterResult(context="c", report=Report(findings=[Finding(id="api.reachable", outcome=Outcome.PASS, message="ok")]))
    assert "No expiring credential was found." in render_calendar(FleetView(results=[empty], now=NOW, warn_within=timedelta(days=30)))
