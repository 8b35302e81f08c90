"""Reports as Prometheus text exposition format (version 0.0.4), for node_exporter's textfile
collector or any scrape of a file: no sample timestamps, one HELP and TYPE per family, the same
label set on every series of a family, no series twice.

Certificates use enix x509-certificate-exporter's metric names, meanings and label schema
(``x509_cert_not_after`` and friends, ``subject_CN``, ``issuer_CN``, ``serial_number``,
``filepath``, ``secret_name``, ...; labels that do not apply are ``""``, as there), so its
dashboards and alerts work unchanged. Three labels are added: ``cluster`` (the kubeconfig
context; ``""`` for ``preflight certs``), ``name`` (the certificate's name: ``apiserver``,
``admin.conf``, a kubeconfig user, ``<secret>/ca.crt``) and ``source`` (``served``,
``kubeconfig``, ``file``, ``secret``). Then what that exporter cannot know, as ``preflight_*``:
served-versus-disk drift, token expiries, check outcomes, readiness and leader lease ages.

Pure: ``ClusterResult``s in, text out. What expires is read from the findings' evidence
(``expiry.py``); no check is known here by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .expiry import Expiry
from .fleet import ClusterResult
from .model import EXIT_READY, Finding, Outcome

__all__ = ["METRICS", "render_prometheus"]

_DN_FIELDS = ("C", "ST", "L", "O", "OU", "CN")
_CERT_LABELS = ("cluster", "name", "source", "serial_number", *(f"subject_{f}" for f in _DN_FIELDS),
                *(f"issuer_{f}" for f in _DN_FIELDS), "filename", "filepath", "embedded_kind", "embedded_key",
                "secret_namespace", "secret_name", "secret_key")
_TOKEN_LABELS = ("cluster", "name", "source", "filepath", "embedded_kind", "embedded_key", "secret_namespace", "secret_name", "secret_key")

# name -> (type, help, label names); the README's metrics table is this table.
METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "x509_cert_not_before": ("gauge", "Certificate's NotBefore, in seconds since the epoch (as x509-certificate-exporter).", _CERT_LABELS),
    "x509_cert_not_after": ("gauge", "Certificate's NotAfter, in seconds since the epoch (as x509-certificate-exporter).", _CERT_LABELS),
    "x509_cert_expired": ("gauge", "1 if the certificate had expired when preflight ran, else 0 (as x509-certificate-exporter).",
                          _CERT_LABELS),
    "preflight_cert_served_matches_disk": (
        "gauge", "1 if the certificate a component serves is the file on disk, 0 if the file was renewed and the component "
        "still serves the old one (restart it).", ("cluster", "name", "endpoint", "filepath", "serial_number")),
    "preflight_token_not_after": ("gauge", "When a bearer token stops working, in seconds since the epoch: a JWT's exp, or the "
                                  "day the legacy token cleaner invalidates an unused listed token Secret.", _TOKEN_LABELS),
    "preflight_check_outcome": ("gauge", "1 for the outcome the check had (pass, warn, fail, skip, error), 0 for the others.",
                                ("cluster", "check", "outcome")),
    "preflight_ready": ("gauge", "1 if the cluster was ready for a deploy (exit 0), else 0 (not ready, unreachable, not checked).",
                        ("cluster",)),
    "preflight_checked": ("gauge", "1 if preflight could run its checks against the cluster, 0 if not (a bad context entry, "
                          "the fleet's deadline passed first).", ("cluster",)),
    "preflight_lease_age_seconds": ("gauge", "Seconds since a control-plane component renewed its leader Lease, on the API server's "
                                    "clock.", ("cluster", "lease")),
    "preflight_run_duration_seconds": ("gauge", "How long the cluster's checks took.", ("cluster",)),
    "preflight_run_timestamp_seconds": ("gauge", "When preflight ran, in seconds since the epoch (alert when it gets old: the job "
                                        "stopped).", ("cluster",)),
}


def _dn(text: str) -> dict[str, str]:
    """RFC 4514 ``CN=a,O=b+O=c`` -> {"CN": "a", "O": "b,c"} (escapes honoured)."""
    fields: dict[str, list[str]] = {}
    for part in re.split(r"(?<!\\)[,+]", text or ""):
        key, sep, value = part.partition("=")
        if sep:
            fields.setdefault(key.strip(), []).append(re.sub(r"\\(.)", r"\1", value))
    return {k: ",".join(v) for k, v in fields.items()}


def _where(ev: Mapping[str, object]) -> dict[str, str]:
    path = str(ev.get("path") or "")
    namespace, _, secret = str(ev.get("secret") or "").partition("/")
    return {
        "filename": path.rsplit("/", 1)[-1] if path else "",
        "filepath": path,
        "embedded_kind": str(ev.get("embedded_kind") or ""),
        "embedded_key": str(ev.get("embedded_key") or ""),
        "secret_namespace": namespace,
        "secret_name": secret,
        "secret_key": str(ev.get("secret_key") or ""),
    }


def _cert_labels(item: Expiry) -> dict[str, str]:
    ev = item.evidence
    subject, issuer = _dn(str(ev.get("subject") or "")), _dn(str(ev.get("issuer") or ""))
    return {
        "cluster": item.cluster, "name": item.name, "source": item.source, "serial_number": str(ev.get("serial") or ""),
        **{f"subject_{f}": subject.get(f, "") for f in _DN_FIELDS}, **{f"issuer_{f}": issuer.get(f, "") for f in _DN_FIELDS},
        **_where(ev),
    }


@dataclass
class _Families:
    series: dict[str, dict[tuple[tuple[str, str], ...], float]] = field(default_factory=lambda: {name: {} for name in METRICS})

    def add(self, name: str, labels: Mapping[str, str], value: float) -> None:
        names = METRICS[name][2]
        assert set(labels) == set(names), (name, sorted(labels))
        key = tuple((n, labels[n]) for n in names)
        self.series[name].setdefault(key, value)  # the first one seen wins; never a series twice


def _expiry_series(fam: _Families, item: Expiry, now: datetime) -> None:
    ev = item.evidence
    if item.kind == "token":
        labels = _where(ev)
        fam.add("preflight_token_not_after", {"cluster": item.cluster, "name": item.name, "source": item.source,
                                              **{k: labels[k] for k in _TOKEN_LABELS[3:]}}, item.not_after.timestamp())
        return
    labels = _cert_labels(item)
    if item.not_before is not None:
        fam.add("x509_cert_not_before", labels, item.not_before.timestamp())
    fam.add("x509_cert_not_after", labels, item.not_after.timestamp())
    fam.add("x509_cert_expired", labels, 1.0 if now > item.not_after else 0.0)
    if item.source == "served" and isinstance(ev.get("matches_disk"), bool):
        fam.add("preflight_cert_served_matches_disk", {"cluster": item.cluster, "name": item.name, "endpoint": str(ev.get("endpoint") or ""),
                                                       "filepath": str(ev.get("disk") or ""), "serial_number": str(ev.get("serial") or "")},
                1.0 if ev["matches_disk"] else 0.0)


def _leases(finding: Finding) -> Iterator[tuple[str, float]]:
    for value in finding.evidence.values():
        if isinstance(value, Mapping) and isinstance(value.get("lease"), str) and isinstance(value.get("age_seconds"), int | float):
            yield value["lease"], float(value["age_seconds"])


def _result_series(fam: _Families, result: ClusterResult, now: datetime) -> None:
    cluster = {"cluster": result.context}
    fam.add("preflight_ready", cluster, 1.0 if result.exit_code == EXIT_READY else 0.0)
    fam.add("preflight_checked", cluster, 0.0 if result.report is None else 1.0)
    fam.add("preflight_run_timestamp_seconds", cluster, float(int(now.timestamp())))
    if result.report is None:
        return
    fam.add("preflight_run_duration_seconds", cluster, result.report.duration_ms / 1000)
    worst_first = [Outcome.FAIL, Outcome.ERROR, Outcome.WARN, Outcome.SKIP, Outcome.PASS]
    outcomes: dict[str, Outcome] = {}
    for f in result.report.findings:  # an id reported twice (several contexts' kubeconfig.*) counts by its worst
        outcomes[f.id] = min(outcomes.get(f.id, Outcome.PASS), f.outcome, key=worst_first.index)
        for lease, age in _leases(f):
            fam.add("preflight_lease_age_seconds", {**cluster, "lease": lease}, age)
    for check, outcome in outcomes.items():
        for o in Outcome:
            fam.add("preflight_check_outcome", {**cluster, "check": check, "outcome": o.value}, 1.0 if o is outcome else 0.0)
    for item in result.expiries:
        _expiry_series(fam, item, now)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(float(value))


def render_prometheus(results: Sequence[ClusterResult], *, now: datetime) -> str:
    """The text exposition format for these clusters' runs (no timestamps, stable order)."""
    fam = _Families()
    for result in results:
        _result_series(fam, result, now)
    lines: list[str] = []
    for name, (kind, help_text, _) in METRICS.items():
        series = fam.series[name]
        if not series:
            continue
        lines.append(f"# HELP {name} {help_text.replace(chr(92), chr(92) * 2)}")
        lines.append(f"# TYPE {name} {kind}")
        for key, value in sorted(series.items()):
            labels = ",".join(f'{n}="{_escape(v)}"' for n, v in key)
            lines.append(f"{name}{{{labels}}} {_number(value)}")
    return "\n".join(lines) + "\n" if lines else ""
