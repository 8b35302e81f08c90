"""Reads several collectors share: discovery (what the server serves, and as what resource)
and Helm's release records of one release."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from kube_client._errors import NotFoundError
from kube_client._http import KubeClient, Response
from kube_client._parallel import parallel, raise_first

if TYPE_CHECKING:  # chart is imported when --chart is used
    from .chart import ApiCatalog

__all__ = ["list_release_records", "read_catalog", "served_kinds"]


def served_kinds(client: KubeClient, api_version: str) -> dict[str, tuple[str, bool]]:
    """Kind -> (resource, namespaced) for one group-version's discovery document; {} when the
    server does not serve it (404)."""
    path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    try:
        listed = client.get(path).data.get("resources") or []
    except NotFoundError:
        return {}
    return {str(r["kind"]): (str(r["name"]), bool(r.get("namespaced", True))) for r in listed if "/" not in str(r.get("name"))}


def read_catalog(client: KubeClient) -> ApiCatalog:
    """Everything the server serves, as helm sees it: aggregated discovery (two requests,
    /api and /apis, Kubernetes 1.30+), else one request per group-version as before it."""
    from .chart import AGGREGATED_DISCOVERY, catalog_from_aggregated, catalog_from_legacy

    # both at once: the chart's render waits on them (deploy_objects), everything after on it
    both = parallel(lambda path: client.request("GET", path, accept=AGGREGATED_DISCOVERY).data or {}, ["/api", "/apis"])
    raise_first(both)
    core, groups = both
    if core.get("kind") == groups.get("kind") == "APIGroupDiscoveryList":
        return catalog_from_aggregated(core, groups)
    versions = [str(v) for v in core.get("versions") or []]
    versions += [str(v.get("groupVersion")) for g in groups.get("groups") or [] for v in g.get("versions") or [] if v.get("groupVersion")]
    docs = parallel(lambda gv: client.get("/api/v1" if gv == "v1" else f"/apis/{gv}").data, versions)
    # helm keeps a group whose resources failed to list (IsGroupDiscoveryFailedError): so do we
    return catalog_from_legacy([d for d in docs if isinstance(d, dict)], versions)


def list_release_records(client: KubeClient, namespace: str, release: str, driver: str) -> tuple[str, Response]:
    """Helm's storage objects of one release, every revision (one LIST, as helm history does):
    Secrets, or ConfigMaps with HELM_DRIVER=configmap (pkg/storage/driver)."""
    kind = "configmaps" if driver in ("configmap", "configmaps") else "secrets"
    return kind, client.get(f"/api/v1/namespaces/{quote(namespace)}/{kind}", labelSelector=f"owner=helm,name={release}")
