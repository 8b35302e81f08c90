"""Collectors for ``preflight check``: each gathers one kind of fact, once per run.

This is the only module of ``check`` that talks to the API server. Every collector takes the
run's ``Facts`` (to reach the shared client and other facts) and returns plain data from
``_facts``. Which requests are made, and why each is needed, is listed in the README.

Objects a collector creates (the ``--deep`` canary) are registered in ``Cleanups`` before
anything can fail, and the CLI drains it from the main thread, also after Ctrl-C: collectors
run in daemon threads, whose ``finally`` blocks do not run when the process exits.
"""

from __future__ import annotations

import secrets as random_names
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kube_client._errors import ClusterError, ForbiddenError, NotFoundError
from kube_client._cluster import SA_NAME_ANNOTATION, SA_TOKEN_TYPE, read_identity, read_leases, read_version

from ._facts import (
    AccessResult,
    ApiServiceState,
    Bindings,
    CanaryResult,
    Health,
    HelmRelease,
    Identity,
    Leases,
    Permission,
    ServerVersion,
    ServiceAccountFacts,
)
from kube_client._http import KubeClient, Response
from kube_client._kubeconfig import decode_jwt_claims
from ._helm_storage import revisions_of
from ._manifests import DiscoveredKind, ManifestKind, permissions_for
from ._probe import TlsProbe, probe_tls
from ._runner import Collector, Deadline, Facts
from kube_client._target import Target

if TYPE_CHECKING:  # _chart is imported when --chart is used: it brings pyhelm3
    from ._chart import ApiCatalog, ChartSource

__all__ = ["CheckOptions", "Cleanups", "EnsureToken", "build_collectors", "list_release_records", "parallel", "read_catalog", "served_kinds"]

# (client, namespace, account, wait seconds): make the account's long-lived token exist
EnsureToken = Callable[[KubeClient, str, str, float], object]

CLEANUP_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class CheckOptions:
    permissions: tuple[Permission, ...] = ()
    service_account: tuple[str, str] | None = None
    release: str = ""
    helm_driver: str = "secret"
    canary_wait: float = 15.0
    # --ensure-token: the command level passes sa_tokens' ensure in, so this layer never imports it
    ensure_token: EnsureToken | None = None
    manifest_kinds: tuple[ManifestKind, ...] = ()  # from --manifests: permissions follow the chart
    chart: ChartSource | None = None  # --chart: rendered here, with the server's version and APIs


class Cleanups:
    """Undo actions for what collectors created; safe to run twice and from any thread."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def add(self, what: str, action: Callable[[], None]) -> None:
        with self._lock:
            self._actions.append((what, action))

    def run(self) -> list[str]:
        """Run every pending action (newest first); return what could not be undone."""
        with self._lock:
            pending, self._actions = self._actions[::-1], []
        failed = []
        for what, action in pending:
            try:
                action()
            except ClusterError as exc:
                if not isinstance(exc, NotFoundError):
                    failed.append(f"{what}: {exc}")
        return failed


def parallel(fn: Callable[[Any], Any], items: Iterable[Any], *, workers: int = 4) -> list[Any]:
    """``fn`` over ``items`` on daemon threads; each result or the exception it raised."""
    todo = list(enumerate(items))
    results: list[Any] = [None] * len(todo)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                index, item = todo.pop(0)
            try:
                results[index] = fn(item)
            except Exception as exc:  # noqa: BLE001 - handed back to the caller
                results[index] = exc

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(workers, len(todo)) or 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _own_token_secret(target: Target, namespace: str, name: str) -> str:
    """The Secret our bearer token came from, when it is a legacy token of namespace/name."""
    token = target.credentials.token
    claims = decode_jwt_claims(token.data.decode(errors="replace")) if token is not None and token.data else None
    if (claims or {}).get("kubernetes.io/serviceaccount/namespace") == namespace and (claims or {}).get(
        "kubernetes.io/serviceaccount/service-account.name"
    ) == name:
        return str((claims or {}).get("kubernetes.io/serviceaccount/secret.name") or "")
    return ""


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
    from ._chart import AGGREGATED_DISCOVERY, catalog_from_aggregated, catalog_from_legacy

    core = client.request("GET", "/api", accept=AGGREGATED_DISCOVERY).data or {}
    groups = client.request("GET", "/apis", accept=AGGREGATED_DISCOVERY).data or {}
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


def build_collectors(target: Target, options: CheckOptions, cleanups: Cleanups) -> dict[str, Collector]:
    """The collector table for one target."""
    ns = target.namespace

    def client(facts: Facts) -> KubeClient:
        return KubeClient(target, facts.deadline)

    def c(facts: Facts) -> KubeClient:
        result: KubeClient = facts.get("client")
        return result

    def probe(facts: Facts) -> TlsProbe:
        return probe_tls(target.host, target.port, server_name=target.tls_name, deadline=facts.deadline, proxy=target.proxy,
                         tls=target.cluster.server.startswith("https://"))

    def version(facts: Facts) -> ServerVersion:
        return read_version(c(facts))

    def livez(facts: Facts) -> Health:
        return Health.parse("/livez", *c(facts).get_text("/livez", verbose=""))

    def readyz(facts: Facts) -> Health:
        return Health.parse("/readyz", *c(facts).get_text("/readyz", verbose=""))

    def identity(facts: Facts) -> Identity:
        return read_identity(c(facts))

    def catalog(facts: Facts) -> ApiCatalog:
        return read_catalog(c(facts))

    def deploy_kinds(facts: Facts) -> tuple[ManifestKind, ...]:
        """The kinds the deploy creates: --manifests as read, --chart rendered now, else ()."""
        if options.chart is None:
            return options.manifest_kinds
        from ._chart import render_kinds

        version: ServerVersion = facts.get("version")
        return render_kinds(options.chart, kube_version=version.git_version, catalog=facts.get("api_catalog"),
                            timeout=max(1.0, facts.deadline.remaining()))

    def discovery(facts: Facts) -> list[DiscoveredKind]:
        """Resource names of the deploy's kinds: one discovery GET per group-version used
        (none with --chart: the catalog it was rendered with has them)."""
        kinds: tuple[ManifestKind, ...] = facts.get("deploy_kinds")
        known: ApiCatalog | None = facts.get("api_catalog") if options.chart is not None else None
        out = []
        for api_version in sorted({k.api_version for k in kinds}):
            served = ({kind: r for (gv, kind), r in known.resources.items() if gv == api_version} if known is not None
                      else served_kinds(c(facts), api_version))
            for kind in (k for k in kinds if k.api_version == api_version):
                resource, namespaced = served.get(kind.kind, ("", True))
                out.append(DiscoveredKind(kind=kind, resource=resource, namespaced=namespaced))
        return out

    def access(facts: Facts) -> list[AccessResult]:
        wanted = permissions_for(facts.get("discovery")) if facts.get("deploy_kinds") else list(options.permissions)

        def review(p: Permission) -> AccessResult:
            where = "" if p.cluster_scoped else (p.namespace or ns)
            body = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"namespace": where, "verb": p.verb, "group": p.group, "resource": p.resource}},
            }
            status = (c(facts).post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body).data or {}).get("status") or {}
            return AccessResult(permission=p, allowed=bool(status.get("allowed")), reason=str(status.get("reason") or ""))

        results = parallel(review, wanted)
        for r in results:
            if isinstance(r, Exception):
                raise r
        return results

    def leases(facts: Facts) -> Leases:
        return read_leases(c(facts))

    def apiservices(facts: Facts) -> list[ApiServiceState]:
        out = []
        for item in c(facts).get("/apis/apiregistration.k8s.io/v1/apiservices").data.get("items") or []:
            spec, meta = item.get("spec") or {}, item.get("metadata") or {}
            conditions = (item.get("status") or {}).get("conditions") or []
            cond: dict[str, Any] = next((x for x in conditions if x.get("type") == "Available"), {})
            svc = spec.get("service") or {}
            out.append(
                ApiServiceState(
                    name=str(meta.get("name", "")),
                    group=str(spec.get("group") or ""),
                    version=str(spec.get("version") or ""),
                    available=cond.get("status") == "True",
                    reason=str(cond.get("reason") or ""),
                    message=str(cond.get("message") or ""),
                    service=f"{svc.get('namespace')}/{svc.get('name')}" if svc else "",
                )
            )
        return out

    def namespace(facts: Facts) -> bool:
        try:
            c(facts).get(f"/api/v1/namespaces/{quote(ns)}")
        except NotFoundError:
            return False
        return True

    def service_account(facts: Facts) -> ServiceAccountFacts | None:
        who = options.service_account
        if who is None:
            ident = facts.get("identity")
            who = ident.service_account if isinstance(ident, Identity) else None
        if who is None:
            return None
        sa_ns, sa_name = who
        if options.ensure_token is not None:
            options.ensure_token(c(facts), sa_ns, sa_name, max(1.0, facts.deadline.remaining() - 2))
        try:
            account = c(facts).get(f"/api/v1/namespaces/{quote(sa_ns)}/serviceaccounts/{quote(sa_name)}").data
        except NotFoundError:
            account = None
        except ForbiddenError:
            own = _own_token_secret(target, sa_ns, sa_name)
            if not own:
                raise
            return ServiceAccountFacts(namespace=sa_ns, name=sa_name, account=None, own_token_secret=own)
        secrets = c(facts).list_all(f"/api/v1/namespaces/{quote(sa_ns)}/secrets", fieldSelector=f"type={SA_TOKEN_TYPE}")
        return ServiceAccountFacts(namespace=sa_ns, name=sa_name, account=account, token_secrets=tuple(secrets))

    def bindings(facts: Facts) -> Bindings:
        client_ = c(facts)
        rbs = tuple(client_.list_all(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{quote(ns)}/rolebindings"))
        crbs = tuple(client_.list_all("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"))
        wanted = {ns}
        for binding in rbs:
            wanted |= {s.get("namespace") or ns for s in binding.get("subjects") or [] if s.get("kind") == "ServiceAccount"}
        accounts = {}
        for sa_ns in sorted(wanted):
            accounts[sa_ns] = frozenset(
                str((o.get("metadata") or {}).get("name")) for o in client_.list_all(f"/api/v1/namespaces/{quote(sa_ns)}/serviceaccounts")
            )
        return Bindings(namespace=ns, role_bindings=rbs, cluster_role_bindings=crbs, service_accounts=accounts)

    def helm_release(facts: Facts) -> HelmRelease | None:
        if not options.release:
            return None
        kind, resp = list_release_records(c(facts), ns, options.release, options.helm_driver)
        revisions = revisions_of((resp.data or {}).get("items") or [])
        return HelmRelease(name=options.release, namespace=ns, revisions=revisions, server_time=resp.date, driver=kind)

    def canary(facts: Facts) -> CanaryResult:
        return run_token_canary(c(facts), ns, cleanups, wait=options.canary_wait)

    return {
        "client": client,
        "probe": probe,
        "version": version,
        "livez": livez,
        "readyz": readyz,
        "identity": identity,
        "api_catalog": catalog,
        "deploy_kinds": deploy_kinds,
        "discovery": discovery,
        "access": access,
        "leases": leases,
        "apiservices": apiservices,
        "namespace": namespace,
        "service_account": service_account,
        "bindings": bindings,
        "helm_release": helm_release,
        "canary": canary,
    }


def run_token_canary(client: KubeClient, namespace: str, cleanups: Cleanups, *, wait: float) -> CanaryResult:
    """Create a throwaway ServiceAccount and token Secret; report whether the token
    controller fills it within ``wait`` seconds. Both are deleted afterwards."""
    name = f"preflight-canary-{random_names.token_hex(3)}"
    base = f"/api/v1/namespaces/{quote(namespace)}"

    def deleter(path: str) -> Callable[[], None]:
        def delete() -> None:
            # Its own budget: clean-ups also run after the run's deadline is spent (or Ctrl-C).
            client.delete(path, deadline=Deadline(CLEANUP_SECONDS))

        return delete

    # Register each undo before the create: a create whose answer is lost still gets deleted.
    cleanups.add(f"ServiceAccount {namespace}/{name}", deleter(f"{base}/serviceaccounts/{name}"))
    client.post(f"{base}/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
    cleanups.add(f"Secret {namespace}/{name}", deleter(f"{base}/secrets/{name}"))
    created = client.post(
        f"{base}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": SA_TOKEN_TYPE,
            "metadata": {"name": name, "annotations": {SA_NAME_ANNOTATION: name}},
        },
    ).data
    started = time.monotonic()
    filled = bool((created.get("data") or {}).get("token"))
    version = str((created.get("metadata") or {}).get("resourceVersion") or "0")
    if not filled:
        for event in client.watch(f"{base}/secrets", resource_version=version, timeout=wait, fieldSelector=f"metadata.name={name}"):
            obj = event.get("object") or {}
            if event.get("type") in ("ADDED", "MODIFIED") and (obj.get("data") or {}).get("token"):
                filled = True
                break
            if event.get("type") == "DELETED":
                break
    waited = time.monotonic() - started
    failed = cleanups.run()
    return CanaryResult(filled=filled, waited_seconds=waited, secret=f"{namespace}/{name}", cleaned_up=not failed, detail="; ".join(failed))
