"""``admission.dry-run`` and ``admission.pods``: what the API server said to each object as helm would send it, and to
the Pod each pod template would make (PodSecurity and pod quota judge Pods, not their controllers).
"""

from __future__ import annotations

from ..._facts.admission import AdmissionObjects
from ..._facts.admission import DryRun
from ..._engine.model import Finding
from collections.abc import Iterable
from collections.abc import Mapping
from ..._engine.model import Outcome
from ..._facts.admission import PodDryRun
from ..._facts.policy import Policy
from collections.abc import Sequence
from .common import _not_simulated
from .common import _summarize


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
