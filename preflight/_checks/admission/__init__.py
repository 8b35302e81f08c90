"""admission.*: would the cluster admit, and then run, what this chart deploys?

Pure judges of the simulation's facts (``preflight/_facts/admission.py``); the collectors
(``preflight/_collect/admission.py``) did the dry-runs and reads. In report order, root causes
first:

- ``admission.webhooks``   a fail-closed webhook that intercepts the chart's objects (or their
                           Pods) and whose service does not exist or has no ready endpoint;
                           a webhook whose sideEffects forbid dry-run: cannot simulate (warn)
- ``admission.ownership``  an existing object this release does not own (helm's checkOwnership)
- ``admission.dry-run``    the objects as helm sends them: validation, immutable fields, quota,
                           LimitRange, webhooks' refusals, server-side apply conflicts
- ``admission.pods``       the Pods the pod templates make: PodSecurity, pod quota, LimitRange
- ``admission.references`` pull secrets, StorageClasses, and the accounts, ConfigMaps, Secrets
                           and claims pods use, including a hook's that the chart creates too late
- ``admission.capacity``   is there a Ready node with room for the requests (a warning when
                           only the room is missing: the scheduler is the final judge)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..._engine.model import Finding, Outcome
from ..._engine.runner import Check
from ..._facts.admission import (
    MANAGED_BY_LABEL,
    RELEASE_NAME_ANNOTATION,
    RELEASE_NAMESPACE_ANNOTATION,
    AdmissionObjects,
    CapacityFacts,
    ChartObject,
    DryRun,
    LiveObjects,
    NodeInfo,
    PodDryRun,
    ReferenceFacts,
    Webhook,
    WebhookFacts,
    pod_requests,
    pod_template,
)
from ..._facts.policy import Policy

__all__ = [
    "ADMISSION_IDS",
    "admission_capacity",
    "admission_checks",
    "admission_dry_run",
    "admission_ownership",
    "admission_pods",
    "admission_references",
    "admission_webhooks",
    "label_selector_matches",
]

ADMISSION_IDS = ("admission.webhooks", "admission.ownership", "admission.dry-run", "admission.references",
                 "admission.pods", "admission.capacity")
_SHOWN = 3  # problems spelled out in a message; evidence lists them all


def admission_checks() -> list[Check]:
    """The rows of the check table, in report order (only when the deploy's manifests are known)."""
    return [
        Check(id="admission.webhooks", needs=("admission_objects", "admission_webhooks"), run=admission_webhooks),
        Check(id="admission.ownership", needs=("admission_objects", "admission_live"), run=admission_ownership),
        Check(id="admission.dry-run", needs=("admission_objects", "admission_dry_run"), run=admission_dry_run),
        Check(id="admission.references", needs=("admission_objects", "admission_live", "admission_references"), run=admission_references),
        Check(id="admission.pods", needs=("admission_objects", "admission_pods"), run=admission_pods),
        Check(id="admission.capacity", needs=("admission_objects", "admission_live", "admission_pods", "admission_nodes"),
              run=admission_capacity),
    ]


def _summarize(fid: str, problems: Sequence[tuple[Outcome, str, str]], *, passed: str, evidence: Mapping[str, Any]) -> Finding:
    """One finding from per-object problems (outcome, message, fix): the worst outcome, the
    first few messages, every one in the evidence."""
    if not problems:
        return Finding(id=fid, outcome=Outcome.PASS, message=passed, evidence=evidence)
    order = [Outcome.FAIL, Outcome.ERROR, Outcome.WARN, Outcome.SKIP]
    ranked = sorted(problems, key=lambda p: order.index(p[0]))
    outcome = ranked[0][0]
    shown = [m for _, m, _ in ranked[:_SHOWN]]
    more = f" (and {len(ranked) - _SHOWN} more, see evidence)" if len(ranked) > _SHOWN else ""
    fixes = list(dict.fromkeys(f for _, _, f in ranked[:_SHOWN] if f))
    return Finding(id=fid, outcome=outcome, message="; ".join(shown) + more, remediation="; ".join(fixes),
                   evidence={**evidence, "problems": [{"outcome": o.value, "message": m, "fix": f} for o, m, f in ranked]})


def _not_simulated(fid: str, objects: AdmissionObjects) -> Finding:
    return Finding(id=fid, outcome=Outcome.WARN,
                   message=f"namespace {objects.namespace} does not exist yet (helm --create-namespace): nothing could be "
                           "simulated in it; its quota, LimitRange and PodSecurity labels will be the defaults",
                   remediation="create the namespace first to simulate the deploy in it", evidence={"namespace": objects.namespace})


# -- label selectors and webhook rules ------------------------------------------------------------

def label_selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: empty or absent selects everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _rule_matches(rule: Mapping[str, Any], group: str, version: str, resource: str, namespaced: bool) -> bool:
    def has(field: str, value: str) -> bool:
        wanted = [str(x) for x in rule.get(field) or []]
        return "*" in wanted or value in wanted

    resources = [str(r) for r in rule.get("resources") or []]
    scope = str(rule.get("scope") or "*")
    return (has("apiGroups", group) and has("apiVersions", version)
            and any(r in ("*", "*/*", resource) for r in resources)
            and any(op in ("*", "CREATE", "UPDATE") for op in rule.get("operations") or [])
            and (scope == "*" or (scope == "Namespaced") == namespaced))


def _intercepts(hook: Webhook, obj: ChartObject, namespace_labels: Mapping[str, Mapping[str, str]], *, as_pod: bool) -> bool:
    if as_pod:
        group, version, resource, namespaced = "", "v1", "pods", True
        labels = ((pod_template(obj.body) or {}).get("metadata") or {}).get("labels") or {}
    else:
        group, _, version = obj.ref.api_version.rpartition("/")
        resource, namespaced, labels = obj.resource, obj.namespaced, obj.labels
    if not any(_rule_matches(r, group, version, resource, namespaced) for r in hook.rules):
        return False
    if namespaced and not label_selector_matches(hook.namespace_selector, namespace_labels.get(obj.ref.namespace, {})):
        return False
    return label_selector_matches(hook.object_selector, labels)


def admission_webhooks(policy: Policy, admission_objects: AdmissionObjects, admission_webhooks: WebhookFacts) -> Finding:
    fid = "admission.webhooks"
    problems: list[tuple[Outcome, str, str]] = []
    for hook in admission_webhooks.webhooks:
        hit = [str(o.ref) for o in admission_objects.objects if o.resource and _intercepts(hook, o, admission_webhooks.namespace_labels, as_pod=False)]
        hit += [f"the Pods of {o.ref}" for o in admission_objects.objects
                if pod_template(o.body) is not None and _intercepts(hook, o, admission_webhooks.namespace_labels, as_pod=True)]
        if not hit:
            continue
        what = f"{hook.kind} {hook.configuration}: webhook {hook.name!r}"
        maybe = " (it has matchConditions, so it may skip some)" if hook.has_match_conditions else ""
        down = hook.service_exists is False or hook.ready_endpoints == 0
        if hook.failure_policy == "Fail" and hook.service and down:
            state = "does not exist" if hook.service_exists is False else "has no ready endpoint"
            problems.append((Outcome.FAIL,
                             f"{what} is fail-closed (failurePolicy: Fail) and its service {hook.service} {state}; it intercepts "
                             f"{', '.join(hit[:4])}{' ...' if len(hit) > 4 else ''}{maybe}: the API server refuses them "
                             "(failed calling webhook)",
                             f"start the webhook's service {hook.service} (kubectl -n {hook.service.split('/')[0]} get endpointslices "
                             f"-l kubernetes.io/service-name={hook.service.split('/')[1]}), or delete the stale {hook.kind} "
                             f"{hook.configuration} if its owner was uninstalled"))
        if hook.side_effects not in ("None", "NoneOnDryRun"):
            problems.append((Outcome.WARN,
                             f"{what} has sideEffects {hook.side_effects or 'unset'} and refuses dry-run requests: cannot simulate "
                             f"{', '.join(hit[:4])}{' ...' if len(hit) > 4 else ''} (not a failure of the deploy)",
                             f"ask the webhook's owner to declare sideEffects None or NoneOnDryRun ({hook.configuration})"))
    checked = len(admission_webhooks.webhooks)
    return _summarize(fid, problems, passed=f"{checked} webhook(s) checked: none that intercepts the chart is down or blocks dry-run",
                      evidence={"webhooks": checked})


# -- ownership ----------------------------------------------------------------------------------

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


# -- dry-runs -----------------------------------------------------------------------------------

def _fix_for(message: str, reason: str) -> str:
    text = message.lower()
    if "field is immutable" in text:
        return ("an immutable field changed: keep its old value, or delete the object so helm recreates it "
                "(helm upgrade --force replaces it)")
    if "failed calling webhook" in text:
        return "the webhook could not be called: see admission.webhooks, start its service"
    if "denied the request" in text:
        return "a webhook's policy refuses it: change what it names, or ask the webhook's owner for an exception"
    if "podsecurity" in text:
        return ("make the pod template meet the namespace's PodSecurity level (securityContext: runAsNonRoot, no privileged, "
                "drop ALL capabilities, seccompProfile RuntimeDefault), or deploy where pod-security.kubernetes.io/enforce allows it")
    if "exceeded quota" in text:
        return "the namespace's ResourceQuota is used up: raise it, free some of it, or lower the chart's requests"
    if "must specify" in text and "quota" in text:
        return "a ResourceQuota requires these: set resources.requests/limits on every container, or add a LimitRange with defaults"
    if "limitrange" in text or ("maximum" in text and "per container" in text) or "minimum" in text:
        return "a LimitRange refuses these resources: change the requests/limits to fit it"
    if "error looking up service account" in text:
        return "the pod's ServiceAccount does not exist: see admission.references"
    if reason == "Conflict" and "apply failed" in text:
        return ("other field managers own these fields: helm 4 stops on the conflict; drop the fields from the chart, or upgrade with "
                "--force-conflicts to take them over")
    if reason == "AlreadyExists":
        return "a hook with this name exists and its hook-delete-policy does not delete it first: add before-hook-creation, or delete it"
    if "cannot create resource" in text or "cannot patch resource" in text:
        return "see auth.permissions"
    if reason == "NotFound" and "namespaces" in text:
        return "the namespace does not exist: create it, or deploy with --create-namespace"
    return "fix the manifest as the server says (kubectl apply --dry-run=server -f shows the same)"


def _judge_dry_runs(results: Iterable[DryRun], label: Mapping[str, str]) -> list[tuple[Outcome, str, str]]:
    problems: list[tuple[Outcome, str, str]] = []
    for r in results:
        who = label.get(r.ref.key, str(r.ref))
        if r.ok:
            continue
        if r.unsimulatable:
            problems.append((Outcome.WARN, f"cannot simulate {who}: {r.message}", "see admission.webhooks"))
        elif not r.answered:
            problems.append((Outcome.ERROR, f"could not simulate {who}: {r.message}", "raise --timeout, or see api.reachable"))
        else:
            problems.append((Outcome.FAIL, f"{who}: {r.message}", _fix_for(r.message, r.reason)))
    return problems


def admission_dry_run(policy: Policy, admission_objects: AdmissionObjects, admission_dry_run: Sequence[DryRun]) -> Finding:
    fid = "admission.dry-run"
    if not admission_objects.namespace_exists:
        return _not_simulated(fid, admission_objects)
    unserved = [str(o.ref) for o in admission_objects.objects if not o.resource]
    problems = _judge_dry_runs(admission_dry_run, {})
    verbs: dict[str, int] = {}
    for r in admission_dry_run:
        verbs[r.verb] = verbs.get(r.verb, 0) + 1
    sent = ", ".join(f"{n} {v}" for v, n in sorted(verbs.items()))
    how = "helm 4 (server-side apply, field manager helm)" if admission_objects.helm_major >= 4 else "helm 3 (create, or patch when it exists)"
    note = f"; not sent, the server does not serve their kind (see auth.permissions): {', '.join(unserved)}" if unserved else ""
    warnings = sorted({w for r in admission_dry_run for w in r.warnings})
    return _summarize(fid, problems, passed=f"{len(admission_dry_run)} object(s) admitted as {how} sends them ({sent}){note}",
                      evidence={"sent": verbs, "helm_major": admission_objects.helm_major, "server_warnings": warnings,
                                "not_served": unserved})


def admission_pods(policy: Policy, admission_objects: AdmissionObjects, admission_pods: Sequence[PodDryRun]) -> Finding:
    """PodSecurity and pod-level quota judge Pods, not their controllers: a Deployment is
    admitted while every Pod its ReplicaSet makes is refused (and helm --wait times out)."""
    fid = "admission.pods"
    if not admission_objects.namespace_exists:
        return _not_simulated(fid, admission_objects)
    label = {p.result.ref.key: f"the Pods of {p.owner.ref}" for p in admission_pods}
    problems = _judge_dry_runs((p.result for p in admission_pods), label)
    problems = [(o, m + (" (the controller is admitted, its Pods are not: helm --wait times out)" if o is Outcome.FAIL else ""), f)
                for o, m, f in problems]
    substituted = {str(p.owner.ref): p.substituted_account for p in admission_pods if p.substituted_account}
    return _summarize(fid, problems, passed=f"the Pods of {len(admission_pods)} pod template(s) would be admitted",
                      evidence={"templates": len(admission_pods), "sent_as_default_account": substituted})


# -- references ----------------------------------------------------------------------------------

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


# -- capacity -----------------------------------------------------------------------------------

def _tolerated(taint: Mapping[str, Any], tolerations: Iterable[Mapping[str, Any]]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and str(t.get("value") or "") == str(taint.get("value") or ""):
            return True
    return False


def _term_matches(term: Mapping[str, Any], node: NodeInfo) -> bool:
    for expr in term.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        value = node.labels.get(key)
        ok = {"In": value in values, "NotIn": value not in values, "Exists": value is not None, "DoesNotExist": value is None,
              "Gt": value is not None and value.isdigit() and bool(values) and int(value) > int(values[0]),
              "Lt": value is not None and value.isdigit() and bool(values) and int(value) < int(values[0])}.get(str(op), False)
        if not ok:
            return False
    for expr in term.get("matchFields") or []:
        if expr.get("key") == "metadata.name":
            inside = node.name in (expr.get("values") or [])
            if (expr.get("operator") == "In") != inside:
                return False
    return True


def _why_not(spec: Mapping[str, Any], node: NodeInfo) -> str:
    """Why the scheduler would not consider ``node`` for this Pod at all, else ''."""
    if not node.ready:
        return "not Ready"
    if node.unschedulable:
        return "cordoned"
    for taint in node.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(taint, spec.get("tolerations") or []):
            return f"taint {taint.get('key')}{'=' + str(taint['value']) if taint.get('value') else ''}:{taint.get('effect')} not tolerated"
    for key, value in (spec.get("nodeSelector") or {}).items():
        if node.labels.get(key) != value:
            return f"nodeSelector {key}={value} does not match"
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(_term_matches(t, node) for t in terms):
        return "required node affinity does not match"
    return ""


def _fmt(resource: str, amount: int) -> str:
    if resource == "cpu":
        return f"{amount}m" if amount % 1000 else f"{amount // 1000}"
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if amount >= size:
                return f"{amount / size:.3g}{unit}"
    return str(amount)


def _short(need: Mapping[str, int], free: Mapping[str, int]) -> list[str]:
    return [r for r, n in need.items() if n > 0 and n > free.get(r, 0)]


def _extra_pods(obj: ChartObject, replicas: int, exists: bool) -> int:
    """Pods the deploy adds at once: all of a new workload; for an existing one the rolling
    update's surge (Deployment maxSurge, default 25% rounded up; StatefulSets and DaemonSets
    replace in place)."""
    if not exists:
        return replicas
    if obj.ref.kind != "Deployment":
        return 0
    rolling = (((obj.body.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {})
    surge = rolling.get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        try:
            return math.ceil(replicas * int(surge[:-1]) / 100)
        except ValueError:
            return 1
    try:
        return int(surge)
    except (TypeError, ValueError):
        return 1


def admission_capacity(policy: Policy, admission_objects: AdmissionObjects, admission_live: LiveObjects,
                       admission_pods: Sequence[PodDryRun], admission_nodes: CapacityFacts) -> Finding:
    """Can the scheduler place the Pods? Fail when no node could ever take one (none Ready and
    eligible, or requests larger than every eligible node's allocatable: they stay Pending however
    long helm waits); warn when only today's free room is short, since the scheduler may still
    make room (preemption, finishing pods, a cluster autoscaler)."""
    fid = "admission.capacity"
    nodes = admission_nodes.nodes
    free = {n.name: {r: n.allocatable.get(r, 0) - n.requested.get(r, 0) for r in set(n.allocatable) | set(n.requested)} for n in nodes}
    problems: list[tuple[Outcome, str, str]] = []
    placed = 0
    admitted = {p.owner.ref.key: p.result.admitted for p in admission_pods if p.result.ok and p.result.admitted}
    for owner in admission_objects.objects:
        template = pod_template(owner.body)
        if template is None or owner.ref.kind == "CronJob":
            continue
        spec: Mapping[str, Any] = (admitted.get(owner.ref.key) or {}).get("spec") or template.get("spec") or {}
        need = {**pod_requests(spec), "pods": 1}
        eligible = [n for n in nodes if not _why_not(spec, n)]
        shown = ", ".join(f"{r} {_fmt(r, v)}" for r, v in need.items() if r != "pods" and v) or "no resources"
        if not eligible:
            reasons = sorted({f"{n.name}: {_why_not(spec, n)}" for n in nodes})
            problems.append((Outcome.FAIL, f"{owner.ref}: no node can run its Pods"
                             + (f" ({'; '.join(reasons[:4])}{' ...' if len(reasons) > 4 else ''})" if reasons else " (the cluster has no node)")
                             + ": they stay Pending and helm --wait times out",
                             "add or uncordon a matching node, or fix nodeSelector/affinity/tolerations (ignore if a cluster "
                             "autoscaler adds such nodes)"))
            continue
        too_big = [n for n in eligible if _short(need, n.allocatable)]
        if len(too_big) == len(eligible):
            worst = too_big[0]
            short = _short(need, worst.allocatable)
            have = ", ".join(f"{r}: {worst.name} has {_fmt(r, worst.allocatable.get(r, 0))} allocatable" for r in short)
            problems.append((Outcome.FAIL, f"{owner.ref}: each Pod requests {shown}, more than any eligible node can hold ({have}): "
                             "they stay Pending",
                             "lower the requests, or add larger nodes"))
            continue
        want = _extra_pods(owner, 1 if owner.ref.kind == "DaemonSet" else (
            1 if owner.hooks else next((p.replicas for p in admission_pods if p.owner is owner), 1)), admission_live.get(owner.ref) is not None)
        if owner.ref.kind == "DaemonSet":
            full = [n.name for n in eligible if _short(need, free[n.name])]
            if full:
                problems.append((Outcome.WARN, f"{owner.ref}: no room for its Pod on {len(full)} of {len(eligible)} eligible node(s) "
                                 f"({', '.join(full[:4])}): {_short_text(need, free[full[0]])}", "free room on those nodes"))
            continue
        fits = 0
        for _ in range(want):
            spot = max((n for n in eligible if not _short(need, free[n.name])), default=None,
                       key=lambda n: free[n.name].get("cpu", 0))
            if spot is None:
                break
            if not owner.hooks:  # hooks run and finish before the rest: they do not add up
                for r, v in need.items():
                    free[spot.name][r] = free[spot.name].get(r, 0) - v
            fits += 1
        placed += fits
        if fits < want:
            best = max(eligible, key=lambda n: free[n.name].get("cpu", 0))
            problems.append((Outcome.WARN, f"{owner.ref}: {want - fits} of {want} new Pod(s) ({shown} each) do not fit the room left on "
                             f"the {len(eligible)} eligible node(s), e.g. {best.name}: {_short_text(need, free[best.name])}; "
                             "they stay Pending unless the scheduler makes room",
                             "free capacity or add a node, or lower the requests or replicas (the scheduler may still preempt "
                             "lower-priority pods, or an autoscaler add a node)"))
    ready = sum(1 for n in nodes if n.ready and not n.unschedulable)
    return _summarize(fid, problems, passed=f"room for {placed} new Pod(s) on {ready} Ready node(s)",
                      evidence={"nodes": len(nodes), "ready": ready, "placed": placed})


def _short_text(need: Mapping[str, int], free: Mapping[str, int]) -> str:
    return ", ".join(f"{r} short (needs {_fmt(r, need[r])}, {_fmt(r, max(0, free.get(r, 0)))} free)" for r in _short(need, free))
