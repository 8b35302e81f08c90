"""``admission.webhooks``: a fail-closed webhook that intercepts the chart's objects (or their Pods) and whose service
does not exist or has no ready endpoint; one whose ``sideEffects`` forbid dry-run cannot be simulated (a warning).
"""

from __future__ import annotations

from ..._facts.admission import AdmissionObjects
from typing import Any
from ..._facts.admission import ChartObject
from ..._engine.model import Finding
from collections.abc import Mapping
from ..._engine.model import Outcome
from ..._facts.policy import Policy
from ..._facts.admission import Webhook
from ..._facts.admission import WebhookFacts
from .common import _summarize
from ..._facts.admission import pod_template


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
