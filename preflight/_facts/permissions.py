"""What a Helm deploy into one namespace must be allowed to do, as a table.

``DEFAULT_DEPLOY`` is used when no chart or manifests are given: the kinds most charts create,
the verbs Helm 3 uses on them (create, get for three-way merges, patch for upgrades, delete
for removed resources and rollbacks; list/watch where ``--wait`` follows rollouts), and the
Secrets of Helm's release storage. With ``--manifests`` the kinds come from the chart instead.
Missing permissions are rendered as a Role a cluster admin can apply as is.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

from kube_client._shapes import ResourceRule

from .cluster import Permission

__all__ = ["DEFAULT_DEPLOY", "HELM_STORAGE", "allowed_by_rules", "expand", "role_yaml"]

_WRITE = ("get", "create", "patch", "delete")

# (group, resource, verbs, why). Rows, not code: add a kind here, not an if-branch.
HELM_STORAGE: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("", "secrets", ("get", "list", "create", "update", "delete"), "Helm stores every release revision as a Secret"),
)
DEFAULT_DEPLOY: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    *HELM_STORAGE,
    ("", "configmaps", _WRITE, "charts' ConfigMaps"),
    ("", "services", _WRITE, "charts' Services"),
    ("", "serviceaccounts", _WRITE, "charts' ServiceAccounts"),
    ("apps", "deployments", (*_WRITE, "list", "watch"), "charts' Deployments; --wait follows the rollout"),
    ("apps", "replicasets", ("get", "list"), "--wait reads a Deployment's ReplicaSets"),
    ("", "pods", ("get", "list", "watch"), "--wait and hooks read pods"),
    ("batch", "jobs", (*_WRITE, "list", "watch"), "Helm hooks are usually Jobs"),
    ("networking.k8s.io", "ingresses", _WRITE, "charts' Ingresses"),
)


def allowed_by_rules(p: Permission, rules: Iterable[ResourceRule]) -> bool:
    """Whether one of a SelfSubjectRulesReview's resource rules allows ``p``, matched as RBAC
    matches a request that names no object and no subresource (kubernetes
    pkg/apis/rbac/v1/evaluation_helpers.go: VerbMatches, APIGroupMatches, ResourceMatches;
    a rule limited to resourceNames never allows a request without a name)."""
    def has(values: list[str] | None, wanted: str) -> bool:
        return wanted in (values or ()) or "*" in (values or ())

    return any(has(r.get("verbs"), p.verb) and has(r.get("apiGroups"), p.group) and has(r.get("resources"), p.resource)
               and not r.get("resourceNames") for r in rules)


def expand(rows: Iterable[tuple[str, str, tuple[str, ...], str]]) -> list[Permission]:
    seen: dict[tuple[str, str, str], Permission] = {}
    for group, resource, verbs, why in rows:
        for verb in verbs:
            seen.setdefault((group, resource, verb), Permission(verb=verb, resource=resource, group=group, why=why))
    return list(seen.values())


def role_yaml(namespace: str, missing: Iterable[Permission], *, name: str = "helm-deployer") -> str:
    """A Role granting exactly ``missing`` in ``namespace`` (bind it with a RoleBinding)."""
    by_resource: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in missing:
        if not p.cluster_scoped and p.namespace in ("", namespace):  # a Role grants only its namespace
            by_resource[(p.group, p.resource)].append(p.verb)
    lines = [
        "apiVersion: rbac.authorization.k8s.io/v1",
        "kind: Role",
        "metadata:",
        f"  name: {name}",
        f"  namespace: {namespace}",
        "rules:",
    ]
    for (group, resource), verbs in sorted(by_resource.items()):
        # JSON arrays are valid YAML flow sequences, and quote the empty core group correctly.
        lines += [f"- apiGroups: {json.dumps([group])}", f"  resources: {json.dumps([resource])}", f"  verbs: {json.dumps(verbs)}"]
    return "\n".join(lines) + "\n"
