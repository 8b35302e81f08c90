"""ServiceAccount tokens, dangling RBAC subjects and Helm release state, on recorded facts."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from preflight._checks.helm import helm_release
from preflight._checks.rbac import rbac_subjects
from preflight._checks.serviceaccount import serviceaccount_token
from preflight._facts.cluster import Bindings, HelmRelease, HelmRevision, ServiceAccountFacts
from kube_client._cluster import LeaseState, Leases, ServerVersion
from preflight._engine.model import Outcome
from preflight._facts.policy import Policy

NOW = datetime(2023, 5, 15, 5, 20, tzinfo=UTC)
V121 = ServerVersion(git_version="v1.21.1", major=1, minor=21)
V137 = ServerVersion(git_version="v1.37.2", major=1, minor=37)


def leases(kcm_age: float) -> Leases:
    item = LeaseState(name="kube-controller-manager", holder="n", renew_time=NOW - timedelta(seconds=kcm_age), duration_seconds=15)
    return Leases(items={"kube-controller-manager": item}, server_time=NOW)


def sa(name: str = "rmxc-jenkins", ns: str = "rmxc-prod", uid: str = "uid-1", listed: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "uid": uid}, "secrets": [{"name": n} for n in listed]}


def token_secret(name: str, *, account: str = "rmxc-jenkins", uid: str | None = "uid-1", filled: bool = True, labels: dict[str, str] | None = None) -> dict[str, Any]:
    annotations = {"kubernetes.io/service-account.name": account}
    if uid is not None:
        annotations["kubernetes.io/service-account.uid"] = uid
    return {
        "metadata": {"name": name, "annotations": annotations, "labels": labels or {}},
        "type": "kubernetes.io/service-account-token",
        # what the token controller writes, all three keys in one update
        "data": {"token": "c2VjcmV0", "ca.crt": "Y2E=", "namespace": "cm14Yy1wcm9k"} if filled else {},
    }


def facts(*secrets: dict[str, Any], account: dict[str, Any] | None = None) -> ServiceAccountFacts:
    return ServiceAccountFacts(namespace="rmxc-prod", name="rmxc-jenkins", account=account if account is not None else sa(), token_secrets=secrets)


def test_on_121_a_missing_token_secret_means_the_token_controller_is_not_running() -> None:
    f = serviceaccount_token(Policy(now=NOW), facts(), V121, leases(kcm_age=47 * 60))
    assert f.outcome is Outcome.FAIL
    assert "This cluster is v1.21.1" in f.message and "token controller is not running" in f.message
    assert "kube-controller-manager has not renewed its lease for 47m" in f.message


def test_on_124_and_later_no_token_is_expected_and_ensure_is_suggested() -> None:
    derived = serviceaccount_token(Policy(now=NOW), facts(), V137, leases(kcm_age=1))
    assert derived.outcome is Outcome.WARN and "since Kubernetes 1.24 none is created" in derived.message
    assert "sa-tokens ensure -n rmxc-prod rmxc-jenkins" in derived.remediation
    explicit = serviceaccount_token(Policy(now=NOW), facts(), V137, leases(kcm_age=1), explicit=True)
    assert explicit.outcome is Outcome.FAIL


def test_a_filled_token_secret_passes_and_its_value_never_reaches_the_evidence() -> None:
    f = serviceaccount_token(Policy(now=NOW), facts(token_secret("rmxc-jenkins-token")), V137, leases(kcm_age=1))
    assert f.outcome is Outcome.PASS
    assert "c2VjcmV0" not in repr(f)


def test_an_empty_token_secret_is_blamed_on_a_stale_controller_manager() -> None:
    f = serviceaccount_token(Policy(now=NOW), facts(token_secret("rmxc-jenkins-token", filled=False)), V137, leases(kcm_age=600))
    assert f.outcome is Outcome.FAIL and "still empty" in f.message and "controlplane.leases" in f.message


def test_a_token_invalidated_by_the_legacy_cleaner_fails() -> None:
    secret = token_secret("rmxc-jenkins-token", labels={"kubernetes.io/legacy-token-invalid-since": "2023-05-01"})
    f = serviceaccount_token(Policy(now=NOW), facts(secret), V137, leases(kcm_age=1))
    assert f.outcome is Outcome.FAIL and "invalidated on 2023-05-01" in f.message


def test_a_manual_token_listed_in_the_serviceaccount_is_at_risk_from_the_cleaner() -> None:
    f = serviceaccount_token(Policy(now=NOW), facts(token_secret("t1"), account=sa(listed=("t1",))), V137, leases(kcm_age=1))
    assert f.outcome is Outcome.WARN and "legacy token cleaner" in f.message


def test_a_token_of_a_deleted_and_recreated_serviceaccount_does_not_count() -> None:
    old = token_secret("rmxc-jenkins-token", uid="uid-of-the-old-account")
    f = serviceaccount_token(Policy(now=NOW), facts(old), V137, leases(kcm_age=1))
    assert f.outcome is Outcome.WARN and "earlier ServiceAccount of the same name" in f.message


def test_a_missing_serviceaccount_fails_with_the_command_to_create_it() -> None:
    f = serviceaccount_token(Policy(now=NOW), ServiceAccountFacts(namespace="rmxc-prod", name="rmxc-jenkins", account=None), V137, leases(1))
    assert f.outcome is Outcome.FAIL and "kubectl create serviceaccount -n rmxc-prod rmxc-jenkins" in f.remediation


def test_rolebinding_naming_a_nonexistent_serviceaccount_suggests_the_typo() -> None:
    binding = {
        "metadata": {"name": "rmxc-jenkins-rolebinding", "namespace": "rmxc-dev"},
        "roleRef": {"kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "rmxc-jenkins", "namespace": "rmxc-prod"}],
    }
    f = rbac_subjects(Policy(), Bindings(namespace="rmxc-dev", role_bindings=(binding,), cluster_role_bindings=(),
                                         service_accounts={"rmxc-dev": frozenset({"default"}), "rmxc-prod": frozenset({"default", "rmxc-jenkinss"})}))
    assert f.outcome is Outcome.WARN
    assert ("RoleBinding rmxc-dev/rmxc-jenkins-rolebinding names ServiceAccount rmxc-prod/rmxc-jenkins, which does not exist "
            "(rmxc-prod/rmxc-jenkinss exists: a typo?)") in f.message


def test_bindings_whose_serviceaccounts_exist_pass() -> None:
    binding = {"metadata": {"name": "b", "namespace": "app"}, "subjects": [{"kind": "ServiceAccount", "name": "deployer"}, {"kind": "User", "name": "alice"}]}
    f = rbac_subjects(Policy(), Bindings(namespace="app", role_bindings=(binding,), cluster_role_bindings=(), service_accounts={"app": frozenset({"deployer"})}))
    assert f.outcome is Outcome.PASS


def release(*revs: tuple[int, str, float]) -> HelmRelease:
    return HelmRelease(name="web", namespace="app", server_time=NOW,
                       revisions=tuple(HelmRevision(version=v, status=s, modified=NOW - timedelta(minutes=m)) for v, s, m in revs))


def test_stuck_pending_upgrade_says_helm_will_refuse_and_rolls_back_to_the_last_good_revision() -> None:
    f = helm_release(Policy(now=NOW), release((1, "superseded", 600), (2, "deployed", 300), (3, "pending-upgrade", 120)))
    assert f.outcome is Outcome.FAIL
    assert "stuck in pending-upgrade (revision 3)" in f.message and "another operation" in f.message
    assert f.remediation.startswith("helm rollback web 2 -n app")


def test_a_young_pending_release_is_a_deploy_in_progress() -> None:
    f = helm_release(Policy(now=NOW), release((1, "deployed", 60), (2, "pending-upgrade", 1)))
    assert f.outcome is Outcome.FAIL and "probably running right now" in f.message


def test_pending_install_with_nothing_to_roll_back_to_means_uninstall() -> None:
    f = helm_release(Policy(now=NOW), release((1, "pending-install", 60)))
    assert f.outcome is Outcome.FAIL and "helm uninstall web" in f.remediation


@pytest.mark.parametrize(
    ("revs", "expected"),
    [(((1, "deployed", 5),), Outcome.PASS), (((1, "failed", 5),), Outcome.WARN), (((1, "deployed", 9), (2, "failed", 5)), Outcome.WARN), ((), Outcome.PASS)],
)
def test_release_states(revs: tuple[tuple[int, str, float], ...], expected: Outcome) -> None:
    assert helm_release(Policy(now=NOW), release(*revs)).outcome is expected


def test_an_empty_token_right_after_a_new_leader_took_over_is_only_a_warning() -> None:
    lease = LeaseState(name="kube-controller-manager", holder="n_new", renew_time=NOW, duration_seconds=15, acquire_time=NOW - timedelta(seconds=3))
    fresh = Leases(items={"kube-controller-manager": lease}, server_time=NOW)
    f = serviceaccount_token(Policy(now=NOW), facts(token_secret("rmxc-jenkins-token", filled=False)), V137, fresh)
    assert f.outcome is Outcome.WARN and "became leader only 3s ago" in f.message


def test_a_token_secret_with_a_token_but_no_ca_is_not_usable() -> None:
    """One definition of "filled" (kube_client._cluster.token_filled): a hand-edited Secret
    with a token but no ca.crt cannot become a kubeconfig credential, so it is not a pass."""
    half = token_secret("rmxc-jenkins-token")
    half["data"] = {"token": "c2VjcmV0"}
    f = serviceaccount_token(Policy(now=NOW), facts(half), V137, leases(kcm_age=1))
    assert f.outcome is Outcome.FAIL
    assert f.evidence["token_secrets"][0]["filled"] is False
