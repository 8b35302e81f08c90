"""The kinds a deploy will create, from rendered manifests (``helm template ... > out.yaml``).

Read offline: ``read_manifests`` returns one ``ManifestKind`` per distinct (apiVersion, kind,
namespace). Mapping a kind to its REST resource needs the server's discovery documents; the
``discovery`` collector fetches only the group-versions the manifests use, and
``permissions_for`` turns the result into SelfSubjectAccessReview questions. A group-version
or kind the server does not serve (a removed API version) is reported as such: Helm would
fail on it mid-upgrade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from kube_client._errors import ConfigError
from kube_client._yamlsafe import check_aliases

from .cluster import Permission
from .permissions import HELM_STORAGE, expand

__all__ = ["DiscoveredKind", "ManifestKind", "kinds_of", "load_objects", "objects_of", "parse_manifests", "permissions_for"]

# What Helm 3 does to the objects of a release: create, read for the three-way merge, patch on
# upgrade, delete when removed or rolled back.
_VERBS = ("get", "create", "patch", "delete")


@dataclass(frozen=True, kw_only=True)
class ManifestKind:
    """The kind of one object a deploy sends, and the namespace it goes to."""

    api_version: str  # "apps/v1", "v1"
    kind: str
    namespace: str = ""  # set explicitly in the manifest, else the deploy's namespace

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


@dataclass(frozen=True, kw_only=True)
class DiscoveredKind:
    """A manifest kind as the server serves it: its resource name and scope."""

    kind: ManifestKind
    resource: str = ""  # "" when the server does not serve this kind
    namespaced: bool = True


def _documents(doc: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(doc, dict):
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                yield from _documents(item)
        else:
            yield doc


def objects_of(docs: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The Kubernetes objects among parsed YAML documents, ``List`` kinds unpacked."""
    return _objects(docs)


def _objects(docs: Iterable[Any]) -> list[Mapping[str, Any]]:
    return [obj for doc in docs for obj in _documents(doc)
            if isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str)]


def load_objects(text: str, *, source: str) -> list[Mapping[str, Any]]:
    """The Kubernetes objects (mappings with a string apiVersion and kind) of a multi-document
    YAML text, ``List`` kinds unpacked. Shared by --manifests, --chart and explain."""
    try:
        docs = [check_aliases(doc, source=source) for doc in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))]  # noqa: S506
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        raise ConfigError(f"not valid YAML ({type(exc).__name__})", source=source, fix="pass the output of helm template") from None
    return _objects(docs)


def parse_manifests(text: str, *, source: str) -> tuple[ManifestKind, ...]:
    """Distinct kinds in a multi-document YAML text; ``source`` names it in errors."""
    return kinds_of(load_objects(text, source=source), source=source)


def kinds_of(docs: Iterable[Any], *, source: str) -> tuple[ManifestKind, ...]:
    """Distinct (apiVersion, kind, namespace) of already parsed YAML documents."""
    kinds: dict[tuple[str, str, str], ManifestKind] = {}
    for obj in _objects(docs):
        api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
        metadata = obj.get("metadata") or {}
        namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        if not isinstance(metadata, Mapping) or not isinstance(namespace, str | None):
            # the API server refuses these too (metadata is an ObjectMeta); say which object
            raise ConfigError(f"{kind} {api_version}: metadata must be a mapping with a string namespace", source=source,
                              fix="fix the template, or pass the output of helm template")
        namespace = namespace or ""
        kinds.setdefault((api_version, kind, namespace), ManifestKind(api_version=api_version, kind=kind, namespace=namespace))
    if not kinds:
        raise ConfigError("holds no Kubernetes objects", source=source, fix="pass the output of helm template")
    return tuple(kinds.values())


def permissions_for(discovered: Iterable[DiscoveredKind]) -> list[Permission]:
    """What a Helm deploy of these kinds must be allowed to do, plus Helm's release storage."""
    rows: list[tuple[str, str, tuple[str, ...], str]] = list(HELM_STORAGE)
    extra: list[Permission] = []
    for d in discovered:
        if not d.resource:
            continue
        why = f"the chart has {d.kind.kind} ({d.kind.api_version})"
        if d.namespaced and not d.kind.namespace:
            rows.append((d.kind.group, d.resource, _VERBS, why))
        else:
            scope = d.kind.namespace if d.namespaced else ""
            extra += [Permission(verb=v, resource=d.resource, group=d.kind.group, why=why, namespace=scope, cluster_scoped=not d.namespaced)
                      for v in _VERBS]
    seen = {(p.verb, p.resource, p.group, p.namespace, p.cluster_scoped) for p in expand(rows)}
    return expand(rows) + [p for p in dict.fromkeys(extra) if (p.verb, p.resource, p.group, p.namespace, p.cluster_scoped) not in seen]
