"""The facts ``preflight check`` gathers, as plain frozen data.

Collectors (``_collectors``) build these from API responses; checks (``_checks``) judge
them; unit tests build them by hand from recorded payloads. Raw Kubernetes objects stay
plain dicts (``KubeObject``): a model class per kind would cost import time for nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._probe import TlsProbe

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
    "Permission",
    "ServerVersion",
    "ServiceAccountFacts",
    "TlsProbe",
    "parse_time",
]

KubeObject = Mapping[str, Any]

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION = "kubernetes.io/service-account.uid"
INVALID_SINCE_LABEL = "kubernetes.io/legacy-token-invalid-since"
LAST_USED_LABEL = "kubernetes.io/legacy-token-last-used"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp from the API (``2026-11-28T20:45:00Z`` or with micros)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True, kw_only=True)
class ServerVersion:
    git_version: str
    major: int
    minor: int
    server_time: datetime | None = None  # the Date header of the /version answer

    @classmethod
    def parse(cls, doc: Mapping[str, Any], *, server_time: datetime | None = None) -> ServerVersion:
        """From /version; tolerates ``v1.27.3-eks-4f4795d`` and ``minor: "21+"`` (GKE, EKS)."""
        git = str(doc.get("gitVersion") or "")
        match = re.match(r"v?(\d+)\.(\d+)", git)
        if match:
            return cls(git_version=git, major=int(match[1]), minor=int(match[2]), server_time=server_time)
        digits = [re.sub(r"\D", "", str(doc.get(k) or "")) for k in ("major", "minor")]
        if all(digits):
            git = git or f"v{digits[0]}.{digits[1]}"
            return cls(git_version=git, major=int(digits[0]), minor=int(digits[1]), server_time=server_time)
        raise ValueError(f"unrecognised server version {git!r}")

    def at_least(self, major: int, minor: int) -> bool:
        return (self.major, self.minor) >= (major, minor)


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
class Identity:
    """Who the API server says we are (SelfSubjectReview)."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    api_version: str = "authentication.k8s.io/v1"

    @property
    def service_account(self) -> tuple[str, str] | None:
        parts = self.username.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            return parts[2], parts[3]
        return None


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
    permission: Permission
    allowed: bool
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class LeaseState:
    name: str
    holder: str
    renew_time: datetime | None
    duration_seconds: int
    acquire_time: datetime | None = None  # when the current holder became leader


@dataclass(frozen=True, kw_only=True)
class Leases:
    """kube-system leader Leases, with the API server's clock at the time of the LIST."""

    items: Mapping[str, LeaseState]
    server_time: datetime


@dataclass(frozen=True, kw_only=True)
class ApiServiceState:
    name: str
    group: str
    version: str
    available: bool
    reason: str = ""
    message: str = ""
    service: str = ""  # namespace/name, "" for local groups


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
    version: int
    status: str
    modified: datetime | None


@dataclass(frozen=True, kw_only=True)
class HelmRelease:
    name: str
    namespace: str
    revisions: tuple[HelmRevision, ...]
    server_time: datetime | None
    driver: str = "secret"

    @property
    def latest(self) -> HelmRevision | None:
        return max(self.revisions, key=lambda r: r.version, default=None)


@dataclass(frozen=True, kw_only=True)
class CanaryResult:
    """``--deep``: did the token controller fill a throwaway token Secret in time?"""

    filled: bool
    waited_seconds: float
    secret: str
    cleaned_up: bool = True
    detail: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
