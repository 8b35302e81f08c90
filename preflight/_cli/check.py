"""``preflight check``: the check table, in report order, and one run of it.

Root causes first (reachability, the served certificate, our credential and identity, the
control plane), symptoms after (permissions, tokens, bindings, Helm state), so the first
failure in the report is the one to fix; ``Report.root_cause`` names it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kube_client._deadline import Deadline
from kube_client._errors import ConfigError, NotFoundError, UnauthorizedError, UnreachableError
from kube_client._http import KubeClient
from kube_client._target import Target

from .._checks.api import api_reachable
from .._checks.auth import auth_identity, auth_permissions
from .._checks.cluster.nodes import cluster_nodes
from .._checks.controlplane import controlplane_apiservices, controlplane_leases, controlplane_token_controller
from .._checks.helm import helm_release
from .._checks.kubeconfig import kubeconfig_credentials
from .._checks.rbac import rbac_subjects
from .._checks.serviceaccount import serviceaccount_token
from .._checks.tls import tls_serving_cert
from .._collect.canary import Cleanups
from .._collect.cluster import CheckOptions, EnsureToken, build_collectors
from .._engine.model import Report
from .._engine.runner import Check, FactError, Facts, run_checks
from .._facts.manifests import ManifestKind
from .._facts.permissions import DEFAULT_DEPLOY, expand
from .._facts.policy import ExpiryPolicy, Policy

if TYPE_CHECKING:
    from .._collect.chart import ChartSource

__all__ = ["API_REACHABLE", "CheckRequest", "check_table", "node_checks", "run_check", "wait_for_api"]


@dataclass(frozen=True, kw_only=True)
class CheckRequest:
    """One ``preflight check`` run, as the flags asked for it."""

    target: Target
    timeout: float
    expiry: ExpiryPolicy
    wait_for_api: float = 0.0  # --wait-for-api: seconds to wait for the API server to answer, before the run
    now: datetime
    deep: bool = False
    service_account: tuple[str, str] | None = None
    release: str = ""
    hook: bool = False  # --hook: the identity is a Helm hook's own ServiceAccount, not the deployer's
    helm_driver: str = "secret"
    helm_timeout: float = 300.0
    create_namespace: bool = False
    node_dir: Path | None = None  # node mode: the kubeadm folder of this control-plane node
    ensure_token: bool = False
    manifest_kinds: tuple[ManifestKind, ...] = ()
    chart: ChartSource | None = None  # --chart: rendered offline with the server's version and APIs
    manifest_objects: tuple[Mapping[str, Any], ...] = ()  # --manifests: the objects, for the admission simulation
    simulate: bool = True  # --no-simulate turns the admission simulation off
    helm_major: int | None = None  # --helm-major: how the deploy sends objects (3: create/patch, 4: server-side apply); None: $HELM_BIN's


def node_checks() -> tuple[Check, ...]:
    """Node mode's checks (imported only when asked for: they read /proc and local files)."""
    from .._checks.node import node_restarts, node_served_certs

    return (
        Check(id="node.served-certs", needs=("node",), run=node_served_certs),
        Check(id="node.restarts", needs=("node",), run=node_restarts),
    )


# The root of every API fact: when it failed, checks whose facts failed to connect, or got a 404
# from what is not the Kubernetes API, point here instead of repeating it.
API_REACHABLE = Check(id="api.reachable", needs=("probe", "version", "livez", "readyz"), run=api_reachable,
                      tolerates=("probe", "version", "livez", "readyz"), explains=(UnreachableError, NotFoundError))


def check_table(target: Target, *, deep: bool, release: str, node: bool = False, explicit_service_account: bool = False,
                helm_timeout: float = 300.0, admission: bool = False, hook: bool = False) -> list[Check]:
    """The checks of one run, in report order. Options a single judge reads are bound here to
    its keyword parameters, so they are typed by its signature."""
    table = [
        API_REACHABLE,
        Check(id="tls.serving-cert", needs=("probe",), run=partial(tls_serving_cert, target), tolerates=("probe",)),
        Check(id="kubeconfig.credentials", needs=(), run=partial(kubeconfig_credentials, target)),
        Check(id="auth.identity", needs=("identity",), run=partial(auth_identity, target), tolerates=("identity",),
              explains=(UnauthorizedError,)),
        *(node_checks() if node else ()),
        Check(id="controlplane.leases", needs=("leases",), run=controlplane_leases),
        Check(id="controlplane.apiservices", needs=("apiservices", "deploy_kinds"), run=controlplane_apiservices,
              tolerates=("deploy_kinds",)),
    ]
    if deep:
        table.append(Check(id="controlplane.token-controller", needs=("canary", "leases"), run=controlplane_token_controller,
                           tolerates=("canary", "leases")))
    table += [
        Check(id="cluster.nodes", needs=("nodes", "deploy_kinds"), run=cluster_nodes, tolerates=("deploy_kinds",)),
        Check(id="auth.permissions", needs=("access", "discovery"), run=partial(auth_permissions, target), skip_when_forbidden=False),
        Check(id="serviceaccount.token", needs=("service_account", "version", "leases"),
              run=partial(serviceaccount_token, explicit=explicit_service_account), tolerates=("version", "leases")),
        Check(id="rbac.subjects", needs=("bindings",), run=rbac_subjects),
    ]
    if hook:  # the deployer's permissions and token, and the release's pending state (its own), are not the hook's to judge
        table = [c for c in table if c.id not in ("auth.permissions", "serviceaccount.token")]
    elif release:
        table.append(Check(id="helm.release", needs=("helm_release",),
                           run=partial(helm_release, deploy_window=timedelta(seconds=helm_timeout))))
    if admission:  # the deploy's own objects are known (--manifests, --chart): simulate their admission
        table += admission_checks()
    return table


def admission_checks() -> list[Check]:
    """The simulation's rows, in report order (imported only when the deploy's objects are known)."""
    from .._checks.admission.capacity import admission_capacity
    from .._checks.admission.dry_run import admission_dry_run, admission_pods
    from .._checks.admission.ownership import admission_ownership
    from .._checks.admission.references import admission_references
    from .._checks.admission.webhooks import admission_webhooks

    return [
            Check(id="admission.webhooks", needs=("admission_objects", "admission_webhooks"), run=admission_webhooks),
            Check(id="admission.ownership", needs=("admission_objects", "admission_live"), run=admission_ownership),
            Check(id="admission.dry-run", needs=("admission_objects", "admission_dry_run"), run=admission_dry_run),
            Check(id="admission.references", needs=("admission_objects", "admission_live", "admission_references"),
                  run=admission_references),
            Check(id="admission.pods", needs=("admission_objects", "admission_pods"), run=admission_pods),
            Check(id="admission.capacity", needs=("admission_objects", "admission_live", "admission_pods", "admission_nodes"),
                  run=admission_capacity),
        ]


def _token_ensurer() -> EnsureToken:
    """sa_tokens' ensure, for --ensure-token; imported only when asked for."""
    from sa_tokens._ensure import ensure_token

    def ensure(client: KubeClient, namespace: str, name: str, wait: float) -> object:
        return ensure_token(client, namespace, name, wait=wait)

    return ensure


def wait_for_api(request: CheckRequest) -> bool:
    """--wait-for-api: wait for /version to answer, before the run's own --timeout starts."""
    client = KubeClient(request.target, Deadline(request.wait_for_api))
    try:
        return client.wait_until_reachable(request.wait_for_api)
    finally:
        client.close()


def run_check(request: CheckRequest) -> Report:
    """One run against the live cluster. Raises ConfigError for a missing namespace."""
    target = request.target
    admission = request.simulate and (bool(request.manifest_objects) or request.chart is not None)
    permissions = expand(DEFAULT_DEPLOY)
    options = CheckOptions(
        permissions=tuple(permissions),
        service_account=request.service_account,
        release=request.release,
        helm_driver=request.helm_driver,
        canary_wait=min(15.0, request.timeout / 2),
        ensure_token=_token_ensurer() if request.ensure_token else None,
        manifest_kinds=request.manifest_kinds,
        chart=request.chart,
        manifest_objects=request.manifest_objects,
        helm_major=request.helm_major,
        simulate=admission,
    )
    cleanups = Cleanups()
    collectors = build_collectors(target, options, cleanups)
    if request.node_dir is not None:
        node_dir = request.node_dir
        from .._collect.node import collect_node

        collectors["node"] = lambda facts: collect_node(node_dir, facts.deadline)
    facts = Facts(collectors, Deadline(request.timeout))
    facts.start("namespace")
    policy = Policy(now=request.now, expiry=request.expiry)
    try:
        table = check_table(target, deep=request.deep, release=request.release, node=request.node_dir is not None,
                            explicit_service_account=request.service_account is not None, helm_timeout=request.helm_timeout,
                            admission=admission, hook=request.hook)
        report = run_checks(table, facts, policy=policy)
        exists = facts.get_or_error("namespace")
    finally:
        cleanups.run()
    if exists is False and not request.create_namespace:
        raise ConfigError(
            f"namespace {target.namespace!r} does not exist on {target.cluster.display}",
            fix="create it, pass the right -n, or add --create-namespace as you would to helm",
        )
    client = facts.get_or_error("client")
    probed = not isinstance(facts.get_or_error("probe"), FactError)
    meta = {
        "target": {"context": target.context, "server": target.cluster.display, "namespace": target.namespace},
        "http_requests": client.stats.requests if isinstance(client, KubeClient) else 0,
        "tls_handshakes": (client.tls_handshakes if isinstance(client, KubeClient) else 0) + int(probed),
    }
    return replace(report, meta=meta)
