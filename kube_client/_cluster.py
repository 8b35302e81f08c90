"""The few reads of cluster state both packages need, and the Kubernetes semantics behind them.

Server version, the caller's identity (SelfSubjectReview), the controller-manager's and
scheduler's leader Leases, and what makes a legacy token Secret usable. ``preflight`` judges
these; ``sa_tokens`` uses them to explain why a token does not appear.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from ._shapes import Lease, LeaseSpec, ObjectList, SelfSubjectReview, UserInfo
from ._errors import ClusterError, NotFoundError, not_kubernetes

if TYPE_CHECKING:  # the data types here are facts judges import: they must not load the HTTP client
    from ._http import KubeClient

__all__ = [
    "INVALID_SINCE_LABEL",
    "LAST_USED_LABEL",
    "LEADER_LEASES",
    "SA_NAME_ANNOTATION",
    "SA_TOKEN_TYPE",
    "SA_UID_ANNOTATION",
    "Identity",
    "LeaseState",
    "Leases",
    "ServerVersion",
    "parse_time",
    "read_identity",
    "read_leases",
    "read_version",
    "lease_duration",
    "stale_leases",
    "token_filled",
]

LEADER_LEASES = ("kube-controller-manager", "kube-scheduler")

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION = "kubernetes.io/service-account.uid"
INVALID_SINCE_LABEL = "kubernetes.io/legacy-token-invalid-since"
LAST_USED_LABEL = "kubernetes.io/legacy-token-last-used"

# The token controller writes all three keys in one update (pkg/controller/serviceaccount/
# tokens_controller.go, generateTokenIfNeeded); a Secret missing any of them is not yet usable
# as a kubeconfig credential, which needs the CA and namespace beside the token.
TOKEN_KEYS = ("token", "ca.crt", "namespace")


def token_filled(secret: Mapping[str, Any]) -> bool:
    """True when the token controller has filled a ``kubernetes.io/service-account-token`` Secret."""
    data = secret.get("data") or {}
    return isinstance(data, Mapping) and all(data.get(k) for k in TOKEN_KEYS)


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
    """The API server's /version, and its clock when it answered."""

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
class LeaseState:
    """A leader-election Lease: who holds it and when it was last renewed."""

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


def _server_time(resp_date: datetime | None) -> datetime:
    return resp_date or datetime.now(UTC)


def read_version(client: KubeClient) -> ServerVersion:
    """/version, which every kube-apiserver serves: a 404 there, or an answer without a
    ``gitVersion``, means something else answers at this address."""
    try:
        resp = client.request("GET", "/version", lane="health")
    except NotFoundError:
        raise not_kubernetes(client.where, "GET /version with HTTP 404") from None
    if not (resp.data or {}).get("gitVersion"):
        raise not_kubernetes(client.where, "GET /version without a gitVersion")
    return ServerVersion.parse(resp.data or {}, server_time=resp.date)


def read_identity(client: KubeClient) -> Identity:
    """SelfSubjectReview, as kubectl auth whoami: v1, then v1beta1 (GA in 1.28, beta 1.27)."""
    last: ClusterError | None = None
    for version in ("v1", "v1beta1"):
        api = f"authentication.k8s.io/{version}"
        try:
            resp = client.post(f"/apis/{api}/selfsubjectreviews", {"apiVersion": api, "kind": "SelfSubjectReview"})
        except NotFoundError as exc:
            last = exc
            continue
        review = cast(SelfSubjectReview, resp.data or {})
        info: UserInfo = (review.get("status") or {}).get("userInfo") or {}
        return Identity(username=str(info.get("username", "")), groups=tuple(info.get("groups") or ()), uid=str(info.get("uid", "")), api_version=api)
    assert last is not None
    raise last


def read_leases(client: KubeClient) -> Leases:
    """The controller-manager and scheduler leader Leases, with the server's clock (Date)."""
    resp = client.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases")
    listed = cast(ObjectList[Lease], resp.data or {})
    items = {}
    for item in listed.get("items") or []:  # a field the server sends may still be null: Go marshals a nil slice so
        name = (item.get("metadata") or {}).get("name", "")
        if name in LEADER_LEASES:
            spec: LeaseSpec = item.get("spec") or {}
            items[name] = LeaseState(
                name=name,
                holder=str(spec.get("holderIdentity") or ""),
                renew_time=parse_time(spec.get("renewTime")),
                duration_seconds=int(spec.get("leaseDurationSeconds") or 15),
                acquire_time=parse_time(spec.get("acquireTime")),
            )
    return Leases(items=items, server_time=_server_time(resp.date))


# renewTime is written every ~2 s (retry period); allow the Date header's 1 s resolution and
# a little API latency before calling a lease stale.
STALE_MARGIN = timedelta(seconds=5)


# A leader that stops gracefully *releases* its lease: client-go's release() writes an empty
# holder and leaseDurationSeconds: 1 (tools/leaderelection/leaderelection.go, ReleaseOnCancel;
# kube-scheduler does this, kube-controller-manager only with its ReleaseLeaderElectionLockOnExit
# gate). A successor can take a released lease at once, so the clock runs from the release, on
# the components' default lease duration rather than on that 1 s.
DEFAULT_LEASE = timedelta(seconds=15)


def lease_duration(lease: LeaseState) -> timedelta:
    return timedelta(seconds=lease.duration_seconds) if lease.holder else DEFAULT_LEASE


def stale_leases(leases: Leases) -> dict[str, timedelta]:
    """Component -> how long its lease has gone unrenewed, for the stale ones."""
    out = {}
    for name, lease in leases.items.items():
        if lease.renew_time is None:
            continue
        age = leases.server_time - lease.renew_time
        if age > lease_duration(lease) + STALE_MARGIN:
            out[name] = age
    return out
