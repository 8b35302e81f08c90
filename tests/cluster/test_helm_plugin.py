"""The Helm front door on the real control plane with the real helm v3.21.4 and v4.3.2.

The plugins are installed the way a user installs them (`helm plugin install <dir>`) into
throwaway HELM_{DATA,CONFIG,CACHE}_HOME folders: the legacy CLI plugin into both helms, the
postrenderer/v1 plugin into Helm 4 only. Helm finds `preflight` and `preflight-post-render` on
PATH (this venv's bin). A broken cluster is the incident's: kube-controller-manager restarted
with an expired client certificate, so no controller runs, although helm itself still works.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from preflight._cli.helm.args import BOOL_FLAGS, VALUE_FLAGS, VALUE_FLAGS_OF
from preflight._cli.helm.commands import PLUGINS

pytestmark = pytest.mark.cluster

VENV_BIN = Path(sys.executable).parent
MAJORS = pytest.mark.parametrize("major", [3, 4], ids=["helm3", "helm4"])
CHART = {
    "Chart.yaml": "apiVersion: v2\nname: greeting\nversion: 0.1.0\n",
    "values.yaml": "message: hi\n",
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\n"
        "data:\n  message: {{ .Values.message | quote }}\n"),
}


@dataclass(frozen=True)
class Helm:
    """One real helm with its own plugin folders, run as a user would run it."""

    major: int
    binary: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "PREFLIGHT_REPORT_FILE") and not k.startswith("HELM_")}
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        for kind in ("DATA", "CONFIG", "CACHE"):
            env[f"HELM_{kind}_HOME"] = str(self.home / kind.lower())
        return env | extra

    def __call__(self, *args: str, cp: Any = None, env: dict[str, str] | None = None, argv0: str | None = None,
                 input: bytes | None = None, timeout: float = 180) -> subprocess.CompletedProcess[bytes]:
        kube = [f"--kubeconfig={cp.admin_kubeconfig}"] if cp is not None else []
        return subprocess.run([argv0 or str(self.binary), *kube, *args], executable=str(self.binary), capture_output=True,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              env=env or self.env(), timeout=timeout)


def text(result: subprocess.CompletedProcess[bytes]) -> str:
    return (result.stdout + result.stderr).decode(errors="replace")


@pytest.fixture(scope="session")
def helms(helm_bins: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[int, Helm]:
    """Helm 3 with the legacy plugin; Helm 4 with it and the postrenderer/v1 plugin."""
    out = {}
    for major, binary in helm_bins.items():
        helm = Helm(major, binary, tmp_path_factory.mktemp(f"helm{major}-home"))
        dirs = [PLUGINS / "preflight"] + ([PLUGINS / "preflight-post-render"] if major == 4 else [])
        for plugin in dirs:
            result = helm("plugin", "install", str(plugin))
            assert result.returncode == 0, text(result)
        out[major] = helm
    return out


@pytest.fixture(scope="session")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chart") / "greeting"
    for name, body in CHART.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    return root


def ours(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    """stderr lines, less the one Helm adds for any plugin that exits non-zero."""
    return [line for line in result.stderr.decode().splitlines() if line.strip() and not line.startswith("Error: plugin ")]


def revisions(cp: Any, release: str, namespace: str) -> list[int]:
    """The revisions Helm stored (its release Secrets), read with kubectl, not with helm."""
    out = cp.kubectl("get", "secrets", "-n", namespace, "-l", f"owner=helm,name={release}", "-o", "json").stdout
    return sorted(int(s["metadata"]["labels"]["version"]) for s in json.loads(out)["items"])


# -- the CLI plugin ------------------------------------------------------------------------------


@MAJORS
def test_the_legacy_plugin_loads_and_check_passes_with_helms_namespace(major: int, helms: dict[int, Helm], cluster: Any) -> None:
    helm = helms[major]
    listed = helm("plugin", "list")
    assert re.search(r"^preflight\s+0\.1\.0", listed.stdout.decode(), re.M), text(listed)
    cluster.kubectl("create", "namespace", f"checked{major}")
    result = helm("-n", f"checked{major}", "--kube-context", "kubernetes-admin@kubernetes", "preflight", "check", "-o", "json", cp=cluster)
    assert result.returncode == 0, text(result)
    report = json.loads(result.stdout)  # preflight check's own JSON, on stdout as from the command
    assert report["summary"]["ready"] is True and report["summary"]["target"] == {
        "context": "kubernetes-admin@kubernetes", "server": cluster.server, "namespace": f"checked{major}"}  # HELM_NAMESPACE, HELM_KUBECONTEXT
    outcomes = {c["id"]: c["outcome"] for c in report["checks"]}
    assert outcomes["api.reachable"] == "pass" and outcomes["auth.permissions"] == "pass"


@MAJORS
def test_upgrade_through_the_plugin_deploys_with_every_argument_forwarded(major: int, helms: dict[int, Helm], cluster: Any,
                                                                        chart: Path) -> None:
    helm, release, ns = helms[major], f"fwd{major}", f"fwd{major}"
    argv = ["-n", ns, "preflight", "upgrade", "--install", release, str(chart), "--create-namespace",
            "--set", "message=hello world", "--description", "via preflight", "-o", "json"]
    first = helm(*argv, cp=cluster)
    assert first.returncode == 0, text(first)
    deployed = json.loads(first.stdout)  # stdout is helm's alone: the gate reported on stderr
    assert (deployed["name"], deployed["version"], deployed["info"]["description"]) == (release, 1, "via preflight")
    assert "READY:" in first.stderr.decode() and "helm.release" in first.stderr.decode()
    message = cluster.kubectl("get", "configmap", f"{release}-greeting", "-n", ns, "-o", "jsonpath={.data.message}").stdout
    assert message == "hello world"
    again = helm(*argv, cp=cluster)
    assert again.returncode == 0, text(again)
    assert revisions(cluster, release, ns) == [1, 2]


@MAJORS
def test_helm_bin_gets_the_arguments_unchanged_and_its_exit_code_is_kept(major: int, helms: dict[int, Helm], cluster: Any,
                                                                        chart: Path, tmp_path: Path) -> None:
    # helm sets HELM_BIN to its own argv[0] (pkg/cli/environment.go EnvVars); run it under the
    # name of a script that records what the plugin execs and exits 7 like a failing helm. The
    # gate renders the local chart with the same HELM_BIN first: that `helm template` is real.
    helm = helms[major]
    recorder = tmp_path / "recorder"
    recorder.write_text(f'#!/bin/sh\n[ "$1" = template ] && exec {helm.binary} "$@"\n'
                        'for a in "$@"; do printf "%s\\0" "$a"; done > "$RECORD"\n'
                        'printf "%s" "$HELM_NAMESPACE" > "$RECORD.ns"\nexit 7\n')
    recorder.chmod(0o755)
    tricky = ["up", "web", str(chart), "--set", "a=b c", "--set-string=x=--not-a-flag", "-f", "/dev/null", "--", "--raw"]
    result = helm("-n", "default", "preflight", "upgrade", *tricky[1:], cp=cluster, argv0=str(recorder),
                  env=helm.env(RECORD=str(tmp_path / "argv")))
    assert result.returncode == 7, text(result)  # helm passes the plugin's exit code on
    assert (tmp_path / "argv").read_bytes().split(b"\0")[:-1] == [b"upgrade", *(a.encode() for a in tricky[1:])]
    # helm's global flags were moved into the environment, and they stay there for the child
    assert (tmp_path / "argv.ns").read_text() == "default"


@MAJORS
def test_a_kube_token_reaches_the_gate_and_is_in_no_argv(major: int, helms: dict[int, Helm], cluster: Any, tmp_path: Path) -> None:
    ns = f"tok{major}"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("create", "serviceaccount", "deployer", "-n", ns)
    token = cluster.kubectl("create", "token", "deployer", "-n", ns).stdout.strip()
    helm = helms[major]
    env = helm.env(KUBECONFIG=str(tmp_path / "none"))  # no kubeconfig at all: helm's flags are the whole target
    result = helm("-n", ns, "--kube-apiserver", cluster.server, "--kube-ca-file", str(cluster.pki_dir / "ca.crt"),
                  "--kube-token", token, "preflight", "check", "--service-account", f"{ns}/deployer", env=env)
    out = text(result)
    assert f"system:serviceaccount:{ns}:deployer" in out  # the gate authenticated with the flag's token
    assert token not in out
    assert result.returncode == 1  # a new ServiceAccount may not deploy: auth.permissions fails, as it should
    assert "FAIL    auth.permissions" in out


@MAJORS
def test_missing_preflight_is_one_line_saying_how_to_fix_it(major: int, helms: dict[int, Helm]) -> None:
    helm = helms[major]
    result = helm("preflight", "check", env=helm.env(PATH="/usr/bin:/bin"))
    assert result.returncode == 2
    lines = ours(result)
    assert len(lines) == 1 and "cannot find the preflight command" in lines[0] and "PREFLIGHT_BIN" in lines[0]


@MAJORS
def test_a_bad_gate_option_is_one_line_and_helm_is_not_run(major: int, helms: dict[int, Helm], cluster: Any, chart: Path) -> None:
    result = helms[major]("preflight", "upgrade", "--install", "never", str(chart), "--preflight-bogus", cp=cluster)
    lines = ours(result)
    assert result.returncode == 2 and len(lines) == 1 and "--preflight-bogus is not a preflight check option" in lines[0]
    assert "Traceback" not in text(result) and revisions(cluster, "never", "default") == []


def test_the_flag_table_matches_both_helms(helms: dict[int, Helm]) -> None:
    rx = re.compile(r"^\s+(?:-\w, )?--([a-z0-9-]+)(?: (\S+))?\s{2,}", re.M)
    for helm in helms.values():
        for command in ("install", "upgrade"):
            for name, kind in rx.findall(helm(command, "--help").stdout.decode()):
                takes_value = bool(kind) and "[=" not in kind
                value_flags = VALUE_FLAGS | VALUE_FLAGS_OF[command]
                assert (name in value_flags) == takes_value, f"helm{helm.major} {command} --{name} ({kind or 'bool'})"
                assert takes_value or name in BOOL_FLAGS, f"helm{helm.major} {command} --{name} is not in BOOL_FLAGS"


# -- the post-renderer --------------------------------------------------------------------------


def post_render_flags(cp: Any, namespace: str, *extra: str) -> list[str]:
    """The same flags for Helm 3 (an executable on PATH) and Helm 4 (the plugin's name); helm
    passes no target to a post-renderer (v3 pkg/postrender/exec.go execRender.Run sets no env), so it comes as --post-renderer-args."""
    return ["--post-renderer", "preflight-post-render", f"--post-renderer-args=--kubeconfig={cp.admin_kubeconfig}",
            f"--post-renderer-args=--namespace={namespace}", *(f"--post-renderer-args={e}" for e in extra)]


@MAJORS
def test_post_renderer_passes_the_manifests_through_byte_for_byte(major: int, helms: dict[int, Helm], cluster: Any,
                                                                  chart: Path) -> None:
    helm = helms[major]
    plain = helm("template", "pt", str(chart), "--set", "message=  spaced  ", cp=cluster)
    gated = helm("template", "pt", str(chart), "--set", "message=  spaced  ", *post_render_flags(cluster, "default"), cp=cluster)
    assert plain.returncode == 0 and gated.returncode == 0, text(gated)
    assert gated.stdout == plain.stdout and b"kind: ConfigMap" in gated.stdout


@MAJORS
def test_post_renderer_lets_a_deploy_through_on_a_healthy_cluster(major: int, helms: dict[int, Helm], cluster: Any,
                                                                  chart: Path, tmp_path: Path) -> None:
    helm, release = helms[major], f"pr{major}"
    result = helm("upgrade", "--install", release, str(chart), "-n", "default", *post_render_flags(cluster, "default"),
                  cp=cluster, env=helm.env(TMPDIR=str(tmp_path)))
    assert result.returncode == 0, text(result)
    assert revisions(cluster, release, "default") == [1]
    report = tmp_path / f"kube-preflight-{os.getuid()}" / "post-render-report.txt"  # the documented default place
    assert "exit 0" in report.read_text() and "READY:" in report.read_text()


def test_post_renderer_output_equals_its_input_exactly(cluster: Any, tmp_path: Path) -> None:
    odd = "# comment kept\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: odd   \r\ndata: {k: \"ünïcode\"}".encode()
    result = subprocess.run([str(VENV_BIN / "preflight-post-render"), "--kubeconfig", str(cluster.admin_kubeconfig), "-q",
                             "--report", str(tmp_path / "r.txt")], input=odd, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == odd


@pytest.mark.parametrize(("stdin", "words"), [(b"", "no manifests on stdin"), (b"{{ oops", "not valid YAML")])
def test_post_renderer_bad_input_is_one_line_with_exit_2(stdin: bytes, words: str, cluster: Any, tmp_path: Path) -> None:
    result = subprocess.run([str(VENV_BIN / "preflight-post-render"), "--kubeconfig", str(cluster.admin_kubeconfig),
                             "--report", str(tmp_path / "r.txt")], input=stdin, capture_output=True, timeout=60)
    err = result.stderr.decode()
    assert (result.returncode, result.stdout) == (2, b"")
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err


@MAJORS
def test_a_chart_that_renders_nothing_is_refused_not_applied_empty(major: int, helms: dict[int, Helm], cluster: Any,
                                                                   tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "templates").mkdir(parents=True)
    (empty / "Chart.yaml").write_text("apiVersion: v2\nname: empty\nversion: 0.1.0\n")
    result = helms[major]("upgrade", "--install", f"empty{major}", str(empty), "-n", "default",
                          *post_render_flags(cluster, "default"), cp=cluster)
    assert result.returncode != 0 and revisions(cluster, f"empty{major}", "default") == []
    if major == 3:  # Helm 3 shows the post-renderer's stderr in its error; Helm 4 drops it (v4 internal/plugin/runtime_subprocess.go runPostrenderer)
        assert "no manifests on stdin" in text(result)


def test_helm3_cannot_load_the_helm4_post_render_plugin_so_it_ships_apart(helm_bins: dict[int, Path], tmp_path: Path) -> None:
    # Why the postrenderer/v1 plugin is a folder of its own and the README says "Helm 4 only"
    # (v3 pkg/plugin/plugin.go LoadDir decodes strictly): Helm 3 cannot read apiVersion v1.
    helm3 = Helm(3, helm_bins[3], tmp_path)
    result = helm3("plugin", "install", str(PLUGINS / "preflight-post-render"))
    assert result.returncode != 0 and "apiVersion" in text(result)


# -- on a broken cluster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken(_breakable_session: Any, helms: dict[int, Helm], chart: Path) -> Iterator[Any]:
    """Releases deployed while healthy (revision 1 each), then the incident: kube-controller-
    manager restarted with an expired client certificate. Helm still works against the API; the
    gate must not. Restored afterwards (the certificate renewed, the controller-manager restarted)."""
    cp = _breakable_session
    for major, helm in helms.items():
        for release in (f"gated{major}", f"vetoed{major}"):
            result = helm("upgrade", "--install", release, str(chart), "-n", "default", cp=cp)
            assert result.returncode == 0, text(result)
    cp.break_("expire-client-cert", "controller-manager")

    def gate_fails() -> bool:
        result = helms[3]("preflight", "check", "-q", "-o", "json", "--timeout", "10s", cp=cp)
        checks = {c["id"]: c["outcome"] for c in json.loads(result.stdout or b'{"checks": []}')["checks"]}
        return result.returncode == 1 and checks.get("controlplane.leases") == "fail"

    cp.wait_for(gate_fails, timeout=150, what="the gate to see kube-controller-manager's stale lease")
    yield cp
    cp.restore()


@MAJORS
def test_plugin_refuses_to_deploy_on_a_broken_cluster_and_helm_is_not_run(major: int, helms: dict[int, Helm], broken: Any,
                                                                        chart: Path) -> None:
    release = f"gated{major}"
    result = helms[major]("-n", "default", "preflight", "upgrade", release, str(chart), "--set", "message=new", cp=broken)
    err = result.stderr.decode()
    assert result.returncode == 1, text(result)  # preflight's code: not ready
    assert "FAIL    controlplane.leases" in err and "helm upgrade was not run" in err
    assert result.stdout == b"" and revisions(broken, release, "default") == [1]


@MAJORS
def test_post_renderer_vetoes_an_upgrade_on_a_broken_cluster_and_no_revision_appears(major: int, helms: dict[int, Helm], broken: Any,
                                                                                     chart: Path, tmp_path: Path) -> None:
    helm, release, report = helms[major], f"vetoed{major}", tmp_path / "report.txt"
    result = helm("upgrade", release, str(chart), "-n", "default", "--set", "message=new",
                  *post_render_flags(broken, "default"), cp=broken, env=helm.env(PREFLIGHT_REPORT_FILE=str(report)))
    assert result.returncode != 0
    assert revisions(broken, release, "default") == [1]  # nothing stored, nothing applied
    assert "FAIL    controlplane.leases" in report.read_text()
    if major == 3:
        assert "FAIL    controlplane.leases" in text(result) and f"report in {report}" in text(result)
    else:
        assert "exited with error" in text(result)  # all Helm 4 shows: hence the report file
    # The same upgrade without the gate goes through: the veto was the gate's, not helm's.
    ungated = helm("upgrade", release, str(chart), "-n", "default", "--set", "message=new", cp=broken)
    assert ungated.returncode == 0 and revisions(broken, release, "default") == [1, 2]
