"""The admission simulation's facts, as frozen data, plus the pure helpers both sides share.

Collectors (``preflight/_collect/admission.py``) build these from the rendered chart and the
API server's answers; judges (``preflight/_checks/admission``) read them; unit tests build
them by hand. Nothing here does I/O.

Helm's order is modelled on helm v3/v4 ``pkg/release/util/kind_sorter.go`` (InstallOrder) and
``pkg/action/hooks.go`` (hooks sorted by weight, then kind order, then name).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .cluster import KubeObject

__all__ = [
    "HELM_INSTALL_ORDER",
    "MANAGED_BY_LABEL",
    "RELEASE_NAME_ANNOTATION",
    "RELEASE_NAMESPACE_ANNOTATION",
    "AdmissionObjects",
    "CapacityFacts",
    "ChartObject",
    "DryRun",
    "LiveMeta",
    "LiveObjects",
    "NodeInfo",
    "ObjectRef",
    "PodDryRun",
    "ReferenceFacts",
    "Webhook",
    "WebhookFacts",
    "hook_phases",
    "hook_weight",
    "parse_quantity",
    "pod_requests",
    "pod_template",
    "replicas_of",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"
RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"
HOOK_ANNOTATION = "helm.sh/hook"
HOOK_WEIGHT_ANNOTATION = "helm.sh/hook-weight"

# helm pkg/release/util/kind_sorter.go InstallOrder; unknown kinds go last, by name
HELM_INSTALL_ORDER = (
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList",
    "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
    "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
)

# kinds whose pod template becomes Pods, and where the template is
_TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


@dataclass(frozen=True, kw_only=True, order=True)
class ObjectRef:
    """One object of the chart, as a finding names it: ``Kind/name`` (namespace when not the deploy's)."""

    kind: str
    name: str
    namespace: str = ""  # "" for a cluster-scoped object
    api_version: str = ""

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.api_version}|{self.kind}|{self.namespace}|{self.name}"


@dataclass(frozen=True, kw_only=True)
class ChartObject:
    """A rendered object, where the server keeps it, and when Helm sends it."""

    ref: ObjectRef
    body: KubeObject
    resource: str = ""  # "" when the server does not serve the kind (auth.permissions reports that)
    namespaced: bool = True
    hooks: tuple[str, ...] = ()  # helm.sh/hook phases, e.g. ("pre-install", "pre-upgrade")
    weight: int = 0  # helm.sh/hook-weight

    @property
    def labels(self) -> Mapping[str, str]:
        return ((self.body.get("metadata") or {}).get("labels")) or {}

    def created_before(self, user: ChartObject, phase: str) -> bool:
        """Does Helm create this object before ``user`` runs in ``phase`` ("" for a normal
        resource, else a hook phase such as "pre-install")?

        Normal resources come after the pre-* hooks and before the post-* hooks. Hooks of one
        phase are created one by one, sorted by weight, then kind order, then name."""
        operation = phase.partition("-")[2]
        if not phase:  # a normal resource's pods: other normal resources and the pre-hooks are there
            return not self.hooks or any(h.startswith("pre-") for h in self.hooks)
        if phase.startswith("pre-"):
            return phase in self.hooks and _hook_key(self) < _hook_key(user)
        return (not self.hooks or f"pre-{operation}" in self.hooks
                or (phase in self.hooks and _hook_key(self) < _hook_key(user)))


def _kind_rank(kind: str) -> int:
    return HELM_INSTALL_ORDER.index(kind) if kind in HELM_INSTALL_ORDER else len(HELM_INSTALL_ORDER)


def _hook_key(obj: ChartObject) -> tuple[int, int, str, str]:
    return (obj.weight, _kind_rank(obj.ref.kind), obj.ref.kind if _kind_rank(obj.ref.kind) == len(HELM_INSTALL_ORDER) else "",
            obj.ref.name)


def hook_phases(body: KubeObject) -> tuple[str, ...]:
    raw = str(((body.get("metadata") or {}).get("annotations") or {}).get(HOOK_ANNOTATION) or "")
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def hook_weight(body: KubeObject) -> int:
    raw = str(((body.get("metadata") or {}).get("annotations") or {}).get(HOOK_WEIGHT_ANNOTATION) or "0")
    try:
        return int(raw.strip())
    except ValueError:
        return 0


def pod_template(body: KubeObject) -> KubeObject | None:
    """The pod template of a workload kind, else None."""
    path = _TEMPLATE_PATHS.get(str(body.get("kind")))
    node: Any = body
    for step in path or ():
        node = node.get(step) if isinstance(node, Mapping) else None
    return node if path and isinstance(node, Mapping) else None


def replicas_of(body: KubeObject) -> int:
    """How many Pods the workload wants at once (DaemonSet: one per eligible node, counted as 1)."""
    spec = body.get("spec") or {}
    kind = body.get("kind")
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        value = spec.get("replicas", 1)
    elif kind == "Job":
        value = spec.get("parallelism", 1)
        if spec.get("completions") is not None:
            value = min(int(value or 0), int(spec["completions"] or 0))
    else:
        value = 1
    try:
        return max(0, int(value if value is not None else 1))
    except (TypeError, ValueError):
        return 1


@dataclass(frozen=True, kw_only=True)
class AdmissionObjects:
    """The chart's objects and how this deploy sends them."""

    objects: tuple[ChartObject, ...]
    namespace: str  # the deploy's namespace
    namespace_exists: bool = True
    release: str = ""  # "" when unknown (--manifests without --release)
    helm_major: int = 3

    def find(self, kind: str, name: str, namespace: str) -> ChartObject | None:
        return next((o for o in self.objects if o.ref.kind == kind and o.ref.name == name
                     and o.ref.namespace in (namespace, "")), None)


@dataclass(frozen=True, kw_only=True)
class LiveMeta:
    """What is already in the cluster under an object's name (metadata only)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class LiveObjects:
    existing: Mapping[str, LiveMeta]  # ObjectRef.key -> metadata, for objects that exist

    def get(self, ref: ObjectRef) -> LiveMeta | None:
        return self.existing.get(ref.key)


@dataclass(frozen=True, kw_only=True)
class DryRun:
    """One server-side dry-run (``dryRun=All``): what was sent and what the server said."""

    ref: ObjectRef
    verb: str  # "create" (POST), "patch" (strategic/merge patch), "apply" (server-side apply)
    status: int = 0  # HTTP status; 0 when no answer
    ok: bool = False
    message: str = ""  # the server's own message (Status.message), or why there was no answer
    reason: str = ""  # Status.reason: Forbidden, Invalid, Conflict, InternalError, ...
    answered: bool = True  # False: timeout, unreachable, 429/5xx not from a webhook: we do not know
    admitted: KubeObject | None = None  # the object as the server would store it (pods: after LimitRange)
    warnings: tuple[str, ...] = ()

    @property
    def unsimulatable(self) -> bool:
        """A webhook whose sideEffects forbid dry-run refused to be called: cannot simulate, not a failure."""
        return not self.ok and "does not support dry run" in self.message


@dataclass(frozen=True, kw_only=True)
class PodDryRun:
    """The Pod a workload's template makes, dry-run as the controller would create it."""

    owner: ChartObject
    result: DryRun
    replicas: int = 1
    substituted_account: str = ""  # the chart's own ServiceAccount does not exist yet: sent as this one


@dataclass(frozen=True, kw_only=True)
class Webhook:
    """One webhook of a Validating/MutatingWebhookConfiguration, with its service's state."""

    configuration: str
    name: str
    mutating: bool = False
    failure_policy: str = "Fail"
    side_effects: str = ""
    rules: tuple[Mapping[str, Any], ...] = ()
    namespace_selector: Mapping[str, Any] | None = None
    object_selector: Mapping[str, Any] | None = None
    has_match_conditions: bool = False
    service: str = ""  # namespace/name, "" when it calls a URL
    service_exists: bool | None = None  # None: not looked (a URL, or not allowed)
    ready_endpoints: int | None = None  # None: not looked

    @property
    def kind(self) -> str:
        return "MutatingWebhookConfiguration" if self.mutating else "ValidatingWebhookConfiguration"


@dataclass(frozen=True, kw_only=True)
class WebhookFacts:
    webhooks: tuple[Webhook, ...]
    namespace_labels: Mapping[str, Mapping[str, str]]  # namespace -> its labels, for namespaceSelector


@dataclass(frozen=True, kw_only=True)
class NodeInfo:
    name: str
    ready: bool
    unschedulable: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Mapping[str, Any], ...] = ()
    allocatable: Mapping[str, int] = field(default_factory=dict)  # cpu in millicores, memory and others in units, pods
    requested: Mapping[str, int] = field(default_factory=dict)  # by the pods bound to it that are not finished


@dataclass(frozen=True, kw_only=True)
class CapacityFacts:
    nodes: tuple[NodeInfo, ...]


@dataclass(frozen=True, kw_only=True)
class ReferenceFacts:
    """Names that exist now, per namespace; None for a kind we were not allowed to list."""

    secrets: Mapping[str, frozenset[str] | None]
    service_accounts: Mapping[str, frozenset[str] | None]
    config_maps: Mapping[str, frozenset[str] | None]
    claims: Mapping[str, frozenset[str] | None]
    storage_classes: Mapping[str, bool] | None  # name -> is the default class; None: not allowed to list


# -- quantities -----------------------------------------------------------------------------

_SUFFIX: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse_quantity(value: object, *, milli: bool = False) -> int:
    """A Kubernetes quantity as an int (``milli``: in thousandths, for cpu); 0 when unreadable."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return 0
    try:
        number = Decimal(match[1]) * Decimal(_SUFFIX[match[2] or ""])
    except InvalidOperation:
        return 0
    if milli:
        number *= 1000
    return int(number.to_integral_value(rounding="ROUND_CEILING"))


def _resource_amount(name: str, value: object) -> int:
    return parse_quantity(value, milli=name == "cpu" or name.endswith(".cpu"))


def pod_requests(spec: KubeObject) -> dict[str, int]:
    """What a Pod asks the scheduler for: max(sum of containers, any init container) + overhead,
    as the scheduler computes it (resource helpers' PodRequests); a container with limits but
    no requests requests its limits (API defaulting)."""

    def requests_of(container: Mapping[str, Any]) -> dict[str, int]:
        resources = container.get("resources") or {}
        asked = dict(resources.get("limits") or {}) | dict(resources.get("requests") or {})
        return {k: _resource_amount(k, v) for k, v in asked.items()}

    total: dict[str, int] = {}
    for container in spec.get("containers") or []:
        for k, v in requests_of(container).items():
            total[k] = total.get(k, 0) + v
    for container in spec.get("initContainers") or []:
        if container.get("restartPolicy") == "Always":  # a sidecar runs alongside: it adds up
            for k, v in requests_of(container).items():
                total[k] = total.get(k, 0) + v
            continue
        for k, v in requests_of(container).items():
            total[k] = max(total.get(k, 0), v)
    for k, v in (spec.get("overhead") or {}).items():
        total[k] = total.get(k, 0) + _resource_amount(k, v)
    return total


def iter_pod_specs(objects: AdmissionObjects) -> Iterator[tuple[ChartObject, KubeObject]]:
    for obj in objects.objects:
        template = pod_template(obj.body)
        if template is not None:
            yield obj, template.get("spec") or {}
