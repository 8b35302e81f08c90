"""``admission.references``: pull secrets, StorageClasses, and the ServiceAccounts, ConfigMaps, Secrets and claims
pods use, each of which must exist already or be created by a hook that runs earlier.
"""

from __future__ import annotations

from ..._facts.admission import AdmissionObjects
from typing import Any
from ..._facts.admission import ChartObject
from ..._engine.model import Finding
from ..._facts.admission import LiveObjects
from collections.abc import Mapping
from ..._engine.model import Outcome
from ..._facts.policy import Policy
from ..._facts.admission import ReferenceFacts
from .common import _summarize
from ..._facts.admission import pod_template


def _phases(obj: ChartObject) -> list[str]:
    if not obj.hooks:
        return [""]
    return [h for h in obj.hooks if h.startswith(("pre-", "post-"))] or []


def _pod_references(spec: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, name, how it is used) for what must exist before the Pod can run; optional ones left out."""
    refs = [("ServiceAccount", str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"), "its ServiceAccount")]
    refs += [("Secret", str(s.get("name")), "imagePullSecrets") for s in spec.get("imagePullSecrets") or [] if s.get("name")]
    for vol in spec.get("volumes") or []:
        if (cm := vol.get("configMap")) and not cm.get("optional"):
            refs.append(("ConfigMap", str(cm.get("name")), f"volume {vol.get('name')}"))
        if (sec := vol.get("secret")) and not sec.get("optional"):
            refs.append(("Secret", str(sec.get("secretName")), f"volume {vol.get('name')}"))
        if pvc := vol.get("persistentVolumeClaim"):
            refs.append(("PersistentVolumeClaim", str(pvc.get("claimName")), f"volume {vol.get('name')}"))
        for source in (vol.get("projected") or {}).get("sources") or []:
            if (cm := source.get("configMap")) and not cm.get("optional"):
                refs.append(("ConfigMap", str(cm.get("name")), f"volume {vol.get('name')}"))
            if (sec := source.get("secret")) and not sec.get("optional"):
                refs.append(("Secret", str(sec.get("name")), f"volume {vol.get('name')}"))
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if (cm := source.get("configMapKeyRef")) and not cm.get("optional"):
                refs.append(("ConfigMap", str(cm.get("name")), f"env {env.get('name')} of container {container.get('name')}"))
            if (sec := source.get("secretKeyRef")) and not sec.get("optional"):
                refs.append(("Secret", str(sec.get("name")), f"env {env.get('name')} of container {container.get('name')}"))
        for env_from in container.get("envFrom") or []:
            if (cm := env_from.get("configMapRef")) and not cm.get("optional"):
                refs.append(("ConfigMap", str(cm.get("name")), f"envFrom of container {container.get('name')}"))
            if (sec := env_from.get("secretRef")) and not sec.get("optional"):
                refs.append(("Secret", str(sec.get("name")), f"envFrom of container {container.get('name')}"))
    return list(dict.fromkeys(refs))


_CONSEQUENCE = {
    "ServiceAccount": "admission refuses its Pods",
    "Secret": "its Pods cannot start (ContainerCreating, or ErrImagePull for a private image)",
    "ConfigMap": "its Pods cannot start (ContainerCreating: the volume or env cannot be set up)",
    "PersistentVolumeClaim": "its Pods stay Pending",
}


def admission_references(policy: Policy, admission_objects: AdmissionObjects, admission_live: LiveObjects,
                         admission_references: ReferenceFacts) -> Finding:
    fid = "admission.references"
    refs = admission_references
    known = {"ServiceAccount": refs.service_accounts, "Secret": refs.secrets, "ConfigMap": refs.config_maps,
             "PersistentVolumeClaim": refs.claims}
    problems: list[tuple[Outcome, str, str]] = []
    unknown: set[str] = set()
    checked = 0
    for owner in admission_objects.objects:
        template = pod_template(owner.body)
        if template is None:
            continue
        ns = owner.ref.namespace
        for kind, name, how in _pod_references(template.get("spec") or {}):
            names = known[kind].get(ns)
            if names is None:
                unknown.add(f"{kind}s in {ns}")
                continue
            checked += 1
            if name in names:
                continue
            maker = admission_objects.find(kind, name, ns)
            for phase in _phases(owner):
                if maker is not None and maker.created_before(owner, phase):
                    continue
                role = f" ({phase} hook)" if phase else ""
                if maker is not None:
                    made = ("as a normal resource, only after the pre-* hooks" if not maker.hooks else
                            f"as a {','.join(maker.hooks)} hook with weight {maker.weight}, not before this one (weight {owner.weight})")
                    problems.append((Outcome.FAIL,
                                     f"{owner.ref}{role} uses {kind} {name} ({how}), which does not exist yet and the chart creates "
                                     f"{made}: {_CONSEQUENCE[kind]} and helm waits until its timeout",
                                     f"make {kind} {name} a {phase or 'pre-install,pre-upgrade'} hook with a lower helm.sh/hook-weight "
                                     f"than {owner.ref} (e.g. \"-10\"), or use one that exists"))
                else:
                    problems.append((Outcome.FAIL, f"{owner.ref}{role} uses {kind} {name} ({how}), which does not exist in {ns} "
                                     f"and the chart does not create: {_CONSEQUENCE[kind]}",
                                     f"create {kind} {name} in {ns} first, or fix the name in the chart's values"))
                break
    problems += _storage_class_problems(admission_objects, admission_live, refs)
    if unknown:
        problems.append((Outcome.WARN, f"not checked, not allowed to list: {', '.join(sorted(unknown))}",
                         "grant list on them to check the references"))
    return _summarize(fid, problems, passed=f"{checked} reference(s) from pod templates and claims exist, or the chart creates them in time",
                      evidence={"checked": checked})


def _claims(admission_objects: AdmissionObjects, live: LiveObjects) -> list[tuple[ChartObject, Mapping[str, Any], str]]:
    out: list[tuple[ChartObject, Mapping[str, Any], str]] = []
    for obj in admission_objects.objects:
        if obj.ref.kind == "PersistentVolumeClaim" and live.get(obj.ref) is None:
            out.append((obj, obj.body.get("spec") or {}, f"{obj.ref}"))
        if obj.ref.kind == "StatefulSet":
            for t in (obj.body.get("spec") or {}).get("volumeClaimTemplates") or []:
                out.append((obj, t.get("spec") or {}, f"{obj.ref} volumeClaimTemplate {(t.get('metadata') or {}).get('name')}"))
    return out


def _storage_class_problems(admission_objects: AdmissionObjects, live: LiveObjects, refs: ReferenceFacts) -> list[tuple[Outcome, str, str]]:
    claims = _claims(admission_objects, live)
    if not claims:
        return []
    classes = refs.storage_classes
    if classes is None:
        return [(Outcome.WARN, "not checked, not allowed to list StorageClasses: the chart's claims' classes", "grant list on storageclasses")]
    defaults = sorted(n for n, d in classes.items() if d)
    problems: list[tuple[Outcome, str, str]] = []
    for _owner, spec, who in claims:
        wanted = spec.get("storageClassName")
        if wanted == "":
            continue  # explicitly no class: binds to a pre-created PersistentVolume
        if wanted is None:
            if not defaults:
                problems.append((Outcome.WARN, f"{who} names no storageClassName and the cluster has no default StorageClass: it binds "
                                 "only to a pre-created PersistentVolume, else stays Pending",
                                 "set storageClassName, or mark a StorageClass default (storageclass.kubernetes.io/is-default-class)"))
            continue
        if str(wanted) not in classes and admission_objects.find("StorageClass", str(wanted), "") is None:
            problems.append((Outcome.FAIL, f"{who} uses storageClassName {wanted}, which does not exist: the claim stays Pending",
                             f"use one of: {', '.join(sorted(classes)) or 'none exists'}"))
    return problems
