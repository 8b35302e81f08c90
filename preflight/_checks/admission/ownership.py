"""``admission.ownership``: an existing object this release does not own, in the words of helm's own
``checkOwnership`` (helm/helm pkg/action/validate.go), which refuses it at install or upgrade.
"""

from __future__ import annotations

from ..._facts.admission import AdmissionObjects
from ..._engine.model import Finding
from ..._facts.admission import LiveObjects
from ..._facts.admission import MANAGED_BY_LABEL
from collections.abc import Mapping
from ..._engine.model import Outcome
from ..._facts.policy import Policy
from ..._facts.admission import RELEASE_NAMESPACE_ANNOTATION
from ..._facts.admission import RELEASE_NAME_ANNOTATION
from .common import _summarize


def _require(meta: Mapping[str, str], key: str, value: str) -> str:
    """helm's requireValue (pkg/action/validate.go), word for word."""
    if key not in meta:
        return f'missing key "{key}": must be set to "{value}"'
    if meta[key] != value:
        return f'key "{key}" must equal "{value}": current value is "{meta[key]}"'
    return ""


def admission_ownership(policy: Policy, admission_objects: AdmissionObjects, admission_live: LiveObjects) -> Finding:
    """helm's checkOwnership (helm v3/v4 pkg/action/validate.go, existingResourceConflict): an object
    that exists must carry app.kubernetes.io/managed-by=Helm and this release's
    meta.helm.sh/release-name and release-namespace, or install/upgrade stops before sending anything."""
    fid = "admission.ownership"
    release, ns = admission_objects.release, admission_objects.namespace
    problems: list[tuple[Outcome, str, str]] = []
    existing = 0
    for obj in admission_objects.objects:
        live = admission_live.get(obj.ref)
        if obj.hooks or live is None:
            continue
        existing += 1
        errors = []
        if e := _require(live.labels, MANAGED_BY_LABEL, "Helm"):
            errors.append(f"label validation error: {e}")
        if release:
            for key, value in ((RELEASE_NAME_ANNOTATION, release), (RELEASE_NAMESPACE_ANNOTATION, ns)):
                if e := _require(live.annotations, key, value):
                    errors.append(f"annotation validation error: {e}")
        elif RELEASE_NAME_ANNOTATION not in live.annotations:
            errors.append(f'annotation validation error: missing key "{RELEASE_NAME_ANNOTATION}": must be set to the release name')
        if not errors:
            continue
        where = f' in namespace "{obj.ref.namespace}"' if obj.ref.namespace else ' in namespace ""'
        kind = obj.ref.kind.lower()
        fix = (f"if it should belong to this release: kubectl{' -n ' + obj.ref.namespace if obj.ref.namespace else ''} label {kind} "
               f"{obj.ref.name} {MANAGED_BY_LABEL}=Helm && kubectl{' -n ' + obj.ref.namespace if obj.ref.namespace else ''} annotate "
               f"{kind} {obj.ref.name} {RELEASE_NAME_ANNOTATION}={release or 'RELEASE'} {RELEASE_NAMESPACE_ANNOTATION}={ns} "
               "(or helm --take-ownership); otherwise rename it in the chart")
        problems.append((Outcome.FAIL, f'{obj.ref}: {obj.ref.kind} "{obj.ref.name}"{where} exists and cannot be imported into the '
                         f"current release: invalid ownership metadata; {'; '.join(errors)}", fix))
    who = f"release {release}" if release else "a Helm release (pass --release to check which)"
    return _summarize(fid, problems, passed=f"{existing} existing object(s), each owned by {who}; the rest are new",
                      evidence={"existing": existing, "release": release})
