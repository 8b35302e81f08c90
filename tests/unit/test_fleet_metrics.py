"""--prometheus: the text exposition format, read back with prometheus_client's own parser.

Certificates carry x509-certificate-exporter's names and label schema (so its dashboards and
alerts work), plus cluster, name and source; preflight_* carry what that exporter cannot see.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from preflight._cli.main import main
from preflight._engine.fleet import ClusterResult
from preflight._engine.metrics import METRICS, render_prometheus
from preflight._engine.model import Finding, Outcome, Report
from tests.pkifactory import NOW, YEAR, kubeadm_tree

DAY = timedelta(days=1)
X509_LABELS = {"serial_number", "subject_C", "subject_ST", "subject_L", "subject_O", "subject_OU", "subject_CN", "issuer_C",
               "issuer_ST", "issuer_L", "issuer_O", "issuer_OU", "issuer_CN", "filename", "filepath", "embedded_kind",
               "embedded_key", "secret_namespace", "secret_name", "secret_key"}


def parse(text: str) -> dict[str, list[Any]]:
    """Family name -> samples, through the reference parser (it raises on malformed text)."""
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, family in families.items():
        assert family.type == "gauge", name
        assert family.documentation, name
        assert all(s.timestamp is None for s in family.samples), f"{name} carries a timestamp"
        keys = [tuple(sorted(s.labels.items())) for s in family.samples]
        assert len(keys) == len(set(keys)), f"{name} has a series twice"
        assert len({frozenset(s.labels) for s in family.samples}) == 1, f"{name}: one label set per family"
    return {name: list(f.samples) for name, f in families.items()}


def run(*argv: str) -> int:
    return main(list(argv), clock=lambda: NOW + timedelta(hours=1))


def test_certs_writes_every_kubeadm_certificate_under_x509_exporter_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = kubeadm_tree(tmp_path, overrides={"controller-manager.conf": {"not_before": -YEAR - 2 * DAY}})
    prom = tmp_path / "textfile" / "kubeadm.prom"
    prom.parent.mkdir()
    code = run("certs", "--pki-dir", str(tree.root), "--kubelet-dir", str(tree.kubelet), "--prometheus", str(prom), "-o", "json")
    assert code == 1
    samples = parse(prom.read_text())
    not_after = {s.labels["name"]: s for s in samples["x509_cert_not_after"]}
    # every certificate row of the table, admin.conf and the CAs included
    assert {"apiserver", "admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "ca", "etcd-ca",
            "front-proxy-ca", "apiserver-kubelet-client", "etcd-server"} <= set(not_after)
    apiserver = not_after["apiserver"]
    assert set(apiserver.labels) == X509_LABELS | {"cluster", "name", "source"}
    assert apiserver.labels["source"] == "file" and apiserver.labels["filepath"].endswith("pki/apiserver.crt")
    assert apiserver.labels["filename"] == "apiserver.crt" and apiserver.labels["subject_CN"] == "kube-apiserver"
    assert apiserver.labels["issuer_CN"] == "kubernetes" and apiserver.labels["serial_number"] == str(tree.leaves["apiserver"].cert.serial_number)
    assert apiserver.value == tree.leaves["apiserver"].cert.not_valid_after_utc.timestamp()
    expired = {s.labels["name"]: s.value for s in samples["x509_cert_expired"]}
    assert expired["controller-manager.conf"] == 1 and expired["apiserver"] == 0
    outcomes = {(s.labels["check"], s.labels["outcome"]): s.value for s in samples["preflight_check_outcome"]}
    assert outcomes[("pki.controller-manager.conf", "fail")] == 1 and outcomes[("pki.controller-manager.conf", "pass")] == 0
    assert [s.value for s in samples["preflight_ready"]] == [0]
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644 and os.listdir(prom.parent) == ["kubeadm.prom"]  # renamed into place


def test_the_same_metric_in_two_files_has_the_same_help_and_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """node_exporter's textfile collector refuses a family whose HELP differs between files."""
    tree = kubeadm_tree(tmp_path)
    a, b = tmp_path / "a.prom", tmp_path / "b.prom"
    run("certs", "--pki-dir", str(tree.root), "--kubelet-dir", str(tree.kubelet), "--prometheus", str(a))
    run("certs", "--pki-dir", str(tree.root), "--kubelet-dir", str(tree.kubelet), "--prometheus", str(b), "--warn-within", "3650d")
    heads = [{line for line in p.read_text().splitlines() if line.startswith("#")} for p in (a, b)]
    assert heads[0] == heads[1]


@pytest.mark.parametrize("where", ["missing/x.prom", "folder"])
def test_an_unwritable_prometheus_path_is_exit_2_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    tree = kubeadm_tree(tmp_path)
    (tmp_path / "folder").mkdir()
    code = run("certs", "--pki-dir", str(tree.root), "--kubelet-dir", str(tree.kubelet), "--prometheus", str(tmp_path / where))
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--prometheus" in err and "Traceback" not in err


def _served(matches: bool) -> Finding:
    row = {"component": "kube-apiserver", "endpoint": "127.0.0.1:6443", "disk": "/etc/kubernetes/pki/apiserver.crt",
           "name": "kube-apiserver", "source": "served", "kind": "certificate", "not_after": "2027-01-01T00:00:00Z",
           "not_before": "2026-01-01T00:00:00Z", "serial": "42", "subject": "CN=kube-apiserver", "issuer": "CN=kubernetes",
           "matches_disk": matches, "renewed_by": "restart it"}
    return Finding(id="node.served-certs", outcome=Outcome.PASS if matches else Outcome.FAIL, message="m", evidence={"endpoints": [row]})


def test_what_the_exporter_cannot_see_drift_tokens_leases_and_outcomes() -> None:
    leases = Finding(id="controlplane.leases", outcome=Outcome.PASS, message="ok", evidence={
        "server_time": "2026-12-01T00:00:00+00:00",
        "kube-scheduler": {"lease": "kube-scheduler", "holder": "x", "age_seconds": 1.5, "renew_time": "...", "lease_duration_seconds": 15}})
    token = Finding(id="kubeconfig.credentials", outcome=Outcome.PASS, message="ok", evidence={
        "context": "ci", "user": "ci", "credential": "token", "exp": "2026-12-02T00:00:00Z", "not_after": "2026-12-02T00:00:00Z",
        "name": "ci", "source": "kubeconfig", "kind": "token", "embedded_kind": "user", "embedded_key": "ci", "path": "/k/config"})
    prod = ClusterResult(context='prod "eu"\\1', report=Report(findings=[_served(False), leases, token], duration_ms=1500))
    dead = ClusterResult(context="dead", error="not checked: the fleet's 20s --timeout passed before its turn")
    samples = parse(render_prometheus([prod, dead], now=datetime(2026, 12, 1, tzinfo=UTC)))
    drift = samples["preflight_cert_served_matches_disk"]
    assert [(s.labels["cluster"], s.labels["name"], s.labels["filepath"], s.value) for s in drift] == [
        ('prod "eu"\\1', "kube-apiserver", "/etc/kubernetes/pki/apiserver.crt", 0)]
    assert [(s.labels["name"], s.value) for s in samples["preflight_token_not_after"]] == [("ci", datetime(2026, 12, 2, tzinfo=UTC).timestamp())]
    assert [(s.labels["lease"], s.value) for s in samples["preflight_lease_age_seconds"]] == [("kube-scheduler", 1.5)]
    assert {s.labels["cluster"]: s.value for s in samples["preflight_checked"]} == {"dead": 0, 'prod "eu"\\1': 1}
    assert {s.labels["cluster"]: s.value for s in samples["preflight_ready"]} == {"dead": 0, 'prod "eu"\\1': 0}
    assert [s.value for s in samples["preflight_run_duration_seconds"]] == [1.5]
    served = samples["x509_cert_not_after"][0].labels
    assert (served["source"], served["subject_CN"], served["issuer_CN"], served["filepath"]) == ("served", "kube-apiserver", "kubernetes", "")
    assert set(samples) <= set(METRICS)


def test_multi_valued_and_escaped_distinguished_names_become_labels() -> None:
    ev = {"not_after": "2027-01-01T00:00:00Z", "subject": "O=system:masters+O=kubeadm:cluster-admins,CN=kubernetes-admin\\, ops",
          "issuer": "CN=kubernetes", "name": "admin", "source": "kubeconfig"}
    report = Report(findings=[Finding(id="kubeconfig.credentials", outcome=Outcome.PASS, message="ok", evidence=ev)])
    labels = parse(render_prometheus([ClusterResult(context="c", report=report)], now=NOW))["x509_cert_not_after"][0].labels
    assert labels["subject_O"] == "system:masters,kubeadm:cluster-admins" and labels["subject_CN"] == "kubernetes-admin, ops"
