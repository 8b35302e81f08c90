"""Control-plane checks on recorded facts: the incident's stale leases, failover, APIServices."""

from datetime import UTC, datetime, timedelta

import pytest

from preflight._checks.controlplane import controlplane_apiservices, controlplane_leases, controlplane_token_controller
from kube_client._errors import ForbiddenError
from preflight._facts.cluster import ApiServiceState, CanaryResult
from kube_client._cluster import LeaseState, Leases
from preflight._engine.model import Outcome
from preflight._engine.runner import FactError
from preflight._facts.manifests import ManifestKind
from preflight._facts.policy import Policy

SERVER_NOW = datetime(2023, 5, 15, 5, 20, tzinfo=UTC)


def leases(**ages: float) -> Leases:
    items = {
        name.replace("_", "-"): LeaseState(name=name.replace("_", "-"), holder="node1_abc", renew_time=SERVER_NOW - timedelta(seconds=age), duration_seconds=15)
        for name, age in ages.items()
    }
    return Leases(items=items, server_time=SERVER_NOW)


def test_stale_controller_manager_lease_explains_helm_timeout_and_empty_tokens() -> None:
    f = controlplane_leases(Policy(now=SERVER_NOW), leases(kube_controller_manager=47 * 60, kube_scheduler=51 * 60))
    assert f.outcome is Outcome.FAIL
    assert "kube-controller-manager has not renewed its leader lease for 47m" in f.message
    assert "kube-scheduler has not renewed its leader lease for 51m" in f.message
    for words in ("Deployments get no pods", "token Secrets stay empty", "helm --wait will time out", "stay Pending"):
        assert words in f.message
    assert "mirror pod" in f.remediation and "--compare-served" in f.remediation
    assert f.evidence["kube-controller-manager"]["age_seconds"] == 2820


def test_staleness_is_judged_on_the_api_servers_clock_not_ours() -> None:
    fresh = leases(kube_controller_manager=2, kube_scheduler=1)
    laptop_clock_two_hours_ahead = Policy(now=SERVER_NOW + timedelta(hours=2))
    assert controlplane_leases(laptop_clock_two_hours_ahead, fresh).outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("age", "expected"),
    [(10, Outcome.PASS), (20, Outcome.PASS), (25, Outcome.WARN), (44, Outcome.WARN), (46, Outcome.FAIL), (600, Outcome.FAIL)],
)
def test_a_leader_failover_warns_before_an_outage_fails(age: float, expected: Outcome) -> None:
    # lease 15 s + 5 s margin: stale after 20 s; failover allowed up to 3 x 15 s
    f = controlplane_leases(Policy(now=SERVER_NOW), leases(kube_controller_manager=age, kube_scheduler=1))
    assert f.outcome is expected


def test_missing_lease_is_a_warning_about_managed_control_planes() -> None:
    f = controlplane_leases(Policy(now=SERVER_NOW), leases(kube_scheduler=1))
    assert f.outcome is Outcome.WARN and "kube-controller-manager" in f.message and "managed" in f.message


def test_unavailable_metrics_apiservice_warns_and_fails_when_the_deploy_uses_its_group() -> None:
    down = [
        ApiServiceState(name="v1.apps", group="apps", version="v1", available=True, reason="Local"),
        ApiServiceState(name="v1beta1.metrics.k8s.io", group="metrics.k8s.io", version="v1beta1", available=False,
                        reason="FailedDiscoveryCheck", message="failing or missing response", service="kube-system/metrics-server"),
    ]
    warn = controlplane_apiservices(Policy(), down)
    assert warn.outcome is Outcome.WARN
    assert "v1beta1.metrics.k8s.io (FailedDiscoveryCheck)" in warn.message and "discovery is incomplete" in warn.message
    assert "kubectl delete apiservice v1beta1.metrics.k8s.io" in warn.remediation
    fail = controlplane_apiservices(Policy(), down, [ManifestKind(api_version="metrics.k8s.io/v1beta1", kind="PodMetrics")])
    assert fail.outcome is Outcome.FAIL and "this deploy uses metrics.k8s.io" in fail.message
    assert controlplane_apiservices(Policy(), down[:1]).outcome is Outcome.PASS


def test_empty_canary_blames_the_token_controller_and_points_at_a_stale_lease() -> None:
    canary = CanaryResult(filled=False, waited_seconds=15, secret="default/preflight-canary-abc")
    f = controlplane_token_controller(Policy(), canary, leases(kube_controller_manager=600, kube_scheduler=1))
    assert f.outcome is Outcome.FAIL and "token controller" in f.message and "10m stale" in f.message


def test_filled_canary_passes_and_forbidden_canary_skips() -> None:
    ok = controlplane_token_controller(Policy(), CanaryResult(filled=True, waited_seconds=0.4, secret="default/x"), leases())
    assert ok.outcome is Outcome.PASS
    denied = FactError("canary", ForbiddenError("cannot create serviceaccounts", status=403))
    assert controlplane_token_controller(Policy(), denied, leases()).outcome is Outcome.SKIP


def test_canary_that_could_not_be_deleted_is_reported() -> None:
    canary = CanaryResult(filled=True, waited_seconds=0.4, secret="default/x", cleaned_up=False, detail="Secret default/x: 500")
    f = controlplane_token_controller(Policy(), canary, leases())
    assert f.outcome is Outcome.WARN and "could not delete" in f.message


def test_a_released_lease_that_nobody_takes_over_is_judged_on_the_default_duration() -> None:
    # What kube-scheduler does on SIGTERM (client-go release(): empty holder, duration 1 s)
    released = LeaseState(name="kube-scheduler", holder="", renew_time=SERVER_NOW - timedelta(seconds=8), duration_seconds=1)
    fresh = LeaseState(name="kube-controller-manager", holder="n", renew_time=SERVER_NOW, duration_seconds=15)
    young = Leases(items={"kube-scheduler": released, "kube-controller-manager": fresh}, server_time=SERVER_NOW)
    assert controlplane_leases(Policy(now=SERVER_NOW), young).outcome is Outcome.PASS
    old = Leases(items={"kube-scheduler": LeaseState(name="kube-scheduler", holder="", renew_time=SERVER_NOW - timedelta(minutes=5),
                                                     duration_seconds=1), "kube-controller-manager": fresh}, server_time=SERVER_NOW)
    f = controlplane_leases(Policy(now=SERVER_NOW), old)
    assert f.outcome is Outcome.FAIL
    assert "kube-scheduler released its leader lease 5m ago (a stop) and no instance has taken it over" in f.message
