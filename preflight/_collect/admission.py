"""Collectors of the admission simulation: the chart's objects sent as the deploy would send
them, with ``dryRun=All``, and the reads the judges need. Nothing here creates or changes
anything: every request is a GET/LIST or carries ``dryRun=All`` (a cluster test counts the
namespace's objects before and after, and checks every non-GET request it made).

How each object is sent (the deploy's own requests, as dry-runs):
- helm 3 (``pkg/kube/client.go``): POST for a new object; for an existing one a patch, strategic
  merge for the built-in kinds and JSON merge for the rest. Helm 3 computes a three-way patch
  from the previous release's manifest; we send the new manifest as the patch (the two-way
  case), which reaches the same immutable-field and validation errors but does not remove
  fields the chart no longer sets.
- helm 4: server-side apply (``application/apply-patch+yaml``) with ``fieldManager=helm`` and no
  ``force``, for new and existing objects alike (``ClientCreateOptionServerSideApply(..., false)``).
Both get Helm's ownership metadata added first, as ``setMetadataVisitor`` does.

Could not look: a 403 on the reads the simulation cannot run without (the chart's objects, to
know create from update) is raised as a plain ``ClusterError``, so the runner reports ``error``
(exit 1), never a pass; reads that only sharpen a finding (webhook services, nodes, names of
Secrets) keep the runner's rule for 403: ``skip``, "not allowed to look".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from kube_client._errors import ClusterError, ForbiddenError, NotFoundError, UnreachableError
from kube_client._http import KubeClient
from kube_client._parallel import parallel, raise_first
from kube_client._retry import with_retries

from .._engine.runner import Collector, Facts
from .._facts.admission import (
    MANAGED_BY_LABEL,
    RELEASE_NAME_ANNOTATION,
    RELEASE_NAMESPACE_ANNOTATION,
    AdmissionObjects,
    CapacityFacts,
    ChartObject,
    DryRun,
    LiveMeta,
    LiveObjects,
    NodeInfo,
    ObjectRef,
    PodDryRun,
    ReferenceFacts,
    Webhook,
    WebhookFacts,
    hook_phases,
    hook_weight,
    iter_pod_specs,
    parse_quantity,
    pod_requests,
    pod_template,
    replicas_of,
)
from .._facts.cluster import KubeObject
from .._facts.manifests import DiscoveredKind
from .chart import helm_major_of_env

__all__ = ["ADMISSION_FACTS", "AdmissionCollectors", "as_sent", "chart_objects", "collection_path"]

ADMISSION_FACTS = ("helm_major", "admission_objects", "admission_live", "admission_dry_run", "admission_pods", "admission_webhooks",
                   "admission_nodes", "admission_references")

METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
APPLY_PATCH = "application/apply-patch+yaml"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "helm"
WORKERS = 8

# Groups client-go's scheme knows: helm 3 sends these a strategic merge patch, the rest a JSON merge patch.
_BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io", "storage.k8s.io",
    "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io", "certificates.k8s.io",
    "admissionregistration.k8s.io", "events.k8s.io", "flowcontrol.apiserver.k8s.io", "resource.k8s.io",
    "apiregistration.k8s.io", "storagemigration.k8s.io", "internal.apiserver.k8s.io",
})


def collection_path(api_version: str, resource: str, namespace: str) -> str:
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{base}/namespaces/{quote(namespace)}/{resource}" if namespace else f"{base}/{resource}"


def _client(facts: Facts) -> KubeClient:
    result: KubeClient = facts.get("client")
    return result


def _could_not_look(exc: ForbiddenError, what: str) -> ClusterError:
    """A 403 on a read the simulation cannot do without: an ``error`` finding, not a skip."""
    return ClusterError(f"not allowed to read {what}, so the deploy could not be simulated: {exc.message}", status=403,
                        fix="grant get on the chart's kinds (the deploy needs it too), or run as the deploy's identity")


def _names(client: KubeClient, path: str) -> frozenset[str]:
    """Every name of a LIST, metadata only (a Secret's data never crosses the wire)."""
    names: set[str] = set()
    token = ""
    while True:
        query: dict[str, Any] = {"limit": 500} | ({"continue": token} if token else {})
        page = client.request("GET", path, query=query, accept=METADATA_LIST).data or {}
        names |= {str((i.get("metadata") or {}).get("name")) for i in page.get("items") or []}
        token = str((page.get("metadata") or {}).get("continue") or "")
        if not token:
            return frozenset(names)


def _names_or_none(client: KubeClient, path: str) -> frozenset[str] | None:
    try:
        return _names(client, path)
    except ForbiddenError:
        return None


def chart_objects(docs: Iterable[KubeObject], discovered: Iterable[DiscoveredKind], namespace: str) -> tuple[ChartObject, ...]:
    """The rendered documents as ChartObjects, with their REST resource and namespace."""
    served = {(d.kind.api_version, d.kind.kind): d for d in discovered}
    out = []
    for doc in docs:
        meta = doc.get("metadata") or {}
        api_version, kind = str(doc.get("apiVersion")), str(doc.get("kind"))
        d = served.get((api_version, kind))
        namespaced = d.namespaced if d is not None else True
        ns = (str(meta.get("namespace") or "") or namespace) if namespaced else ""
        out.append(ChartObject(
            ref=ObjectRef(kind=kind, name=str(meta.get("name") or ""), namespace=ns, api_version=api_version),
            body=doc, resource=d.resource if d is not None else "", namespaced=namespaced,
            hooks=hook_phases(doc), weight=hook_weight(doc)))
    return tuple(out)


def as_sent(obj: ChartObject, release: str, release_namespace: str) -> dict[str, Any]:
    """The body Helm sends: the manifest with its namespace and Helm's ownership metadata
    (``setMetadataVisitor``; hooks get none, as helm creates hooks without it)."""
    body = copy.deepcopy(dict(obj.body))
    meta = body.setdefault("metadata", {})
    if obj.namespaced:
        meta["namespace"] = obj.ref.namespace
    if not obj.hooks:
        meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: "Helm"}
        if release:
            meta["annotations"] = {**(meta.get("annotations") or {}), RELEASE_NAME_ANNOTATION: release,
                                   RELEASE_NAMESPACE_ANNOTATION: release_namespace}
    return body


def _dry_run(client: KubeClient, ref: ObjectRef, verb: str, method: str, path: str, body: Any, content_type: str) -> DryRun:
    """One dry-run. A 4xx is the server's answer; so is a 500 from a webhook call (retrying it
    would spend the deadline on the same refusal). Other 5xx, 429 and network errors are
    retried while the deadline lasts, then reported as unanswered."""
    query = {"dryRun": "All", "fieldManager": FIELD_MANAGER}

    def attempt() -> DryRun:
        try:
            resp = client.request(method, path, query=query, body=body, content_type=content_type, retry=False)
        except UnreachableError:
            raise
        except ClusterError as exc:
            if exc.transient and "webhook" not in exc.message:
                raise
            return DryRun(ref=ref, verb=verb, status=exc.status, message=exc.message, reason=exc.reason)
        warning = resp.headers.get("warning", "")
        return DryRun(ref=ref, verb=verb, status=resp.status, ok=True, admitted=resp.data,
                      warnings=(warning,) if warning else ())

    try:
        return with_retries(client.deadline, attempt)
    except ClusterError as exc:
        return DryRun(ref=ref, verb=verb, status=exc.status, message=str(exc), reason=exc.reason, answered=False)


def recreated(obj: ChartObject) -> bool:
    """Does helm delete an existing hook before creating it again? (no policy = before-hook-creation)"""
    policy = str(((obj.body.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook-delete-policy") or "")
    return not policy.strip() or "before-hook-creation" in policy


def _pod_for(owner: ChartObject, template: KubeObject) -> dict[str, Any]:
    """The Pod a controller makes from ``template`` (name and namespace ours, the rest as is)."""
    meta = dict(template.get("metadata") or {})
    name = f"{owner.ref.name[:40].rstrip('-.')}-preflight-{owner.ref.kind.lower()}"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": owner.ref.namespace, "labels": dict(meta.get("labels") or {}),
                         "annotations": dict(meta.get("annotations") or {})},
            "spec": copy.deepcopy(dict(template.get("spec") or {}))}


def _node_info(node: KubeObject, requested: Mapping[str, int]) -> NodeInfo:
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    allocatable = {k: parse_quantity(v, milli=k == "cpu") for k, v in (status.get("allocatable") or {}).items()}
    return NodeInfo(name=str(meta.get("name")), ready=ready, unschedulable=bool(spec.get("unschedulable")),
                    labels=dict(meta.get("labels") or {}), taints=tuple(spec.get("taints") or ()),
                    allocatable=allocatable, requested=dict(requested))


def _webhooks(config: KubeObject, mutating: bool) -> list[Webhook]:
    out = []
    for hook in config.get("webhooks") or []:
        svc = (hook.get("clientConfig") or {}).get("service") or {}
        out.append(Webhook(
            configuration=str((config.get("metadata") or {}).get("name")), name=str(hook.get("name")), mutating=mutating,
            failure_policy=str(hook.get("failurePolicy") or "Fail"), side_effects=str(hook.get("sideEffects") or ""),
            rules=tuple(hook.get("rules") or ()), namespace_selector=hook.get("namespaceSelector"),
            object_selector=hook.get("objectSelector"), has_match_conditions=bool(hook.get("matchConditions")),
            service=f"{svc.get('namespace')}/{svc.get('name')}" if svc else ""))
    return out


@dataclass(frozen=True, kw_only=True)
class AdmissionCollectors:
    """The simulation's collectors, for a deploy to ``namespace``: each method gathers the
    fact of its name, once per run."""

    namespace: str
    release: str = ""
    given_helm_major: int | None = None  # --helm-major; None: ask $HELM_BIN

    def table(self) -> dict[str, Collector]:
        return {name: getattr(self, name) for name in ADMISSION_FACTS}

    def helm_major(self, facts: Facts) -> int:
        """How the deploy will send the objects: --helm-major, else the major version of
        ``$HELM_BIN`` (helm exports it to plugins and post-renderers), else 3. A fact, so
        ``helm version`` runs while the other facts are collected, not before them."""
        return self.given_helm_major or helm_major_of_env()

    def admission_objects(self, facts: Facts) -> AdmissionObjects:
        facts.start("helm_major")  # helm version runs beside the render, not after it
        docs: list[KubeObject] = list(facts.get("deploy_objects"))
        discovered: list[DiscoveredKind] = facts.get("discovery")
        exists = facts.get("namespace")
        major: int = facts.get("helm_major")
        return AdmissionObjects(objects=chart_objects(docs, discovered, self.namespace), namespace=self.namespace,
                                namespace_exists=exists is not False, release=self.release, helm_major=major)

    def admission_live(self, facts: Facts) -> LiveObjects:
        adm: AdmissionObjects = facts.get("admission_objects")
        client = _client(facts)

        def read(obj: ChartObject) -> tuple[str, LiveMeta | None]:
            path = f"{collection_path(obj.ref.api_version, obj.resource, obj.ref.namespace)}/{quote(obj.ref.name)}"
            try:
                meta = (client.request("GET", path, accept=METADATA_ONLY).data or {}).get("metadata") or {}
            except NotFoundError:
                return obj.ref.key, None
            except ForbiddenError as exc:
                raise _could_not_look(exc, f"{obj.ref.kind} {obj.ref.name}") from None
            return obj.ref.key, LiveMeta(labels=dict(meta.get("labels") or {}), annotations=dict(meta.get("annotations") or {}))

        wanted = [o for o in adm.objects if o.resource and o.ref.name and (adm.namespace_exists or not o.namespaced)]
        results = _parallel(read, wanted)
        raise_first(results)
        return LiveObjects(existing={key: meta for key, meta in results if meta is not None})

    def admission_dry_run(self, facts: Facts) -> tuple[DryRun, ...]:
        adm: AdmissionObjects = facts.get("admission_objects")
        if not adm.namespace_exists:
            return ()
        existing: LiveObjects = facts.get("admission_live")
        client = _client(facts)

        def send(obj: ChartObject) -> DryRun:
            body = as_sent(obj, adm.release, adm.namespace)
            collection = collection_path(obj.ref.api_version, obj.resource, obj.ref.namespace)
            item = f"{collection}/{quote(obj.ref.name)}"
            if obj.hooks and existing.get(obj.ref) is not None and recreated(obj):
                # helm deletes the old hook first (before-hook-creation, the default policy), then
                # creates it: judge a create, under a fresh name since the old one still exists
                body["metadata"].pop("name", None)
                body["metadata"]["generateName"] = f"{obj.ref.name[:50]}-"
                return _dry_run(client, obj.ref, "create", "POST", collection, body, "application/json")
            if adm.helm_major >= 4:
                return _dry_run(client, obj.ref, "apply", "PATCH", item, body, APPLY_PATCH)
            if existing.get(obj.ref) is None:
                return _dry_run(client, obj.ref, "create", "POST", collection, body, "application/json")
            group = obj.ref.api_version.rpartition("/")[0]
            return _dry_run(client, obj.ref, "patch", "PATCH", item, body, STRATEGIC_PATCH if group in _BUILTIN_GROUPS else MERGE_PATCH)

        return tuple(_parallel(send, [o for o in adm.objects if o.resource and o.ref.name]))

    def admission_references(self, facts: Facts) -> ReferenceFacts:
        adm: AdmissionObjects = facts.get("admission_objects")
        client = _client(facts)
        spaces = sorted({o.ref.namespace for o, _ in iter_pod_specs(adm)} | {
            o.ref.namespace for o in adm.objects if o.ref.kind == "PersistentVolumeClaim"} - {""})
        if not adm.namespace_exists:
            spaces = [s for s in spaces if s != adm.namespace]
        jobs: list[tuple[str, str, str]] = [(kind, ns, collection_path("v1", kind, ns)) for ns in spaces
                                             for kind in ("secrets", "serviceaccounts", "configmaps", "persistentvolumeclaims")]
        found = dict(zip([(k, ns) for k, ns, _ in jobs], _parallel(lambda j: _names_or_none(client, j[2]), jobs), strict=True))
        raise_first(found.values())
        classes: dict[str, bool] | None
        try:
            classes = {str((c.get("metadata") or {}).get("name")):
                       ((c.get("metadata") or {}).get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"
                       for c in client.list_all("/apis/storage.k8s.io/v1/storageclasses")}
        except ForbiddenError:
            classes = None

        def by_ns(kind: str) -> dict[str, frozenset[str] | None]:
            return {ns: found.get((kind, ns)) for ns in spaces} | (
                {adm.namespace: frozenset()} if not adm.namespace_exists else {})

        return ReferenceFacts(secrets=by_ns("secrets"), service_accounts=by_ns("serviceaccounts"),
                              config_maps=by_ns("configmaps"), claims=by_ns("persistentvolumeclaims"), storage_classes=classes)

    def admission_pods(self, facts: Facts) -> tuple[PodDryRun, ...]:
        adm: AdmissionObjects = facts.get("admission_objects")
        if not adm.namespace_exists:
            return ()
        refs: ReferenceFacts = facts.get("admission_references")
        client = _client(facts)

        def send(owner: ChartObject) -> PodDryRun:
            template = pod_template(owner.body) or {}
            pod = _pod_for(owner, template)
            spec = pod["spec"]
            accounts = refs.service_accounts.get(owner.ref.namespace)
            wanted = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
            substituted = ""
            # The chart's own ServiceAccount does not exist before the deploy: admission would
            # refuse the Pod for that alone and hide what PodSecurity or quota say. Send it as the
            # namespace's default account; admission.references judges the account itself.
            if accounts is not None and wanted not in accounts and adm.find("ServiceAccount", wanted, owner.ref.namespace) \
                    and "default" in accounts:
                spec["serviceAccountName"] = substituted = "default"
                spec.pop("serviceAccount", None)
            result = _dry_run(client, ObjectRef(kind="Pod", name=pod["metadata"]["name"], namespace=owner.ref.namespace),
                              "create", "POST", collection_path("v1", "pods", owner.ref.namespace), pod, "application/json")
            return PodDryRun(owner=owner, result=result, replicas=replicas_of(owner.body),
                             substituted_account=substituted and wanted)

        return tuple(_parallel(send, [o for o, _ in iter_pod_specs(adm) if o.ref.name]))

    def admission_webhooks(self, facts: Facts) -> WebhookFacts:
        adm: AdmissionObjects = facts.get("admission_objects")
        client = _client(facts)
        hooks = [h for c in client.list_all("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations")
                 for h in _webhooks(c, False)]
        hooks += [h for c in client.list_all("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations")
                  for h in _webhooks(c, True)]
        spaces = sorted({o.ref.namespace for o in adm.objects if o.ref.namespace})

        def labels_of(ns: str) -> tuple[str, Mapping[str, str]]:
            try:
                meta = (client.request("GET", f"/api/v1/namespaces/{quote(ns)}", accept=METADATA_ONLY).data or {}).get("metadata") or {}
            except (NotFoundError, ForbiddenError):  # a namespace helm creates has only its name label
                return ns, {"kubernetes.io/metadata.name": ns}
            return ns, dict(meta.get("labels") or {})

        def service_state(service: str) -> tuple[str, bool | None, int | None]:
            ns, _, name = service.partition("/")
            try:
                client.request("GET", f"/api/v1/namespaces/{quote(ns)}/services/{quote(name)}", accept=METADATA_ONLY)
            except NotFoundError:
                return service, False, 0
            except ForbiddenError:
                return service, None, None
            try:
                slices = client.get(f"/apis/discovery.k8s.io/v1/namespaces/{quote(ns)}/endpointslices",
                                    labelSelector=f"kubernetes.io/service-name={name}").data or {}
            except ForbiddenError:
                return service, True, None
            ready = sum(1 for s in slices.get("items") or [] for e in s.get("endpoints") or []
                        if (e.get("conditions") or {}).get("ready") is not False)
            return service, True, ready

        failing_closed = sorted({h.service for h in hooks if h.service and h.failure_policy == "Fail"})
        results = _parallel(service_state, failing_closed) + _parallel(labels_of, spaces)
        raise_first(results)
        states = {r[0]: r[1:] for r in results[: len(failing_closed)]}
        hooks = [h if h.service not in states else replace(h, service_exists=states[h.service][0], ready_endpoints=states[h.service][1])
                 for h in hooks]
        return WebhookFacts(webhooks=tuple(hooks), namespace_labels=dict(results[len(failing_closed):]))

    def admission_nodes(self, facts: Facts) -> CapacityFacts:
        client = _client(facts)
        listed = list(client.list_all("/api/v1/nodes"))
        requested: dict[str, dict[str, int]] = {}
        for pod in client.list_all("/api/v1/pods", fieldSelector="spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"):
            node = str((pod.get("spec") or {}).get("nodeName") or "")
            mine = requested.setdefault(node, {"pods": 0})
            mine["pods"] += 1
            for k, v in pod_requests(pod.get("spec") or {}).items():
                mine[k] = mine.get(k, 0) + v
        return CapacityFacts(nodes=tuple(_node_info(n, requested.get(str((n.get("metadata") or {}).get("name")), {})) for n in listed))


def _parallel(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return parallel(fn, items, workers=WORKERS)
