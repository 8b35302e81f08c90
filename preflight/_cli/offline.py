"""The offline commands as check tables: ``preflight certs`` and ``preflight kubeconfig``.

Both read local files only; neither imports an HTTP client.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path

from kube_client._deadline import Deadline
from kube_client._kubeconfig import ContextView, default_paths, load_kubeconfig
from kube_client._target import validate_inline

from .._checks.kubeconfig import judge_credentials, judge_file, judge_tls
from .._checks.pki import judge_entry
from .._collect.pki import collect_pki, kubeadm_dir
from .._engine.model import Finding, Report
from .._engine.runner import Check, Collector, Facts, run_checks
from .._facts.pki import KUBEADM_PKI, PkiEntry, PkiSpec
from .._facts.policy import ExpiryPolicy, Policy

__all__ = ["certs_report", "kubeconfig_report", "pki_checks"]

# Reading a few dozen local files; the deadline only guards against a hung filesystem.
_OFFLINE_SECONDS = 60


def _judge_row(spec: PkiSpec, policy: Policy, pki: list[PkiEntry]) -> Finding:
    entry = next(e for e in pki if e.spec is spec)
    return judge_entry(entry, policy.now, policy.expiry)


def pki_checks() -> list[Check]:
    """One check per row of the kubeadm PKI table, all over the single ``pki`` fact."""
    return [Check(id=f"pki.{spec.name}", needs=("pki",), run=partial(_judge_row, spec)) for spec in KUBEADM_PKI]


def certs_report(
    *, pki_dir: Path, kubelet_dir: Path, expiry: ExpiryPolicy, now: datetime, compare_served: bool = False, timeout: float = 20.0
) -> Report:
    """The node audit; with ``compare_served`` also what runs (node mode, needs local network)."""
    root = kubeadm_dir(pki_dir)  # a wrong folder is exit 2, before any check
    collectors: dict[str, Collector] = {"pki": lambda facts: collect_pki(root, kubelet_dir)}
    checks = pki_checks()
    if compare_served:
        from .._collect.node import collect_node
        from .check import node_checks

        collectors["node"] = lambda facts: collect_node(root, facts.deadline)
        checks = [*node_checks(), *checks]  # "renewed but not restarted" is the root cause; show it first
    facts = Facts(collectors, Deadline(timeout if compare_served else _OFFLINE_SECONDS))
    return run_checks(checks, facts, policy=Policy(now=now, expiry=expiry))


def _file(path: Path, policy: Policy) -> Finding:
    return judge_file(path)


def _credentials(view: ContextView, policy: Policy) -> Finding:
    return judge_credentials(view, policy.now, policy.expiry)


def _tls(view: ContextView, policy: Policy) -> Finding:
    return judge_tls(view, policy.now, policy.expiry)


def kubeconfig_report(
    *, kubeconfig: str | None, context: str | None, all_contexts: bool, expiry: ExpiryPolicy, now: datetime
) -> Report:
    config = load_kubeconfig(default_paths(kubeconfig), explicit=bool(kubeconfig))
    names = config.context_names if all_contexts else [context or config.current_context]
    views = [config.context(name) for name in names]  # a bad name or field is exit 2, before any check
    for view in views:
        validate_inline(view)
    checks = [Check(id="kubeconfig.file", needs=(), run=partial(_file, path)) for path in config.paths]
    for view in views:
        checks.append(Check(id="kubeconfig.credentials", needs=(), run=partial(_credentials, view)))
        checks.append(Check(id="kubeconfig.tls", needs=(), run=partial(_tls, view)))
    return run_checks(checks, Facts({}, Deadline(_OFFLINE_SECONDS)), policy=Policy(now=now, expiry=expiry))
