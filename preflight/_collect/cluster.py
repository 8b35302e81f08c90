"""Collectors for ``preflight check``: each gathers one kind of fact, once per run.

This is the only module of ``check`` that talks to the API server. Every collector takes the
run's ``Facts`` (to reach the shared client and other facts) and returns plain data from
``_facts``. Which requests are made, and why each is needed, is listed in the README.

Objects a collector creates (the ``--deep`` canary) are registered in ``Cleanups`` before
anything can fail, and the CLI drains it from the main thread, also after Ctrl-C: collectors
run in daemon threads, whose ``finally`` blocks do not run when the process exits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from kube_client._cluster import (
    SA_TOKEN_TYPE,
    Identity,
    Leases,
    ServerVersion,
    read_identity,
    read_leases,
    read_version,
)
from kube_client._errors import ClusterError, ForbiddenError, NotFoundError, not_kubernetes
from kube_client._shapes import (
    APIService,
    APIServiceSpec,
    Condition,
    ObjectList,
    ObjectMeta,
    ServiceReference,
    SubjectAccessReview,
    SubjectAccessReviewStatus,
    SubjectRulesReview,
)
from kube_client._http import KubeClient
from kube_client._kubeconfig import decode_jwt_claims
from kube_client._parallel import parallel, raise_first
from kube_client._target import Target

from .._engine.runner import Collector, Facts
from .._facts.cluster import (
    AccessResult,
    ApiServiceState,
    Bindings,
    CanaryResult,
    Health,
    HelmRelease,
    NodeState,
    Permission,
    ServiceAccountFacts,
    TlsProbe,
    revisions_of,
)
from .._facts.manifests import DiscoveredKind, ManifestKind, kinds_of, permissions_for
from .._facts.permissions import allowed_by_rules
from .canary import Cleanups, run_token_canary
from .probe import probe_tls
from .reads import list_release_records, read_catalog, served_kinds

if TYPE_CHECKING:  # chart is imported when --chart is used
    from .chart import ApiCatalog, ChartSource

__all__ = ["CheckOptions", "Cleanups", "EnsureToken", "build_collectors", "list_release_records", "parallel", "read_catalog", "served_kinds"]

# (client, namespace, account, wait seconds): make the account's long-lived token exist
EnsureToken = Callable[[KubeClient, str, str, float], object]


@dataclass(frozen=True, kw_only=True)
class CheckOptions:
    """What one run asks of the collectors beyond the target."""

    permissions: tuple[Permission, ...] = ()
    service_account: tuple[str, str] | None = None
    release: str = ""
    helm_driver: str = "secret"
    canary_wait: float = 15.0
    # --ensure-token: the command level passes sa_tokens' ensure in, so this layer never imports it
    ensure_token: EnsureToken | None = None
    manifest_kinds: tuple[ManifestKind, ...] = ()  # from --manifests: permissions follow the chart
    chart: ChartSource | None = None  # --chart: rendered here, with the server's version and APIs
    manifest_objects: tuple[Mapping[str, Any], ...] = ()  # from --manifests: the objects themselves, for admission.*
    helm_major: int | None = None  # how the deploy sends objects (admission.dry-run): 3 create/patch, 4 server-side apply; None: $HELM_BIN's
    simulate: bool = False  # the admission simulation runs: its collectors join the table


def _own_token_secret(target: Target, namespace: str, name: str) -> str:
    """The Secret our bearer token came from, when it is a legacy token of namespace/name."""
    token = target.credentials.token
    claims = decode_jwt_claims(token.data.decode(errors="replace")) if token is not None and token.data else None
    if (claims or {}).get("kubernetes.io/serviceaccount/namespace") == namespace and (claims or {}).get(
        "kubernetes.io/serviceaccount/service-account.name"
    ) == name:
        return str((claims or {}).get("kubernetes.io/serviceaccount/secret.name") or "")
    return ""


# The facts of ``check``: one method of ``CheckCollectors`` each.
FACT_NAMES = ("client", "probe", "version", "livez", "readyz", "identity", "api_catalog", "deploy_objects", "deploy_kinds", "discovery", "access",
              "leases", "apiservices", "nodes", "namespace", "service_account", "bindings", "helm_release", "canary")


@dataclass(frozen=True, kw_only=True)
class CheckCollectors:
    """The collectors for one target: each method gathers the fact of its name, once per run
    (``Facts`` memoizes it), and may ask ``facts`` for the facts it builds on."""

    target: Target
    options: CheckOptions
    cleanups: Cleanups

    def table(self) -> dict[str, Collector]:
        return {name: getattr(self, name) for name in FACT_NAMES}

    def _client(self, facts: Facts) -> KubeClient:
        result: KubeClient = facts.get("client")
        return result


    def client(self, facts: Facts) -> KubeClient:
        return KubeClient(self.target, facts.deadline)

    def probe(self, facts: Facts) -> TlsProbe:
        return probe_tls(self.target.host, self.target.port, server_name=self.target.tls_name, deadline=facts.deadline, proxy=self.target.proxy,
                         tls=self.target.cluster.server.startswith("https://"))

    def version(self, facts: Facts) -> ServerVersion:
        return read_version(self._client(facts))

    def livez(self, facts: Facts) -> Health:
        return Health.parse("/livez", *self._client(facts).get_text("/livez", verbose=""))

    def readyz(self, facts: Facts) -> Health:
        return Health.parse("/readyz", *self._client(facts).get_text("/readyz", verbose=""))

    def identity(self, facts: Facts) -> Identity:
        return read_identity(self._client(facts))

    def api_catalog(self, facts: Facts) -> ApiCatalog:
        return read_catalog(self._client(facts))

    def deploy_objects(self, facts: Facts) -> tuple[Mapping[str, Any], ...]:
        """The objects the deploy sends: --manifests as read, --chart rendered now, else ()."""
        if self.options.chart is None:
            return self.options.manifest_objects
        from .chart import render_objects

        facts.start("api_catalog")  # the render waits for both: ask for them at once, not one after the other
        version: ServerVersion = facts.get("version")
        return tuple(render_objects(self.options.chart, kube_version=version.git_version, catalog=facts.get("api_catalog"),
                                    timeout=max(1.0, facts.deadline.remaining())))

    def deploy_kinds(self, facts: Facts) -> tuple[ManifestKind, ...]:
        """The kinds the deploy creates: --manifests as read, --chart rendered now (once, shared
        with the admission simulation), else ()."""
        if self.options.chart is None:
            return self.options.manifest_kinds
        return kinds_of(facts.get("deploy_objects"), source=f"helm template {self.options.chart.path}")

    def discovery(self, facts: Facts) -> list[DiscoveredKind]:
        """Resource names of the deploy's kinds: one discovery GET per group-version used
        (none with --chart: the catalog it was rendered with has them)."""
        kinds: tuple[ManifestKind, ...] = facts.get("deploy_kinds")
        known: ApiCatalog | None = facts.get("api_catalog") if self.options.chart is not None else None
        out = []
        for api_version in sorted({k.api_version for k in kinds}):
            served = ({kind: r for (gv, kind), r in known.resources.items() if gv == api_version} if known is not None
                      else served_kinds(self._client(facts), api_version))
            for kind in (k for k in kinds if k.api_version == api_version):
                resource, namespaced = served.get(kind.kind, ("", True))
                out.append(DiscoveredKind(kind=kind, resource=resource, namespaced=namespaced))
        return out

    def access(self, facts: Facts) -> list[AccessResult]:
        wanted = permissions_for(facts.get("discovery")) if facts.get("deploy_kinds") else list(self.options.permissions)

        def review(p: Permission) -> AccessResult:
            where = "" if p.cluster_scoped else (p.namespace or self.target.namespace)
            body = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"namespace": where, "verb": p.verb, "group": p.group, "resource": p.resource}},
            }
            answer = cast(SubjectAccessReview, self._client(facts).post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body).data or {})
            status: SubjectAccessReviewStatus = answer.get("status") or {}
            return AccessResult(permission=p, allowed=bool(status.get("allowed")), reason=str(status.get("reason") or ""))

        proven = self._allowed_by_rules_review(facts, wanted)
        asked = parallel(review, [p for p in wanted if p not in proven])
        raise_first(asked)
        answers = {r.permission: r for r in asked}
        return [answers.get(p) or AccessResult(permission=p, allowed=True, reason="allowed by a complete SelfSubjectRulesReview")
                for p in wanted]

    def _allowed_by_rules_review(self, facts: Facts, wanted: list[Permission]) -> set[Permission]:
        """The namespaced permissions that one SelfSubjectRulesReview per namespace proves allowed:
        one request where the access reviews take one each (38 for the default deploy, which made
        them the slowest fact of a check: bench/README.md, "Start-up").

        The API says a rules review may be incomplete and is no basis for an authorization
        decision (authorization/v1 SelfSubjectRulesReview). So it only ever proves "allowed",
        and only when complete: then every authorizer enumerated its rules (a webhook, which can
        deny, never can: it makes the review incomplete), and a rule that allows is a grant.
        Everything else, and every cluster-scoped permission (a RoleBinding's rule shows in the
        namespace's review but grants nothing cluster-wide), is asked one by one, as before, and
        a denial always comes from a SelfSubjectAccessReview with the server's reason."""
        def proven_in(ns: str) -> set[Permission]:
            body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": ns}}
            try:
                review = cast(SubjectRulesReview, self._client(facts).post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", body).data or {})
            except ClusterError:
                return set()  # the access reviews ask instead, and report what fails
            status = review.get("status") or {}
            if status.get("incomplete") is not False:
                return set()
            rules = status.get("resourceRules") or []
            return {p for p in wanted if not p.cluster_scoped and (p.namespace or self.target.namespace) == ns and allowed_by_rules(p, rules)}

        reviewed = parallel(proven_in, sorted({p.namespace or self.target.namespace for p in wanted if not p.cluster_scoped}))
        raise_first(reviewed)  # a namespace per request, at once: a chart may deploy to several
        return set().union(*reviewed)

    def leases(self, facts: Facts) -> Leases:
        return read_leases(self._client(facts))

    def apiservices(self, facts: Facts) -> list[ApiServiceState]:
        out = []
        listed = cast(ObjectList[APIService], self._client(facts).get("/apis/apiregistration.k8s.io/v1/apiservices").data or {})
        for item in listed.get("items") or []:
            spec: APIServiceSpec = item.get("spec") or {}
            meta: ObjectMeta = item.get("metadata") or {}
            conditions = (item.get("status") or {}).get("conditions") or []
            cond = next((x for x in conditions if x.get("type") == "Available"), Condition())
            svc: ServiceReference = spec.get("service") or {}
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

    def nodes(self, facts: Facts) -> tuple[NodeState, ...]:
        """Every Node (cluster-scoped list: a 403 here makes cluster.nodes skip, not fail)."""
        return tuple(NodeState.parse(n) for n in self._client(facts).list_all("/api/v1/nodes"))

    def namespace(self, facts: Facts) -> bool:
        try:
            self._client(facts).get(f"/api/v1/namespaces/{quote(self.target.namespace)}")
        except NotFoundError as exc:
            if not exc.kubernetes:  # a bare 404: whatever answers there does not know namespaces
                raise not_kubernetes(self.target.cluster.display, "GET /api/v1/namespaces/... with a bare HTTP 404") from None
            return False
        return True

    def service_account(self, facts: Facts) -> ServiceAccountFacts | None:
        who = self.options.service_account
        if who is None:
            ident = facts.get("identity")
            who = ident.service_account if isinstance(ident, Identity) else None
        if who is None:
            return None
        sa_ns, sa_name = who
        if self.options.ensure_token is not None:
            self.options.ensure_token(self._client(facts), sa_ns, sa_name, max(1.0, facts.deadline.remaining() - 2))
        try:
            account = self._client(facts).get(f"/api/v1/namespaces/{quote(sa_ns)}/serviceaccounts/{quote(sa_name)}").data
        except NotFoundError:
            account = None
        except ForbiddenError:
            own = _own_token_secret(self.target, sa_ns, sa_name)
            if not own:
                raise
            return ServiceAccountFacts(namespace=sa_ns, name=sa_name, account=None, own_token_secret=own)
        secrets = self._client(facts).list_all(f"/api/v1/namespaces/{quote(sa_ns)}/secrets", fieldSelector=f"type={SA_TOKEN_TYPE}")
        return ServiceAccountFacts(namespace=sa_ns, name=sa_name, account=account, token_secrets=tuple(secrets))

    def bindings(self, facts: Facts) -> Bindings:
        client_ = self._client(facts)
        ns = self.target.namespace

        def account_names(sa_ns: str) -> frozenset[str]:
            return frozenset(str((o.get("metadata") or {}).get("name")) for o in client_.list_all(f"/api/v1/namespaces/{quote(sa_ns)}/serviceaccounts"))

        # The three lists at once (they ended a check last, one after another); then the
        # accounts of any other namespace a RoleBinding names (rare).
        listed = parallel(lambda read: read(), [
            lambda: tuple(client_.list_all(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{quote(ns)}/rolebindings")),
            lambda: tuple(client_.list_all("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")),
            lambda: account_names(ns),
        ])
        raise_first(listed)
        rbs, crbs, own = listed
        accounts = {ns: own}
        for binding in rbs:
            for subject in binding.get("subjects") or []:
                sa_ns = subject.get("namespace") or ns
                if subject.get("kind") == "ServiceAccount" and sa_ns not in accounts:
                    accounts[sa_ns] = account_names(sa_ns)
        return Bindings(namespace=ns, role_bindings=rbs, cluster_role_bindings=crbs, service_accounts=dict(sorted(accounts.items())))

    def helm_release(self, facts: Facts) -> HelmRelease | None:
        if not self.options.release:
            return None
        kind, resp = list_release_records(self._client(facts), self.target.namespace, self.options.release, self.options.helm_driver)
        revisions = revisions_of((resp.data or {}).get("items") or [])
        return HelmRelease(name=self.options.release, namespace=self.target.namespace, revisions=revisions, server_time=resp.date, driver=kind)

    def canary(self, facts: Facts) -> CanaryResult:
        return run_token_canary(self._client(facts), self.target.namespace, self.cleanups, wait=self.options.canary_wait)


def build_collectors(target: Target, options: CheckOptions, cleanups: Cleanups) -> dict[str, Collector]:
    """The collector table for one target, with the admission simulation's."""
    table = CheckCollectors(target=target, options=options, cleanups=cleanups).table()
    if options.simulate:
        from .admission import AdmissionCollectors  # only then: its facts and judges are a third of check's imports

        release = options.release or (options.chart.release if options.chart else "")
        table |= AdmissionCollectors(namespace=target.namespace, release=release, given_helm_major=options.helm_major).table()
    return table


