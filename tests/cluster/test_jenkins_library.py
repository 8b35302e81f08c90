"""The Jenkins Shared Library's steps (jenkins/vars) run their real `sh` scripts against the
real control plane.

Jenkins itself cannot run here (its WAR is published only to repo.jenkins-ci.org, not Maven
Central, and Debian ships no jenkins package), so
the steps run under plain Groovy with stubbed pipeline steps (jenkins/test/pipeline), except
`sh`: jenkins/test/steps/ClusterRunTest.groovy runs every script the steps produce with
`/bin/sh -xe FILE` in a workspace, as Jenkins does on a Unix agent (durable-task
BourneShellScript), with KUBECONFIG naming a temporary copy of the credential's kubeconfig
as withCredentials(file(...)) sets it. The real exit codes and reports decide the build
result there; this side starts the cluster, runs that Maven test, and checks from outside
what each script left in its workspace.

Maven and Java 17 are required, as for `make test`'s own Maven step: a missing `mvn` fails
the test, it is never skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "jenkins-library"

# scenario (ClusterRunTest method) -> build result, exit codes of its `sh` scripts in order
EXPECTED = {
    "ready": ("SUCCESS", [0]),
    "warnings": ("UNSTABLE", [0]),
    "could_not_run": ("FAILURE", [2]),
    "token_then_not_ready": ("FAILURE", [0, 1]),
    "sa_tokens_fails": ("FAILURE", [1]),
    "not_found": ("FAILURE", [127]),
    "fleet": ("FAILURE", [0, 0, 1]),  # Jenkinsfile.fleet.example: shards prod, staging, other (lab-dead)
}


@pytest.fixture(scope="module")
def runs(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Run the Groovy cluster tests once; scenario -> its run.json (scripts, exit codes, result)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        pytest.fail("mvn is not on PATH: the Jenkins library's tests need Maven 3.8+ and Java 17 (apt-get install maven)")
    base = tmp_path_factory.mktemp("jenkins")
    kubeconfig = base / "admin.kubeconfig"   # the credential's content; the steps get temporary copies of it
    shutil.copyfile(cluster.admin_kubeconfig, kubeconfig)
    fleet = fleet_kubeconfig(cluster, base / "fleet.kubeconfig")
    cluster.kubectl("create", "namespace", NAMESPACE)
    env = {
        **os.environ,
        # preflight and sa-tokens on PATH, as on an agent where kube-preflight is installed
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "KP_KUBECONFIG": str(kubeconfig),
        "KP_FLEET_KUBECONFIG": str(fleet),
        "KP_NAMESPACE": NAMESPACE,
        "KP_RUNS": str(base / "runs"),
    }
    try:
        done = subprocess.run([mvn, "-B", "-q", "-f", str(REPO / "jenkins" / "pom.xml"), "test", "-Dkp.tags=cluster"],
                              env=env, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, f"mvn exited {done.returncode}:\n{done.stdout[-8000:]}\n{done.stderr[-4000:]}"
        yield {p.parent.name: json.loads(p.read_text()) for p in (base / "runs").glob("*/run.json")}
    finally:
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", "--ignore-not-found", check=False)


def fleet_kubeconfig(cluster: Any, path: Path) -> Path:
    """Three contexts on the real cluster in two shards, and one dead context in the third."""
    import yaml

    doc = yaml.safe_load(cluster.admin_kubeconfig.read_text())
    real, user = doc["clusters"][0], doc["users"][0]
    dead = {"name": "dead", "cluster": {**real["cluster"], "server": "https://127.0.0.1:1"}}
    contexts = [{"name": n, "context": {"cluster": real["name"], "user": user["name"]}} for n in ("prod-eu", "prod-us", "staging-1")]
    contexts.append({"name": "lab-dead", "context": {"cluster": "dead", "user": user["name"]}})
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [real, dead], "users": [user],
                                    "contexts": contexts, "current-context": "prod-eu"}))
    path.chmod(0o600)
    return path


def workspace(run: dict[str, Any]) -> Path:
    return Path(run["sh"][0]["workspace"])


def junit_counts(path: Path) -> dict[str, int]:
    import junitparser

    xml = junitparser.JUnitXml.fromfile(str(path))
    kinds = [type(r).__name__ for suite in xml for case in suite for r in case.result]
    return {k: kinds.count(k) for k in ("Failure", "Error", "Skipped")}


def test_every_scenario_ran_its_scripts_with_the_expected_exit_codes_and_result(runs: dict[str, dict[str, Any]]) -> None:
    assert {name: (r["result"], [s["exitCode"] for s in r["sh"]]) for name, r in runs.items()} == EXPECTED


def test_scripts_are_the_capture_scripts_and_kubeconfig_was_a_temporary_copy(runs: dict[str, dict[str, Any]]) -> None:
    for name, run in runs.items():
        for sh in run["sh"]:
            lines = sh["script"].splitlines()
            assert lines[0].startswith("rm -f -- ") and lines[-1] == 'exit "$rc"', name
            seen = Path(sh["kubeconfig"])
            assert seen.name == "kubeconfig" and not seen.exists(), f"{name}: {seen} should have been deleted"
            assert not seen.is_relative_to(workspace(run)), f"{name}: the secret file must not be in the workspace"
            assert "+ exit" in sh["output"], f"{name}: the script ran under sh -x"


def test_ready_writes_both_reports_and_publishes_junit(runs: dict[str, dict[str, Any]]) -> None:
    ws = workspace(runs["ready"])
    report = json.loads((ws / "preflight.json").read_text())
    assert report["schema"] == "preflight/v1"
    assert (report["summary"]["exit_code"], report["summary"]["ready"]) == (0, True)
    assert junit_counts(ws / "preflight-junit.xml") == {"Failure": 0, "Error": 0, "Skipped": report["summary"]["skip"]}
    assert "preflight: checking context" in (ws / "preflight.stderr").read_text()
    assert runs["ready"]["junit"] == [{"testResults": "preflight-junit.xml", "allowEmptyResults": False}]
    assert runs["ready"]["returned"] == {"ready": True, "exitCode": 0, "rootCause": None, "warnings": [], "report": "preflight.json"}


def test_warnings_are_skipped_tests_so_the_step_itself_marks_unstable(runs: dict[str, dict[str, Any]]) -> None:
    ws = workspace(runs["warnings"])
    summary = json.loads((ws / "preflight.json").read_text())["summary"]
    assert summary["warn"] == 2 and summary["exit_code"] == 0
    counts = junit_counts(ws / "preflight-junit.xml")
    assert counts["Failure"] == counts["Error"] == 0 and counts["Skipped"] == summary["warn"] + summary["skip"]
    assert len(runs["warnings"]["returned"]["warnings"]) == 2


def test_exit_2_leaves_no_report_and_removes_the_stale_ones(runs: dict[str, dict[str, Any]]) -> None:
    ws = workspace(runs["could_not_run"])
    assert not (ws / "preflight-junit.xml").exists()
    assert (ws / "preflight.json").read_text() == ""   # created by the shell's redirection, nothing written into it
    assert "namespace 'kp-no-such-namespace' does not exist" in (ws / "preflight.stderr").read_text()
    assert runs["could_not_run"]["junit"] == []


def test_the_token_steps_kubeconfig_works_and_its_gate_is_not_ready(cluster: Any, runs: dict[str, dict[str, Any]]) -> None:
    run = runs["token_then_not_ready"]
    ws = workspace(run)
    kubeconfig = ws / "deployer.kubeconfig"
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    whoami = cluster.kubectl("auth", "whoami", "-o", "json", kubeconfig=kubeconfig)
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == f"system:serviceaccount:{NAMESPACE}:jenkins-deployer"
    assert json.loads((ws / "sa-tokens.json").read_text())["secret"] == "jenkins-deployer-token"

    summary = json.loads((ws / "preflight.json").read_text())["summary"]
    assert (summary["exit_code"], summary["root_cause"]) == (1, "auth.permissions")
    assert junit_counts(ws / "preflight-junit.xml")["Failure"] == summary["fail"] >= 1
    assert run["returned"]["token"]["created"] is True


def test_the_fleet_example_checks_each_shard_on_its_own_agent_and_publishes_one_calendar(runs: dict[str, dict[str, Any]]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    run = runs["fleet"]
    seen = run["returned"]
    assert seen["parallel"] == [["prod", "staging", "other"]] and seen["nodes"] == ["preflight"] * 4
    shard_workspaces = {Path(sh["workspace"]) for sh in run["sh"]}
    assert len(shard_workspaces) == 3, "each shard ran in its agent's own workspace"
    archived = {Path(p).name: Path(p) for p in seen["archived"]}
    assert {"fleet-calendar.md", "fleet-prod.json", "fleet-staging.json", "fleet-other.json", "fleet-prod.prom"} <= set(archived)
    calendar = archived["fleet-calendar.md"].read_text()
    assert "| `apiserver` (certificate) | served |" in calendar and "prod-eu, prod-us" in calendar
    other = json.loads(archived["fleet-other.json"].read_text())
    assert [(c["context"], c["root_cause"]) for c in other["clusters"]] == [("lab-dead", "api.reachable")]
    families = {f.name for f in text_string_to_metric_families(archived["fleet-prod.prom"].read_text())}
    assert {"x509_cert_not_after", "preflight_ready", "preflight_lease_age_seconds"} <= families
    assert run["junit"] == [{"testResults": "fleet-*-junit.xml", "allowEmptyResults": False}]
    assert seen["unstable"] == []  # kubeadm's certificates have a year left: nothing within 30d


def test_sa_tokens_failure_and_a_missing_command(runs: dict[str, dict[str, Any]]) -> None:
    ws = workspace(runs["sa_tokens_fails"])
    assert (ws / "sa-tokens.json").read_text() == ""
    assert "does not exist (create it, or pass --create-sa)" in (ws / "sa-tokens.stderr").read_text()
    assert "kp-no-such-preflight: not found" in runs["not_found"]["sh"][0]["output"]
