"""``pki.<name>``: one finding per row of the kubeadm PKI table (``facts/pki.py``), judged from
what ``collect/pki.py`` found on disk. A missing file is *missing*, never expired.
"""

from __future__ import annotations

from datetime import datetime

from .._engine.expiry import expiring
from .._engine.model import Finding, Outcome
from .._facts.pki import Kind, PkiEntry, PkiSpec, Root
from .._facts.policy import ExpiryPolicy
from .._facts.x509 import rfc3339
from .common import RESTART_HOWTO

__all__ = ["judge_entry"]

_CA_ROTATION = "https://kubernetes.io/docs/tasks/tls/manual-rotation-of-ca-certificates/"


_KUBELET_CERT = "https://kubernetes.io/docs/setup/production-environment/tools/kubeadm/troubleshooting-kubeadm/#kubelet-client-cert"


def _renew_remedy(spec: PkiSpec) -> str:
    if spec.kind is Kind.CA:
        return f"kubeadm does not renew CAs; plan a CA rotation: {_CA_ROTATION}"
    if spec.root is Root.KUBELET or spec.name == "kubelet.conf":
        return f"the kubelet rotates this itself; check that it runs and that kubelet.conf points at kubelet-client-current.pem: {_KUBELET_CERT}"
    fix = f"run 'kubeadm certs renew {spec.name}' (or 'renew all') on every control-plane node"
    if spec.used_by:
        fix += f", then restart {', '.join(spec.used_by)} for real: {RESTART_HOWTO}"
    if spec.name == "admin.conf":
        fix += "; then replace every copy of admin.conf (~/.kube/config, CI credentials such as Jenkins')"
    return fix


def _evidence(entry: PkiEntry, now: datetime) -> dict[str, object]:
    ev: dict[str, object] = {
        "path": str(entry.path),
        "kind": entry.spec.kind.value,
        "missing": entry.missing,
        "not_after": None,
        "residual": None,
        "externally_managed": entry.externally_managed,
        "issuer_ok": entry.issuer_ok,
        "ca": entry.spec.ca or None,
        **expiring(entry.spec.name, "file", _renew_remedy(entry.spec)),
    }
    if entry.cert is not None:
        ev.update(entry.cert.evidence(now))
    if entry.key_ok is not None:
        ev["key_matches"] = entry.key_ok
    if entry.ca_matches is not None:
        ev["ca_matches_pki"] = entry.ca_matches
    if entry.referenced:
        ev["client_certificate_file"] = entry.referenced
    if entry.mtime is not None:
        ev["modified"] = rfc3339(entry.mtime)
    return ev


def judge_entry(entry: PkiEntry, now: datetime, expiry: ExpiryPolicy) -> Finding:
    spec = entry.spec
    fid = f"pki.{spec.name}"
    ev = _evidence(entry, now)
    if entry.absent_reason:
        return Finding(id=fid, outcome=Outcome.SKIP, message=f"{spec.name}: not checked, {entry.absent_reason}", evidence=ev)
    if entry.missing:
        if spec.optional:
            return Finding(id=fid, outcome=Outcome.WARN, message=f"{spec.name} is missing; {spec.optional}", evidence=ev)
        return Finding(
            id=fid,
            outcome=Outcome.FAIL,
            message=f"{spec.name} is missing ({entry.path})",
            remediation=f"restore it from a backup of /etc/kubernetes, or recreate it with 'kubeadm init phase {'kubeconfig' if spec.kind is Kind.KUBECONFIG else 'certs'}'",
            evidence=ev,
        )
    if entry.problem:
        return Finding(id=fid, outcome=Outcome.FAIL, message=f"{spec.name}: {entry.problem}", remediation=_renew_remedy(spec), evidence=ev)
    if spec.kind is Kind.KEYPAIR:
        if entry.key_ok:
            return Finding(id=fid, outcome=Outcome.PASS, message="sa.key and sa.pub are a matching pair", evidence=ev)
        return Finding(
            id=fid,
            outcome=Outcome.FAIL,
            message="sa.key and sa.pub do not match: the API server will reject ServiceAccount tokens the controller-manager signs",
            remediation="restore the pair from a backup; every control-plane node must have the same sa.key and sa.pub",
            evidence=ev,
        )
    assert entry.cert is not None
    outcome, phrase = expiry.judge(entry.cert, now)
    what = "client certificate" if spec.kind is Kind.KUBECONFIG else ("CA" if spec.kind is Kind.CA else "certificate")
    problems: list[tuple[Outcome, str, str]] = []
    if entry.key_ok is False:
        problems.append((Outcome.FAIL, "its private key does not match the certificate", _renew_remedy(spec)))
    if entry.issuer_ok is False:
        signer = "itself (a CA must be self-signed)" if spec.kind is Kind.CA else spec.ca
        problems.append((Outcome.FAIL, f"it is not signed by {signer}", _renew_remedy(spec)))
    if entry.ca_matches is False:
        problems.append((
            Outcome.FAIL,
            "it embeds a CA other than pki/ca.crt (copied from another cluster?)",
            f"regenerate it with 'kubeadm init phase kubeconfig {spec.name.removesuffix('.conf')}'",
        ))
    suffix = " (externally managed: no CA key on this node)" if entry.externally_managed else ""
    message = f"{spec.name}: {what} {phrase}{suffix}"
    remediation = _renew_remedy(spec) if outcome is not Outcome.PASS else ""
    for problem_outcome, text, fix in problems:
        outcome = problem_outcome
        message += f"; {text}"
        remediation = fix
    return Finding(id=fid, outcome=outcome, message=message, remediation=remediation, evidence=ev)
