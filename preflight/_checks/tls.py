"""``tls.serving-cert``: is the certificate the API server actually serves valid for this
kubeconfig: expiry, the chain to the kubeconfig's CA, and SANs that name the host?
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kube_client._pem import load_certificates

from .._engine.expiry import expiring
from .._engine.model import Finding, Outcome
from .._engine.runner import FactError
from .._facts.cluster import TlsProbe
from .._facts.policy import Policy
from .._facts.x509 import chains_to, describe, san_matches
from .common import worst

if TYPE_CHECKING:  # judges read a Target; resolving one (and its ssl) is the command's job
    from kube_client._target import Target

__all__ = ["tls_serving_cert"]

SERVED_RENEWAL = ("kubeadm certs renew apiserver on each control-plane node, then restart kube-apiserver "
                  "(managed clusters: the provider renews it)")


def tls_serving_cert(target: Target, policy: Policy, probe: TlsProbe | FactError) -> Finding:
    if isinstance(probe, FactError):
        return Finding(outcome=Outcome.SKIP, message="no TLS handshake: see api.reachable")
    if not target.cluster.server.startswith("https://"):
        return Finding(outcome=Outcome.SKIP,
                       message=f"{target.cluster.display} is plain http: no certificate to check, and nothing on the wire is encrypted")
    if not probe.chain:
        return Finding(outcome=Outcome.ERROR, message="the server completed TLS but presented no certificate")
    certs = [load_certificates(der, source=f"certificate served by {probe.host}:{probe.port}")[0] for der in probe.chain]
    leaf = describe(certs[0])
    evidence: dict[str, Any] = {**leaf.evidence(policy.now), "chain_length": len(certs), **expiring(
        "apiserver", "served", SERVED_RENEWAL, endpoint=f"{probe.host}:{probe.port}")}
    problems: list[tuple[Outcome, str, str]] = []

    outcome, phrase = policy.expiry.judge(leaf, policy.now)
    if outcome is not Outcome.PASS:
        fix = ("renew it ('kubeadm certs renew apiserver' on each control-plane node) and restart kube-apiserver for real; "
               "if it was renewed already, the running kube-apiserver still serves the old one (preflight certs --compare-served)")
        if "clock skew" in phrase:
            fix = "check this machine's clock against the control-plane nodes' (NTP)"
        problems.append((outcome, f"the API server's certificate {phrase}", fix))

    cluster = target.cluster
    if cluster.insecure:
        evidence["ca_ok"] = None
        problems.append((Outcome.WARN, "not verified: the kubeconfig sets insecure-skip-tls-verify", "set certificate-authority-data instead"))
    elif cluster.ca is not None and cluster.ca.data is not None:
        roots = load_certificates(cluster.ca.data, source=cluster.ca.source)
        ca_ok = chains_to(certs[0], roots, certs[1:])
        evidence["ca_ok"] = ca_ok
        if not ca_ok:
            problems.append((
                Outcome.FAIL,
                f"this kubeconfig's CA did not sign the API server's certificate (issuer {leaf.issuer}): "
                "the cluster was rebuilt, the CA rotated, or this is the wrong context",
                "get a current kubeconfig for this cluster (its certificate-authority-data must be the cluster CA)",
            ))
    else:
        evidence["ca_ok"] = None  # system trust store; verified by the HTTP client
    if not cluster.insecure:
        san_ok = san_matches(leaf, target.tls_name)
        evidence["san_ok"] = san_ok
        if not san_ok:
            problems.append((
                Outcome.FAIL,
                f"the certificate does not name {target.tls_name} (it names {', '.join(leaf.sans) or 'nothing'})",
                "use a server name the certificate lists, or add it (kubeadm: apiServer.certSANs, then renew apiserver)",
            ))
    if not problems:
        return Finding(outcome=Outcome.PASS, evidence=evidence,
                       message=f"serves {leaf.subject} (serial {leaf.serial}), {phrase}, signed by the kubeconfig's CA")
    final = worst(*(p[0] for p in problems))
    chosen = [p for p in problems if p[0] is final]
    return Finding(outcome=final, evidence=evidence,
                   message="; ".join(p[1] for p in chosen), remediation="; ".join(p[2] for p in chosen))
