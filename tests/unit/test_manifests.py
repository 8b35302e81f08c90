"""Rendered manifests: which kinds a deploy creates, and what it must be allowed to do."""

from pathlib import Path

import pytest

from preflight._checks.auth import auth_permissions
from kube_client._errors import ConfigError
from preflight._facts.cluster import AccessResult
from preflight._facts.manifests import DiscoveredKind, ManifestKind, permissions_for
from preflight._collect.manifests import read_manifests
from preflight._engine.model import Outcome
from preflight._facts.policy import Policy
from tests.unit.test_checks_api import target

RENDERED = """---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: web-reader}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: another}}
- {apiVersion: v1, kind: Service, metadata: {name: web, namespace: edge}}
"""


def test_distinct_kinds_are_read_from_multi_document_yaml_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "rendered.yaml"
    path.write_text(RENDERED)
    kinds = read_manifests(str(path))
    assert {(k.api_version, k.kind, k.namespace) for k in kinds} == {
        ("apps/v1", "Deployment", ""), ("v1", "ConfigMap", ""), ("rbac.authorization.k8s.io/v1", "ClusterRole", ""), ("v1", "Service", "edge"),
    }


@pytest.mark.parametrize(("content", "message"), [("a: [unclosed", "not valid YAML"), ("# only comments\n", "holds no Kubernetes objects")])
def test_unusable_manifests_are_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_manifests(str(path))


def test_permissions_follow_the_kinds_their_scope_and_helm_storage() -> None:
    discovered = [
        DiscoveredKind(kind=ManifestKind(api_version="apps/v1", kind="Deployment"), resource="deployments"),
        DiscoveredKind(kind=ManifestKind(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRole"), resource="clusterroles", namespaced=False),
        DiscoveredKind(kind=ManifestKind(api_version="v1", kind="Service", namespace="edge"), resource="services"),
    ]
    perms = {str(p) for p in permissions_for(discovered)}
    assert {"create deployments.apps", "patch deployments.apps", "delete deployments.apps"} <= perms
    assert "create clusterroles.rbac.authorization.k8s.io (cluster-wide)" in perms
    assert "create services in edge" in perms
    assert "create secrets" in perms and "list secrets" in perms  # Helm's release storage


def test_kinds_the_server_does_not_serve_fail_the_permission_check() -> None:
    old = DiscoveredKind(kind=ManifestKind(api_version="extensions/v1beta1", kind="Ingress"))
    f = auth_permissions(target(), Policy(), [AccessResult(permission=p, allowed=True) for p in permissions_for([old])], [old])
    assert f.outcome is Outcome.FAIL and "Ingress (extensions/v1beta1)" in f.message and "does not serve" in f.message


@pytest.mark.parametrize("metadata", ["[a, b]", "7", "{namespace: [x]}"])
def test_a_manifest_with_malformed_metadata_is_one_config_error(tmp_path: Path, metadata: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {metadata}\n")
    with pytest.raises(ConfigError, match="ConfigMap v1: metadata must be a mapping"):
        read_manifests(str(path))
