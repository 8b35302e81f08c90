"""auth.permissions' facts: which permissions a SelfSubjectRulesReview proves allowed (RBAC's
matching), and when the collector must ask one SelfSubjectAccessReview each instead. The
agreement with the real authorizer is tests/cluster/test_check.py's (against kubectl auth can-i)."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kube_client._deadline import Deadline
from kube_client._errors import ForbiddenError
from preflight._collect.canary import Cleanups
from preflight._collect.cluster import CheckCollectors, CheckOptions
from preflight._engine.runner import Facts
from preflight._facts.cluster import Permission
from preflight._facts.permissions import allowed_by_rules

GET_CM = Permission(verb="get", resource="configmaps")
CREATE_DEPLOY = Permission(verb="create", resource="deployments", group="apps")


@pytest.mark.parametrize(("rule", "permission", "allowed"), [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}, GET_CM, True),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, CREATE_DEPLOY, True),
    ({"verbs": ["create"], "apiGroups": ["apps"], "resources": ["*"]}, CREATE_DEPLOY, True),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["deployments"]}, CREATE_DEPLOY, False),  # core group, not apps
    ({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"]}, CREATE_DEPLOY, False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["one"]}, GET_CM, False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps/status"]}, GET_CM, False),  # a subresource only
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["*/status"]}, GET_CM, False),
    ({"verbs": ["get"], "resources": ["configmaps"]}, GET_CM, False),  # no apiGroups: matches no group
    ({}, GET_CM, False),
])
def test_a_rule_allows_what_rbac_would_allow_for_a_request_without_a_name(rule: Any, permission: Permission, allowed: bool) -> None:
    assert allowed_by_rules(permission, [rule]) is allowed


class _Server:
    """Answers the two reviews as recorded: rules as given (None: 403), access: only "get"."""

    def __init__(self, rules_status: dict[str, Any] | None) -> None:
        self.rules_status = rules_status
        self.asked: list[str] = []

    def post(self, path: str, body: dict[str, Any]) -> SimpleNamespace:
        if path.endswith("/selfsubjectrulesreviews"):
            assert body["spec"] == {"namespace": "team"}
            if self.rules_status is None:
                raise ForbiddenError('User "ci" cannot create selfsubjectrulesreviews', status=403)
            return SimpleNamespace(data={"status": self.rules_status})
        attrs = body["spec"]["resourceAttributes"]
        self.asked.append(f"{attrs['verb']} {attrs['resource']} in {attrs['namespace'] or '(cluster)'}")
        return SimpleNamespace(data={"status": {"allowed": attrs["verb"] == "get", "reason": "recorded"}})


def _access(server: _Server, permissions: tuple[Permission, ...]) -> list[Any]:
    collectors = CheckCollectors(target=SimpleNamespace(namespace="team"), options=CheckOptions(permissions=permissions),  # type: ignore[arg-type]
                                 cleanups=Cleanups())
    facts = Facts({"client": lambda _f: server, "deploy_kinds": lambda _f: (), "discovery": lambda _f: []}, Deadline(5))
    return collectors.access(facts)


EVERYTHING = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], "incomplete": False}
NODES = Permission(verb="list", resource="nodes", cluster_scoped=True)


def test_a_complete_review_that_allows_everything_leaves_only_cluster_scoped_permissions_to_ask() -> None:
    server = _Server(EVERYTHING)
    results = _access(server, (GET_CM, CREATE_DEPLOY, NODES))
    assert [(r.permission, r.allowed) for r in results] == [(GET_CM, True), (CREATE_DEPLOY, True), (NODES, False)]
    assert server.asked == ["list nodes in (cluster)"]  # a RoleBinding's rule grants nothing cluster-wide


@pytest.mark.parametrize("status", [
    {**EVERYTHING, "incomplete": True},  # a webhook authorizer (which can deny) took part
    {"resourceRules": EVERYTHING["resourceRules"]},  # no word on completeness
    None,  # the review itself refused
], ids=["incomplete", "unsaid", "refused"])
def test_an_incomplete_or_refused_review_proves_nothing_and_each_permission_is_asked(status: dict[str, Any] | None) -> None:
    server = _Server(status)
    results = _access(server, (GET_CM, CREATE_DEPLOY))
    assert [(r.permission, r.allowed, r.reason) for r in results] == [(GET_CM, True, "recorded"), (CREATE_DEPLOY, False, "recorded")]
    assert server.asked == ["get configmaps in team", "create deployments in team"]


def test_a_denial_always_comes_from_an_access_review_with_the_servers_reason() -> None:
    server = _Server({"resourceRules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}], "incomplete": False})
    results = _access(server, (GET_CM, CREATE_DEPLOY))
    assert [(r.permission, r.allowed, r.reason) for r in results] == [
        (GET_CM, True, "allowed by a complete SelfSubjectRulesReview"), (CREATE_DEPLOY, False, "recorded")]
    assert server.asked == ["create deployments in team"]


def test_each_namespace_gets_its_own_rules_review_and_its_rules_prove_only_its_permissions() -> None:
    class PerNamespace(_Server):
        def __init__(self) -> None:
            super().__init__(None)
            self.reviewed: list[str] = []

        def post(self, path: str, body: dict[str, Any]) -> SimpleNamespace:
            if path.endswith("/selfsubjectrulesreviews"):
                ns = body["spec"]["namespace"]
                self.reviewed.append(ns)
                rules = EVERYTHING if ns == "web" else {"resourceRules": [], "incomplete": False}
                return SimpleNamespace(data={"status": rules})
            return super().post(path, body)

    server = PerNamespace()
    in_web, in_db = Permission(verb="create", resource="deployments", group="apps", namespace="web"), \
        Permission(verb="create", resource="deployments", group="apps", namespace="db")
    results = {(r.permission.namespace, r.allowed, r.reason) for r in _access(server, (in_web, in_db))}
    assert sorted(server.reviewed) == ["db", "web"]
    assert results == {("web", True, "allowed by a complete SelfSubjectRulesReview"), ("db", False, "recorded")}
    assert server.asked == ["create deployments in db"]  # the rules proved web's; only db's is asked
