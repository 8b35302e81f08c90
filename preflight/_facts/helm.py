"""Helm's release storage, decoded: one Secret (or ConfigMap) per revision of a release.

Helm 3 and 4 write the same records (helm/helm v3 and v4 ``pkg/storage/driver/secrets.go``
``newSecretsObject``, ``util.go`` ``encodeRelease``/``decodeRelease``): a Secret of type ``helm.sh/release.v1``
named ``sh.helm.release.v1.<release>.v<revision>``, labels ``owner=helm``, ``name``, ``status``,
``version``, ``modifiedAt``, and ``data.release`` = base64(gzip(json(Release))). The API
base64-encodes Secret data once more, so a Secret is decoded twice; a ConfigMap holds the
inner base64 text as is. Records written before helm compressed them are plain JSON inside
the base64 (``decodeRelease`` checks the gzip magic), and so are they here.

Pure functions of API objects: the collectors list the records, these read them.

What this module deliberately does not keep: the release's ``config`` (the user's values,
often secrets) and ``chart`` (templates and default values). Only the manifest's object
identities, the hooks' identities and last runs, and the status line survive decoding.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kube_client._errors import ConfigError

from .manifests import load_objects

__all__ = ["ReleaseRecord", "ReleaseResource", "decode_release", "read_record"]

_GZIP_MAGIC = b"\x1f\x8b\x08"

# Hook events helm runs around each operation (pkg/release/hook.go).
_OPERATION_HOOKS = {
    "install": ("pre-install", "post-install"),
    "upgrade": ("pre-upgrade", "post-upgrade"),
    "rollback": ("pre-rollback", "post-rollback"),
}


def decode_release(item: Mapping[str, Any], *, driver: str = "secrets") -> dict[str, Any]:
    """The Release JSON of one storage object. ConfigError when it is not a Helm record."""
    name = str((item.get("metadata") or {}).get("name") or "?")
    raw = (item.get("data") or {}).get("release")
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{driver} {name} has no data.release: not a Helm release record")
    try:
        data = base64.b64decode(raw, validate=True)
        if driver == "secrets":  # the API's own base64 around helm's
            data = base64.b64decode(data, validate=True)
        if data[:3] == _GZIP_MAGIC:
            data = gzip.decompress(data)
        doc = json.loads(data)
    except (binascii.Error, ValueError, OSError, EOFError, zlib.error):
        raise ConfigError(f"{driver} {name}: data.release is not base64(gzip(JSON)) as helm writes it") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{driver} {name}: data.release is not a Helm release")
    return doc


@dataclass(frozen=True, kw_only=True)
class ReleaseResource:
    """One object of a release: from the manifest, or a hook."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""  # "" when the manifest sets none: the release's, for namespaced kinds
    hook: tuple[str, ...] = ()  # hook events ("pre-install"); () for manifest objects
    hook_phase: str = ""  # last_run.phase: Running, Succeeded, Failed, "" when it never ran
    hook_delete_policies: tuple[str, ...] = ()
    template_labels: Mapping[str, str] | None = None  # a workload's pod template labels (Service selectors)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    def describe(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True, kw_only=True)
class ReleaseRecord:
    """One revision's storage record, decoded: status and the resources it deploys, in order."""

    name: str
    namespace: str
    revision: int
    status: str
    description: str
    operation: str  # install, upgrade or rollback: which hooks ran for this revision
    resources: tuple[ReleaseResource, ...]  # pre-hooks, manifest (helm's install order), post-hooks
    last_deployed: datetime | None = None
    chart: str = ""  # name-version, for the report


def _operation(revision: int, status: str, description: str) -> str:
    # helm's descriptions: "Install complete", "Upgrade complete", "Rollback to 3", and on
    # failure "Release %q failed: ..." (install) / "Upgrade %q failed: ..." (pkg/action).
    if status == "pending-rollback" or description.startswith("Rollback"):
        return "rollback"
    if status == "pending-install" or revision <= 1:
        return "install"
    return "upgrade"


def _labels(template: Mapping[str, Any]) -> dict[str, str] | None:
    spec = template.get("spec") or {}
    tmpl = (spec.get("jobTemplate") or {}).get("spec", {}).get("template") if template.get("kind") == "CronJob" else spec.get("template")
    labels = ((tmpl or {}).get("metadata") or {}).get("labels") if isinstance(tmpl, Mapping) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else None


def _resources(text: str, source: str, **extra: Any) -> list[ReleaseResource]:
    out = []
    for obj in load_objects(text or "", source=source):
        meta = obj.get("metadata") or {}
        if not isinstance(meta, Mapping) or not meta.get("name"):
            continue
        out.append(ReleaseResource(api_version=str(obj["apiVersion"]), kind=str(obj["kind"]), name=str(meta["name"]),
                                   namespace=str(meta.get("namespace") or ""), template_labels=_labels(obj), **extra))
    return out


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or value.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_record(doc: Mapping[str, Any], *, release: str, namespace: str) -> ReleaseRecord:
    """The objects and hooks of one decoded Release, ordered as helm ran them."""
    info = doc.get("info") or {}
    revision = int(doc.get("version") or 0)
    status, description = str(info.get("status") or "unknown"), str(info.get("description") or "")
    operation = _operation(revision, status, description)
    source = f"release {release} revision {revision}"
    pre, post = _OPERATION_HOOKS[operation]
    before: list[tuple[int, str, ReleaseResource]] = []
    after: list[tuple[int, str, ReleaseResource]] = []
    for hook in doc.get("hooks") or []:
        events = tuple(str(e) for e in hook.get("events") or [])
        if pre not in events and post not in events:
            continue  # test, delete and other operations' hooks did not run for this revision
        phase = str((hook.get("last_run") or {}).get("phase") or "")
        for res in _resources(str(hook.get("manifest") or ""), source, hook=events, hook_phase="" if phase == "Unknown" else phase,
                              hook_delete_policies=tuple(str(p) for p in hook.get("delete_policies") or [])):
            # helm runs hooks by weight, then name (pkg/action/hooks.go)
            (before if pre in events else after).append((int(hook.get("weight") or 0), res.name, res))
    resources = [r for *_, r in sorted(before, key=lambda t: t[:2])]
    resources += _resources(str(doc.get("manifest") or ""), source)  # written in install order (releaseutil.SortManifests)
    resources += [r for *_, r in sorted(after, key=lambda t: t[:2])]
    chart = (doc.get("chart") or {}).get("metadata") or {}
    return ReleaseRecord(
        name=release, namespace=str(doc.get("namespace") or namespace), revision=revision, status=status,
        description=" ".join(description.split())[:400], operation=operation, resources=tuple(resources),
        last_deployed=_parse_time(info.get("last_deployed")),
        chart=f"{chart.get('name')}-{chart.get('version')}" if chart.get("name") else "",
    )
