"""``preflight explain``'s collectors: the release's latest revision from Helm's storage, each of
its objects as the server has it now, and the namespace's pods, ReplicaSets, EndpointSlices,
events and the nodes, plus ``check``'s client, health and lease collectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from kube_client._deadline import Deadline
from kube_client._errors import ClusterError, ConfigError, ForbiddenError, NotFoundError
from kube_client._http import KubeClient
from kube_client._parallel import parallel, raise_first
from kube_client._target import Target

from .._engine.runner import Collector, Facts
from .._facts.helm import ReleaseResource, decode_release, read_record
from .._facts.manifests import load_objects
from .._facts.release import LiveObject, ReleaseFacts
from .canary import Cleanups
from .cluster import CheckOptions, build_collectors
from .reads import list_release_records, served_kinds

__all__ = ["explain_collectors", "revision_manifest"]


def _path(api_version: str, resource: str, namespace: str, name: str = "") -> str:
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = f"/namespaces/{quote(namespace)}" if namespace else ""
    return f"{base}{scope}/{resource}" + (f"/{quote(name)}" if name else "")


def _live_objects(client: KubeClient, resources: tuple[ReleaseResource, ...], namespace: str) -> tuple[LiveObject, ...]:
    """Each release object as the server has it: one discovery GET per group-version used
    (to map a kind to its resource and scope), then one GET per object."""
    versions = sorted({r.api_version for r in resources})
    served: dict[str, dict[str, tuple[str, bool]]] = {}
    for api_version, found in zip(versions, parallel(lambda gv: served_kinds(client, gv), versions)):
        if isinstance(found, ForbiddenError):
            found = {}
        elif isinstance(found, Exception):
            raise found
        served[api_version] = found

    def look(res: ReleaseResource) -> LiveObject:
        resource, namespaced = served[res.api_version].get(res.kind, ("", True))
        where = (res.namespace or namespace) if namespaced else ""
        if not resource:
            return LiveObject(resource=res, namespace=where, obj=None, served=False)
        try:
            return LiveObject(resource=res, namespace=where, obj=client.get(_path(res.api_version, resource, where, res.name)).data)
        except NotFoundError:
            return LiveObject(resource=res, namespace=where, obj=None)
        except ForbiddenError:
            return LiveObject(resource=res, namespace=where, obj=None, note=f"not allowed to get {resource}")

    looked = parallel(look, resources)
    raise_first(looked)
    return tuple(looked)


def explain_collectors(target: Target, release_name: str, helm_driver: str) -> dict[str, Collector]:
    """Check's collectors for the client, health and leases, plus the release's own."""
    base = build_collectors(target, CheckOptions(), Cleanups())
    collectors: dict[str, Collector] = {k: base[k] for k in ("client", "probe", "version", "livez", "readyz", "leases", "namespace")}
    ns = target.namespace

    def c(facts: Facts) -> KubeClient:
        client: KubeClient = facts.get("client")
        return client

    def release(facts: Facts) -> ReleaseFacts:
        try:
            kind, resp = list_release_records(c(facts), ns, release_name, helm_driver)
        except ForbiddenError as exc:
            raise ConfigError(f"not allowed to read Helm's release records in namespace {ns}: {exc.message}",
                              fix=f"explain needs get/list on secrets (or configmaps with HELM_DRIVER=configmap) in {ns}") from None
        items = (resp.data or {}).get("items") or []
        if not items:
            if facts.get_or_error("namespace") is False:
                raise ConfigError(f"namespace {ns!r} does not exist on {target.cluster.display}", fix="pass the release's -n")
            raise ConfigError(f"no release {release_name!r} in namespace {ns} (no {kind} labelled owner=helm,name={release_name})",
                              fix=f"helm list -n {ns} -a shows the releases there; pass the right --release and -n")

        def revision(item: Mapping[str, Any]) -> int:
            try:
                return int(((item.get("metadata") or {}).get("labels") or {}).get("version") or 0)
            except ValueError:
                return 0

        record = read_record(decode_release(max(items, key=revision), driver=kind), release=release_name, namespace=ns)
        return ReleaseFacts(record=record, objects=_live_objects(c(facts), record.resources, ns), server_time=resp.date)

    def lister(path: str) -> Collector:
        def collect(facts: Facts) -> tuple[dict[str, Any], ...]:
            return tuple(c(facts).list_all(path))
        return collect

    collectors |= {
        "release": release,
        "pods": lister(f"/api/v1/namespaces/{quote(ns)}/pods"),
        "replicasets": lister(f"/apis/apps/v1/namespaces/{quote(ns)}/replicasets"),
        "endpointslices": lister(f"/apis/discovery.k8s.io/v1/namespaces/{quote(ns)}/endpointslices"),
        "events": lister(f"/api/v1/namespaces/{quote(ns)}/events"),
        "nodes": lister("/api/v1/nodes"),
    }
    return collectors




def revision_manifest(target: Target, release: str, revision: int, helm_driver: str,
                      timeout: float) -> tuple[list[Mapping[str, Any]] | None, str]:
    """The objects of one revision's manifest (hooks left out), read with one GET of its record
    (``sh.helm.release.v1.<release>.v<revision>``, what a Helm hook's Role may name), and a note
    for the report's progress lines. None when there is no such record (Argo CD and other
    renderers keep no Helm storage) or it could not be read (the checks then say why).
    A 403 is exit 2: the hook's Role lacks get on that one record."""
    kind = "configmaps" if helm_driver in ("configmap", "configmaps") else "secrets"
    name = f"sh.helm.release.v1.{release}.v{revision}"
    client = KubeClient(target, Deadline(timeout))
    try:
        item = client.get(f"/api/v1/namespaces/{quote(target.namespace)}/{kind}/{quote(name)}").data or {}
        doc = decode_release(item, driver=kind)
    except NotFoundError:
        return None, (f"no Helm release record {kind}/{name} in {target.namespace} (Argo CD and other renderers keep "
                      "none): the chart's own objects are not simulated, only the namespace-level checks run")
    except ForbiddenError as exc:
        raise ConfigError(f"not allowed to get {kind}/{name} in namespace {target.namespace}: {exc.message}",
                          fix="grant get on that record (the preflight-hook chart's readRelease value), or drop --from-release") from None
    except ClusterError as exc:
        return None, f"could not read {kind}/{name}: {exc}; the checks below say why"
    finally:
        client.close()
    status = str((doc.get("info") or {}).get("status") or "unknown")
    objects = load_objects(str(doc.get("manifest") or ""), source=f"release {release} revision {revision}")
    return objects, f"release {release} revision {revision} ({status}): {len(objects)} objects of its manifest simulated"
