"""``preflight fleet`` without a control plane: dead clusters (nothing listens on 127.0.0.1:1),
bad input, and the report files. The real control plane's side is tests/cluster/test_fleet.py."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from preflight._cli.main import main
from tests.pkifactory import NOW, make_ca, make_leaf, write_kubeconfig

TOKEN = "fleet-t0ken-never-printed"
REFUSED = "https://127.0.0.1:1"
# The clusters' CA, as kubeadm's kubeconfigs embed it (insecure-skip-tls-verify made every client
# load the system trust store, ~40 ms of CPU per context, and no test here is about it).
CLUSTER_CA = make_ca(now=NOW)


def fleet_kubeconfig(path: Path, servers: dict[str, str], *, extra_users: dict[str, dict[str, object]] | None = None) -> Path:
    """One cluster, user and context per name; every user holds TOKEN."""
    users = {name: {"token": TOKEN} for name in servers} | (extra_users or {})
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": next(iter(servers)),
        "clusters": [{"name": n, "cluster": {"server": s, "certificate-authority-data": _b64(CLUSTER_CA.cert_pem)}} for n, s in servers.items()],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in servers],
    }
    return write_kubeconfig(path, doc)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """A short deadline unless the test gives its own: a dead cluster may cost all of it."""
    timeout = [] if "--timeout" in argv else ["--timeout", "2s"]
    code = main(["fleet", *argv, *timeout], clock=lambda: NOW + timedelta(hours=1))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def silent_listener() -> Iterator[socket.socket]:
    """A port that would record any connection attempt in its backlog (nothing accepts)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        yield listener


def attempted(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def test_dead_clusters_are_reported_with_their_root_cause_never_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = fleet_kubeconfig(tmp_path / "config", {"dead-a": REFUSED, "dead-b": REFUSED, "dead-c": REFUSED})
    code, out, err = run(capsys, "--kubeconfig", str(config), "-o", "json", "--timeout", "3s", "--concurrency", "3")
    doc = json.loads(out)
    assert code == 1 and doc["summary"]["exit_code"] == 1
    assert [c["context"] for c in doc["clusters"]] == ["dead-a", "dead-b", "dead-c"]
    for entry in doc["clusters"]:
        assert (entry["verdict"], entry["exit_code"], entry["root_cause"]) == ("not ready", 1, "api.reachable")
        reachable = entry["report"]["checks"][0]
        assert reachable["id"] == "api.reachable" and reachable["outcome"] == "fail" and "refused" in reachable["message"]
    assert "checking 3 contexts, 3 at a time, within 3s" in err


def test_the_table_has_one_row_per_cluster_with_verdict_root_cause_and_nearest_expiry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = make_ca(now=NOW)
    client = make_leaf(ca, "ops", orgs=("system:masters",), now=NOW, lifetime=timedelta(days=20, hours=3))
    extra = {"cert-user": {"client-certificate-data": _b64(client.cert_pem), "client-key-data": _b64(client.key_pem)}}
    config = fleet_kubeconfig(tmp_path / "config", {"dead": REFUSED}, extra_users=extra)
    doc = _yaml(config)
    doc["contexts"].append({"name": "cert", "context": {"cluster": "dead", "user": "cert-user"}})
    write_kubeconfig(config, doc)
    code, out, _ = run(capsys, "--kubeconfig", str(config), "-q")
    lines = out.splitlines()
    assert code == 1 and lines[0].split() == ["CONTEXT", "VERDICT", "ROOT", "CAUSE", "NEAREST", "EXPIRY"]
    dead, cert = lines[1], lines[2]
    assert dead.startswith("dead ") and "NOT READY" in dead and "api.reachable: " in dead and dead.rstrip().endswith("-")
    assert cert.startswith("cert ") and "cert-user (kubeconfig)" in cert and "(in 20d" in cert
    assert lines[-1].startswith("NOT READY: 0 of 2 contexts ready")


def test_context_regex_filters_and_bad_patterns_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = fleet_kubeconfig(tmp_path / "config", {"prod-eu": REFUSED, "prod-us": REFUSED, "staging": REFUSED})
    code, out, _ = run(capsys, "--kubeconfig", str(config), "--context", "^prod-", "-o", "json", "-q")
    assert code == 1 and [c["context"] for c in json.loads(out)["clusters"]] == ["prod-eu", "prod-us"]
    for pattern, words in (("prod-(", "is not a regular expression"), ("^nothing$", "matches none of the 3 contexts")):
        code, out, err = run(capsys, "--kubeconfig", str(config), "--context", pattern)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and words in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--concurrency", "0"], ["--timeout", "soon"], ["-o", "yaml"], ["--calendar", "0"]])
def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    config = fleet_kubeconfig(tmp_path / "config", {"dead": REFUSED})
    code, out, err = run(capsys, "--kubeconfig", str(config), *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("flag", ["--prometheus", "--junit", "--markdown"])
def test_an_unwritable_report_path_is_exit_2_before_any_cluster_is_called(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], silent_listener: socket.socket, flag: str
) -> None:
    port = silent_listener.getsockname()[1]
    config = fleet_kubeconfig(tmp_path / "config", {"listening": f"https://127.0.0.1:{port}"})
    code, out, err = run(capsys, "--kubeconfig", str(config), flag, str(tmp_path / "no-such-folder" / "f"))
    assert code == 2 and out == "" and flag in err and len(err.strip().splitlines()) == 1
    assert not attempted(silent_listener)


def test_a_context_that_cannot_be_checked_is_reported_and_the_others_still_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = {"broken": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "kp-no-such-plugin",
                                 "interactiveMode": "Never"}}}
    config = fleet_kubeconfig(tmp_path / "config", {"dead": REFUSED}, extra_users=extra)
    doc = _yaml(config)
    doc["contexts"].append({"name": "plugin-missing", "context": {"cluster": "dead", "user": "broken"}})
    write_kubeconfig(config, doc)
    junit = tmp_path / "fleet.xml"
    code, out, _ = run(capsys, "--kubeconfig", str(config), "-o", "json", "-q", "--junit", str(junit))
    entries = {c["context"]: c for c in json.loads(out)["clusters"]}
    assert code == 1
    assert entries["dead"]["verdict"] == "not ready"
    missing = entries["plugin-missing"]
    assert (missing["verdict"], missing["exit_code"], missing["report"]) == ("not checked", 2, None)
    assert "kp-no-such-plugin" in missing["error"] and "not on PATH" in missing["error"]
    text = junit.read_text()
    assert 'name="preflight.plugin-missing"' in text and 'name="preflight.dead"' in text and "<error" in text


def test_no_token_reaches_any_output_or_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = fleet_kubeconfig(tmp_path / "config", {"a": REFUSED, "b": REFUSED})
    files = {flag: tmp_path / f"out{flag.replace('-', '_')}" for flag in ("--junit", "--markdown", "--prometheus")}
    argv = [x for flag, path in files.items() for x in (flag, str(path))]
    for output in ("table", "json"):
        code, out, err = run(capsys, "--kubeconfig", str(config), "-o", output, *argv)
        assert code == 1 and TOKEN not in out + err
        assert all(TOKEN not in p.read_text() for p in files.values())
    families = {f.name for f in text_string_to_metric_families(files["--prometheus"].read_text())}
    assert {"preflight_ready", "preflight_check_outcome", "preflight_checked"} <= families


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc
