"""The facts ``preflight check`` gathers, as plain frozen data.

Collectors (``_collectors``) build these from API responses; checks (``_checks``) judge
them; unit tests build them by hand from recorded payloads. Raw Kubernetes objects stay
plain dicts (``KubeObject``): a model class per kind would cost import time for nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kube_client._cluster import (
    SA_NAME_ANNOTATION,
    Identity,
    Leases,
    LeaseState,
    ServerVersion,
    parse_time,
    token_filled,
)


__all__ = [
    "AccessResult",
    "ApiServiceState",
    "Bindings",
    "CanaryResult",
    "Health",
    "HelmRelease",
    "HelmRevision",
    "Identity",
    "KubeObject",
    "LeaseState",
    "Leases",
    "NodeState",
    "Permission",
    "ServerVersion",
    "ServiceAccountFacts",
    "TlsProbe",
    "parse_time",
    "revisions_of",
    "token_filled",
]

KubeObject = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Health:
    """/livez or /readyz?verbose: the status and the names of failing sub-checks."""

    endpoint: str
    status: int
    failing: tuple[str, ...] = ()

    @classmethod
    def parse(cls, endpoint: str, status: int, text: str) -> Health:
        failing = tuple(m[1] for m in re.finditer(r"^\[-\](\S+)", text, re.MULTILINE))
        return cls(endpoint=endpoint, status=status, failing=failing)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True, kw_only=True)
class Permission:
    """One thing a deploy must be allowed to do, and why."""

    verb: str
    resource: str
    group: str = ""
    why: str = ""
    namespace: str = ""  # "" = the deploy's namespace
    cluster_scoped: bool = False

    def __str__(self) -> str:
        where = " (cluster-wide)" if self.cluster_scoped else (f" in {self.namespace}" if self.namespace else "")
        return f"{self.verb} {self.resource}{'.' + self.group if self.group else ''}{where}"


@dataclass(frozen=True, kw_only=True)
class AccessResult:
    """The server's answer to one access review: allowed or not, and why."""

    permission: Permission
    allowed: bool
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ApiServiceState:
    """One APIService and its Available condition."""

    name: str
    group: str
    version: str
    available: bool
    reason: str = ""
    message: str = ""
    service: str = ""  # namespace/name, "" for local groups


@dataclass(frozen=True, kw_only=True)
class NodeState:
    """One Node as the scheduler sees it: its Ready condition, cordon, and the taints that keep
    pods without a toleration off it (NoSchedule, NoExecute)."""

    name: str
    ready: str  # the Ready condition's status: "True", "False", "Unknown", or "" (none yet)
    reason: str = ""  # e.g. NodeStatusUnknown (kubelet stopped posting), KubeletNotReady
    unschedulable: bool = False  # cordoned (spec.unschedulable)
    taints: tuple[str, ...] = ()  # "key:effect", NoSchedule/NoExecute only

    @classmethod
    def parse(cls, node: Mapping[str, Any]) -> NodeState:
        cond: Mapping[str, Any] = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
        spec = node.get("spec") or {}
        taints = tuple(f"{t.get('key')}:{t.get('effect')}" for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute"))
        return cls(name=str((node.get("metadata") or {}).get("name") or ""), ready=str(cond.get("status") or ""),
                   reason=str(cond.get("reason") or ""), unschedulable=bool(spec.get("unschedulable")), taints=taints)

    @property
    def schedulable(self) -> bool:
        """Ready, not cordoned and not tainted: a pod without tolerations can run here."""
        return self.ready == "True" and not self.unschedulable and not self.taints


@dataclass(frozen=True, kw_only=True)
class ServiceAccountFacts:
    """One ServiceAccount (None when missing) and the token Secrets of its namespace."""

    namespace: str
    name: str
    account: KubeObject | None
    token_secrets: tuple[KubeObject, ...] = ()
    # When we may not read ServiceAccounts (typical for a pipeline's own identity) but we
    # authenticate with a long-lived token of this account, the Secret it came from.
    own_token_secret: str = ""

    @property
    def uid(self) -> str:
        return str(((self.account or {}).get("metadata") or {}).get("uid") or "")

    @property
    def listed_secrets(self) -> frozenset[str]:
        return frozenset(str(s.get("name")) for s in (self.account or {}).get("secrets") or [] if isinstance(s, dict))

    def secrets_for_account(self) -> list[KubeObject]:
        """Token Secrets that name this ServiceAccount (any uid)."""
        return [s for s in self.token_secrets if _annotations(s).get(SA_NAME_ANNOTATION) == self.name]


def _annotations(obj: KubeObject) -> Mapping[str, str]:
    return ((obj.get("metadata") or {}).get("annotations")) or {}


@dataclass(frozen=True, kw_only=True)
class Bindings:
    """RoleBindings of the namespace, ClusterRoleBindings, and which ServiceAccounts exist."""

    namespace: str
    role_bindings: tuple[KubeObject, ...]
    cluster_role_bindings: tuple[KubeObject, ...]
    service_accounts: Mapping[str, frozenset[str]]  # namespace -> names, for every referenced namespace
    missing_namespaces: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class HelmRevision:
    """One revision of a Helm release as its storage record says."""

    version: int
    status: str
    modified: datetime | None


@dataclass(frozen=True, kw_only=True)
class HelmRelease:
    """Every stored revision of one Helm release."""

    name: str
    namespace: str
    revisions: tuple[HelmRevision, ...]
    server_time: datetime | None
    driver: str = "secret"

    @property
    def latest(self) -> HelmRevision | None:
        return max(self.revisions, key=lambda r: r.version, default=None)


def revisions_of(items: Iterable[Mapping[str, Any]]) -> tuple[HelmRevision, ...]:
    """Revision numbers, statuses and modification times, from the storage labels alone."""
    out = []
    for item in items:
        labels = (item.get("metadata") or {}).get("labels") or {}
        stamp = labels.get("modifiedAt") or labels.get("createdAt")
        try:
            modified = datetime.fromtimestamp(int(stamp), UTC) if stamp else None
            out.append(HelmRevision(version=int(labels.get("version", 0)), status=str(labels.get("status", "unknown")), modified=modified))
        except (TypeError, ValueError):
            continue
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class CanaryResult:
    """``--deep``: did the token controller fill a throwaway token Secret in time?"""

    filled: bool
    waited_seconds: float
    secret: str
    cleaned_up: bool = True
    detail: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TlsProbe:
    """What one raw TLS handshake with the API server found: timings and the presented chain (DER)."""

    host: str
    port: int
    address: str
    dns_ms: float
    connect_ms: float
    tls_ms: float
    tls_version: str
    chain: tuple[bytes, ...]  # DER, leaf first, as presented
    via: str = ""  # the proxy the connection went through, if any
