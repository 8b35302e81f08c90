"""``preflight explain``: after a failed or timed-out deploy, why the release is not ready.

The same collect-then-judge run as ``check``: collectors read the release's latest revision
from Helm's storage (``collect/release.py``, decoded by ``facts/helm.py``), each of its objects as the server has it now, the
namespace's pods, ReplicaSets, EndpointSlices and events, the nodes and the leader Leases,
concurrently under one deadline; ``checks/release/`` judges them. Report order, root causes
first: ``api.reachable``, ``controlplane.leases``, ``cluster.nodes``, one ``release.<kind>.<name>``
per object, ``release.status``.

Reads only. Exit 2 (one line) when there is nothing to explain: no such release or
namespace, or storage we may not read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from kube_client._deadline import Deadline
from kube_client._http import KubeClient
from kube_client._target import Target

from .._checks.controlplane import controlplane_leases
from .._checks.release.objects import explain_release
from .._collect.release import explain_collectors
from .check import API_REACHABLE
from .._engine.model import Report
from .._engine.runner import Check, FactError, Facts, run_checks
from .._facts.policy import Policy

__all__ = ["ExplainRequest", "explain_table", "run_explain"]

# Facts explain still judges without: each only sharpens a diagnosis (e.g. 403 on nodes).
_OPTIONAL = ("pods", "replicasets", "endpointslices", "events", "nodes", "leases")


@dataclass(frozen=True, kw_only=True)
class ExplainRequest:
    target: Target
    release: str
    timeout: float
    now: datetime
    helm_driver: str = "secret"


def explain_table() -> list[Check]:
    return [
        API_REACHABLE,
        Check(id="controlplane.leases", needs=("leases",), run=controlplane_leases),
        Check(id="release.resources", needs=("release", *_OPTIONAL), run=explain_release, tolerates=_OPTIONAL),
    ]


def run_explain(request: ExplainRequest) -> Report:
    """One explain run. Raises ConfigError (exit 2) when there is no release to explain."""
    target = request.target
    facts = Facts(explain_collectors(target, request.release, request.helm_driver), Deadline(request.timeout))
    report = run_checks(explain_table(), facts, policy=Policy(now=request.now))
    client = facts.get_or_error("client")
    probed = not isinstance(facts.get_or_error("probe"), FactError)
    meta = {
        "target": {"context": target.context, "server": target.cluster.display, "namespace": target.namespace},
        "release": request.release,
        "http_requests": client.stats.requests if isinstance(client, KubeClient) else 0,
        "tls_handshakes": (client.tls_handshakes if isinstance(client, KubeClient) else 0) + int(probed),
    }
    return replace(report, meta=meta)
