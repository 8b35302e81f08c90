"""The facts ``preflight explain`` gathers about one release, as plain frozen data.

``_explain`` collects them (the release record, each of its objects as the server has it now,
and the namespace's pods, ReplicaSets, EndpointSlices and events, the nodes, the leader
Leases); ``_checks.release`` judges them. Kubernetes objects stay plain dicts.

``Scene`` also answers the questions every analyzer asks (who owns what, the newest event
about an object, is a control-plane component down); it stays pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kube_client._cluster import Leases, parse_time, stale_leases
from kube_client._durations import format_age

from .cluster import KubeObject
from .helm import ReleaseRecord, ReleaseResource

__all__ = ["LiveObject", "ReleaseFacts", "Scene", "event_time", "meta"]


def meta(obj: KubeObject | None) -> Mapping[str, Any]:
    return (obj or {}).get("metadata") or {}


@dataclass(frozen=True, kw_only=True)
class LiveObject:
    """One object of the release as the server has it now."""

    resource: ReleaseResource
    namespace: str  # where it lives ("" for cluster-scoped kinds)
    obj: KubeObject | None  # None: absent (404), or not looked at (see ``note``)
    served: bool = True  # False: the server does not serve this kind any more
    note: str = ""  # why it was not looked at, e.g. "forbidden"


@dataclass(frozen=True, kw_only=True)
class ReleaseFacts:
    """The latest revision from Helm's storage, and each of its objects live."""

    record: ReleaseRecord
    objects: tuple[LiveObject, ...]
    server_time: datetime | None = None  # the Date header of the storage LIST


def event_time(event: KubeObject) -> datetime | None:
    """When an event last happened: core/v1 ``lastTimestamp``, else events.k8s.io's
    ``series.lastObservedTime``/``eventTime`` (the scheduler writes those), else creation."""
    series = event.get("series") or {}
    for value in (event.get("lastTimestamp"), series.get("lastObservedTime"), event.get("eventTime"), meta(event).get("creationTimestamp")):
        when = parse_time(value)
        if when is not None:
            return when
    return None


@dataclass(frozen=True, kw_only=True)
class Scene:
    """The namespace and cluster around the release; a tuple is None when it could not be read."""

    now: datetime
    namespace: str
    pods: tuple[KubeObject, ...] | None = ()
    replicasets: tuple[KubeObject, ...] | None = ()
    endpointslices: tuple[KubeObject, ...] | None = ()
    events: tuple[KubeObject, ...] | None = ()
    nodes: tuple[KubeObject, ...] | None = None
    leases: Leases | None = None
    resources: tuple[LiveObject, ...] = field(default_factory=tuple)  # the release's, for Service selectors

    @staticmethod
    def owned_by(uid: str, items: Iterable[KubeObject] | None) -> list[KubeObject]:
        """Items with an ownerReference to ``uid`` (how controllers mark what they made)."""
        if not uid:
            return []
        return [i for i in items or () if any(ref.get("uid") == uid for ref in meta(i).get("ownerReferences") or [])]

    def events_for(self, kind: str, name: str, *, reasons: Iterable[str] = ()) -> list[KubeObject]:
        """Events about one object, newest first, optionally of some reasons only."""
        wanted = set(reasons)
        found = [e for e in self.events or () if (e.get("involvedObject") or {}).get("kind") == kind
                 and (e.get("involvedObject") or {}).get("name") == name and (not wanted or e.get("reason") in wanted)]
        return sorted(found, key=lambda e: event_time(e) or datetime.min.replace(tzinfo=self.now.tzinfo), reverse=True)

    def age(self, obj: KubeObject | None) -> timedelta | None:
        created = parse_time(meta(obj).get("creationTimestamp"))
        return self.now - created if created else None

    def node(self, name: str) -> KubeObject | None:
        return next((n for n in self.nodes or () if meta(n).get("name") == name), None)

    def _down(self, component: str) -> str:
        if self.leases is None:
            return ""
        age = stale_leases(self.leases).get(component)
        if age is None:
            return ""
        lease = self.leases.items[component]
        if not lease.holder:
            return f"{component} released its leader lease {format_age(age)} ago (a stop) and no instance has taken it over"
        return f"{component} has not renewed its leader lease for {format_age(age)}"

    def controller_manager_down(self) -> str:
        """Why no controller runs, or '' when kube-controller-manager renews its lease."""
        why = self._down("kube-controller-manager")
        return f"kube-controller-manager is not running controllers: {why}" if why else ""

    def scheduler_down(self) -> str:
        """Why nothing is scheduled, or '' when kube-scheduler renews its lease."""
        why = self._down("kube-scheduler")
        return f"the scheduler is not running: {why}" if why else ""

    def ready_nodes(self) -> int | None:
        if self.nodes is None:
            return None
        return sum(1 for n in self.nodes if any(c.get("type") == "Ready" and c.get("status") == "True"
                                                for c in (n.get("status") or {}).get("conditions") or []))
