"""``preflight fleet`` and ``--prometheus`` against the real control plane.

The fleet is many contexts pointing at the one real control plane (admin client certificates,
and a ServiceAccount's token Secret), plus dead ones: a refused port (nothing listens on
127.0.0.1:1) and the harness's black hole (accepts, never answers). Metrics are read back with
prometheus_client's exposition-format parser.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from sa_tokens import ensure, kubeconfig_for
from tests.pkifactory import write_kubeconfig

pytestmark = pytest.mark.cluster

NAMESPACE = "fleet-tokens"
LIVE = 6


def _admin(cluster: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = yaml.safe_load(cluster.admin_kubeconfig.read_text())
    return doc["clusters"][0]["cluster"], doc["users"][0]["user"]


@pytest.fixture(scope="module")
def token_user(cluster: Any) -> Iterator[dict[str, Any]]:
    """A ServiceAccount with its own long-lived token Secret, allowed to read its namespace."""
    cluster.kubectl("create", "namespace", NAMESPACE)
    try:
        result = ensure(NAMESPACE, "deployer", kubeconfig=str(cluster.admin_kubeconfig), create_sa=True)
        cluster.kubectl("create", "rolebinding", "deployer-admin", "-n", NAMESPACE, "--clusterrole=admin",
                        f"--serviceaccount={NAMESPACE}:deployer")
        doc = yaml.safe_load(kubeconfig_for(server=cluster.server, ca_pem=(cluster.pki_dir / "ca.crt").read_bytes(),
                                            namespace=NAMESPACE, account="deployer", token=result.token))
        yield {"user": doc["users"][0]["user"], "secret": result.secret, "token": result.token}
    finally:
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", "--ignore-not-found", check=False)


def fleet_kubeconfig(path: Path, cluster: Any, *, live: int, token_user: dict[str, Any] | None = None,
                     dead: dict[str, str] | None = None) -> Path:
    """``live`` admin contexts on the real API server, a token context, and dead ones (name -> address)."""
    live_cluster, admin = _admin(cluster)
    clusters = [{"name": "real", "cluster": live_cluster}]
    users: list[dict[str, Any]] = [{"name": "kubernetes-admin", "user": admin}]
    contexts = [{"name": f"live-{i:02d}", "context": {"cluster": "real", "user": "kubernetes-admin"}} for i in range(live)]
    if token_user is not None:
        users.append({"name": "deployer", "user": token_user["user"]})
        contexts.append({"name": "token", "context": {"cluster": "real", "user": "deployer", "namespace": NAMESPACE}})
    for name, address in (dead or {}).items():
        clusters.append({"name": name, "cluster": {**live_cluster, "server": f"https://{address}"}})
        contexts.append({"name": name, "context": {"cluster": name, "user": "kubernetes-admin"}})
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": contexts[0]["name"], "clusters": clusters, "users": users,
           "contexts": contexts}
    return write_kubeconfig(path, doc)


def families(text: str) -> dict[str, list[Any]]:
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    for name, family in parsed.items():
        assert all(s.timestamp is None for s in family.samples), name
    return {name: list(f.samples) for name, f in parsed.items()}


def not_after(path: Path) -> float:
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc.timestamp()


def test_every_context_is_checked_and_dead_clusters_are_reported_with_their_root_cause(
    cluster: Any, token_user: dict[str, Any], preflight: Any, tmp_path: Path
) -> None:
    from preflight._cli.main import main

    blackhole = cluster.break_("blackhole")
    config = fleet_kubeconfig(tmp_path / "fleet.conf", cluster, live=LIVE, token_user=token_user,
                              dead={"refused": "127.0.0.1:1", "blackhole": blackhole})
    files = {"markdown": tmp_path / "fleet.md", "prometheus": tmp_path / "fleet.prom", "junit": tmp_path / "fleet.xml"}
    out = tmp_path / "fleet.json"
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        code = main(["fleet", "--kubeconfig", str(config), "--timeout", "8s", "--concurrency", "10", "-o", "json",
                     *(x for flag, path in files.items() for x in (f"--{flag}", str(path)))])
    out.write_text(stdout.getvalue())
    doc = json.loads(out.read_text())
    entries = {c["context"]: c for c in doc["clusters"]}

    assert code == 1 and doc["summary"]["exit_code"] == 1
    assert list(entries) == [*(f"live-{i:02d}" for i in range(LIVE)), "token", "refused", "blackhole"]
    for name in [*(f"live-{i:02d}" for i in range(LIVE)), "token"]:
        assert (entries[name]["verdict"], entries[name]["root_cause"]) == ("ready", None), entries[name]["report"]["summary"]
    for name, words in (("refused", "refused"), ("blackhole", "never answered")):
        entry = entries[name]
        assert (entry["verdict"], entry["exit_code"], entry["root_cause"]) == ("not ready", 1, "api.reachable")
        assert words in entry["report"]["checks"][0]["message"]

    # the calendar: served, kubeconfig and token Secret certificates, soonest first, each with what renews it
    calendar = doc["calendar"]
    assert [c["not_after"] for c in calendar] == sorted(c["not_after"] for c in calendar)
    by_source = {c["source"]: c for c in calendar}
    assert set(by_source) >= {"served", "kubeconfig", "secret"}
    served = by_source["served"]
    assert served["name"] == "apiserver" and set(served["clusters"]) == {*(f"live-{i:02d}" for i in range(LIVE)), "token"}
    assert by_source["kubeconfig"]["name"] == "kubernetes-admin" and "kubeadm" in by_source["kubeconfig"]["renewed_by"]
    assert by_source["secret"]["name"] == f"{token_user['secret']}/ca.crt" and by_source["secret"]["clusters"] == ["token"]
    assert all(c["renewed_by"] for c in calendar)
    markdown = files["markdown"].read_text()
    assert "### Expiry calendar" in markdown and f"`{token_user['secret']}/ca.crt`" in markdown
    assert "| `refused` | **NOT READY** | api.reachable: connection to 127.0.0.1:1 refused" in markdown

    # the metrics: the certificates' real dates, under x509-certificate-exporter's names
    samples = families(files["prometheus"].read_text())
    certs = {(s.labels["cluster"], s.labels["source"], s.labels["name"]): s for s in samples["x509_cert_not_after"]}
    assert certs[("live-00", "served", "apiserver")].value == not_after(cluster.pki_dir / "apiserver.crt")
    assert certs[("live-00", "served", "apiserver")].labels["subject_CN"] == "kube-apiserver"
    admin_cert = base64.b64decode(_admin(cluster)[1]["client-certificate-data"])
    assert certs[("live-00", "kubeconfig", "kubernetes-admin")].value == x509.load_pem_x509_certificate(admin_cert).not_valid_after_utc.timestamp()
    secret_ca = certs[("token", "secret", f"{token_user['secret']}/ca.crt")]
    assert secret_ca.value == not_after(cluster.pki_dir / "ca.crt")
    assert (secret_ca.labels["secret_namespace"], secret_ca.labels["secret_name"], secret_ca.labels["secret_key"]) == (
        NAMESPACE, token_user["secret"], "ca.crt")
    leases = {(s.labels["cluster"], s.labels["lease"]) for s in samples["preflight_lease_age_seconds"]}
    assert {("live-00", "kube-controller-manager"), ("live-00", "kube-scheduler")} <= leases
    outcome = {(s.labels["cluster"], s.labels["check"], s.labels["outcome"]): s.value for s in samples["preflight_check_outcome"]}
    assert outcome[("refused", "api.reachable", "fail")] == 1 and outcome[("live-00", "api.reachable", "pass")] == 1
    assert {s.labels["cluster"]: s.value for s in samples["preflight_ready"]}["blackhole"] == 0

    import junitparser

    suites = {suite.name for suite in junitparser.JUnitXml.fromfile(str(files["junit"]))}
    assert suites == {f"preflight.{name}" for name in entries}

    # no secret in any output
    secrets = [token_user["token"], _admin(cluster)[1]["client-key-data"]]
    for path in [out, *files.values()]:
        assert not any(s in path.read_text() for s in secrets), path


def test_the_deadline_is_the_fleets_not_each_clusters(cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One at a time behind a black hole: the black hole takes the whole --timeout, so the contexts
    queued behind it are reported as not checked (with why), not given a deadline of their own."""
    from preflight._cli.main import main

    blackhole = cluster.break_("blackhole")
    config = fleet_kubeconfig(tmp_path / "fleet.conf", cluster, live=0, dead={"hole": blackhole, "refused": "127.0.0.1:1"})
    doc = yaml.safe_load(config.read_text())
    doc["contexts"].append({"name": "live", "context": {"cluster": "real", "user": "kubernetes-admin"}})
    write_kubeconfig(config, doc)
    code = main(["fleet", "--kubeconfig", str(config), "--timeout", "4s", "--concurrency", "1", "-o", "json", "-q"])
    entries = {c["context"]: c for c in json.loads(capsys.readouterr().out)["clusters"]}
    assert code == 1 and list(entries) == ["hole", "refused", "live"]
    assert entries["hole"]["root_cause"] == "api.reachable"
    for name in ("refused", "live"):
        assert entries[name]["verdict"] == "not checked" and "ran out before its turn" in entries[name]["error"]


def test_ready_contexts_alone_exit_0_and_check_exports_the_same_metrics(cluster: Any, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from preflight._cli.main import main

    config = fleet_kubeconfig(tmp_path / "fleet.conf", cluster, live=3, dead={"refused": "127.0.0.1:1"})
    code = main(["fleet", "--kubeconfig", str(config), "--context", "^live-", "-q"])
    table = capsys.readouterr().out.splitlines()
    assert code == 0 and [line.split()[0] for line in table[1:4]] == ["live-00", "live-01", "live-02"]
    assert all(" READY " in line and "apiserver (served)" in line for line in table[1:4])
    assert table[-1].startswith("READY: 3 of 3 contexts ready")

    prom = tmp_path / "check.prom"
    code = main(["check", "--kubeconfig", str(cluster.admin_kubeconfig), "--prometheus", str(prom), "-q"])
    samples = families(prom.read_text())
    assert code == 0 and {s.labels["source"] for s in samples["x509_cert_not_after"]} == {"served", "kubeconfig"}
    assert {s.labels["cluster"] for s in samples["preflight_ready"]} == {"kubernetes-admin@kubernetes"}


def test_certs_on_the_node_exports_the_pki_and_what_is_served_next_to_it(cluster: Any, tmp_path: Path) -> None:
    """The cron job on a control-plane node: every kubeadm file, and the served certificates with
    whether each is still the file on disk (what x509-certificate-exporter cannot see)."""
    from preflight._cli.main import main

    prom = tmp_path / "kubeadm.prom"
    code = main(["certs", "--pki-dir", str(cluster.workdir), "--kubelet-dir", str(tmp_path / "no-kubelet"), "--compare-served",
                 "--prometheus", str(prom)])
    samples = families(prom.read_text())
    certs = {(s.labels["source"], s.labels["name"]): s for s in samples["x509_cert_not_after"]}
    assert code in (0, 1)
    assert certs[("file", "apiserver")].value == not_after(cluster.pki_dir / "apiserver.crt")
    assert certs[("file", "admin.conf")].labels["filepath"].endswith("admin.conf")
    assert certs[("served", "kube-apiserver")].value == certs[("file", "apiserver")].value
    drift = {s.labels["name"]: s.value for s in samples["preflight_cert_served_matches_disk"]}
    assert drift["kube-apiserver"] == 1 and set(drift) >= {"kube-apiserver", "etcd"}
    assert {s.labels["cluster"] for s in samples["x509_cert_not_after"]} == {""}
