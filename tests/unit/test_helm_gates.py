"""The two Helm gates without a cluster: what they refuse before any request, and that a gate
that does not pass never starts helm nor passes manifests on. The real Helm 3 and Helm 4 runs
are in tests/cluster/test_helm_plugin.py."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from preflight._cli.helm.plugin import run_deploy
from preflight._cli.main import check, main
from preflight._cli.helm.postrender import REPORT_ENV, default_report_path, run_post_render, split_report_option

MANIFEST = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: b\n"


@pytest.fixture
def unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kubeconfig whose server refuses connections (nothing listens on port 1)."""
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
           "users": [{"name": "u", "user": {"token": "t0ken"}}],
           "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


def post_render(stdin: bytes, *args: str, environ: dict[str, str]) -> tuple[int, bytes, str]:
    out, err = io.BytesIO(), io.StringIO()
    code = run_post_render(list(args), gate=main, stdin=io.BytesIO(stdin), stdout=out, stderr=err, environ=environ)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stdin", [b"", b"\n  \n"])
def test_empty_input_is_an_error_never_empty_output(stdin: bytes, tmp_path: Path) -> None:
    code, out, err = post_render(stdin, environ={"TMPDIR": str(tmp_path)})
    assert (code, out) == (2, b"")
    assert err.count("\n") == 1 and "no manifests on stdin" in err and "Traceback" not in err
    report = default_report_path({"TMPDIR": str(tmp_path)})
    assert "no manifests on stdin" in report.read_text() and "exit 2" in report.read_text()


@pytest.mark.parametrize(("stdin", "words"), [
    (b"{{ not: yaml", "stdin: not valid YAML"),
    (b"\xff\xfe garbage", "stdin: not valid YAML"),
    (b"just a string\n", "holds no Kubernetes objects"),
])
def test_bad_input_is_one_line_with_exit_2(stdin: bytes, words: str, unreachable: Path, tmp_path: Path) -> None:
    code, out, err = post_render(stdin, environ={"TMPDIR": str(tmp_path)})
    assert (code, out) == (2, b"")
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err


def test_a_bad_gate_option_is_one_line_with_exit_2(unreachable: Path, tmp_path: Path) -> None:
    code, out, err = post_render(MANIFEST, "--no-such-option", environ={"TMPDIR": str(tmp_path)})
    assert (code, out) == (2, b"") and err.count("\n") == 1 and "no-such-option" in err


def test_a_gate_that_fails_passes_nothing_on_and_says_where_the_report_is(unreachable: Path, tmp_path: Path) -> None:
    report = tmp_path / "gate.txt"
    code, out, err = post_render(MANIFEST, "--timeout", "1s", environ={REPORT_ENV: str(report)})
    assert (code, out) == (1, b"")
    assert "FAIL    api.reachable" in err and f"report in {report}" in err
    assert "FAIL    api.reachable" in report.read_text() and "NOT READY" in report.read_text()
    assert "t0ken" not in report.read_text() + err


def test_the_report_place_is_an_option_then_the_variable_then_tmpdir(tmp_path: Path) -> None:
    assert split_report_option(["--report", "a.txt", "-n", "x"]) == (["-n", "x"], "a.txt")
    assert split_report_option(["--report=b.txt"]) == ([], "b.txt")
    assert default_report_path({REPORT_ENV: "/r.txt", "TMPDIR": "/t"}) == Path("/r.txt")
    assert default_report_path({"TMPDIR": "/t"}) == Path(f"/t/kube-preflight-{os.getuid()}/post-render-report.txt")


def test_a_planted_report_folder_is_not_written_into(tmp_path: Path, unreachable: Path) -> None:
    folder = default_report_path({"TMPDIR": str(tmp_path)}).parent
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.symlink_to(elsewhere)
    code, _, err = post_render(b"", environ={"TMPDIR": str(tmp_path)})
    assert code == 2 and "cannot write the report" in err and list(elsewhere.iterdir()) == []


def test_deploy_is_not_run_when_the_gate_fails(unreachable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[Any] = []
    code = run_deploy("upgrade", ["web", "./chart", "--preflight-timeout", "1s"], {"HELM_NAMESPACE": "shop"},
                      gate=main, check=check, exec_helm=lambda *a: calls.append(a))
    captured = capsys.readouterr()
    assert code == 1 and calls == []
    assert captured.out == ""  # stdout is helm's; the gate reports on stderr
    assert "FAIL    api.reachable" in captured.err and "helm upgrade was not run" in captured.err


def test_deploy_with_a_bad_gate_option_runs_nothing(unreachable: Path) -> None:
    from kube_client._errors import ConfigError

    calls: list[Any] = []
    with pytest.raises(ConfigError, match="--preflight-bogus is not a preflight check option"):
        run_deploy("install", ["web", "./chart", "--preflight-bogus"], {}, gate=main, check=check, exec_helm=lambda *a: calls.append(a))
    assert calls == []


def test_deploy_renders_a_local_chart_with_helms_own_values_and_says_when_it_cannot(tmp_path: Path,
                                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "chart").mkdir()
    asked: list[list[str]] = []

    def gate(argv: list[str]) -> int:
        asked.append(argv)
        return 1  # not ready: helm is never run

    chart = str(tmp_path / "chart")
    run_deploy("upgrade", ["web", chart, "-f", "prod.yaml", "--set", "image.tag=2", "--set-string", "v=1"], {},
               gate=gate, check=check, exec_helm=lambda *a: None)
    argv = asked[-1]
    assert argv[argv.index("--chart"):] == ["--chart", chart, "--values", "prod.yaml", "--set", "image.tag=2", "--set-string", "v=1"]
    run_deploy("upgrade", ["web", "oci://registry.example/charts/web", "--set", "a=b"], {}, gate=gate, check=check,
               exec_helm=lambda *a: None)
    assert "--chart" not in asked[-1] and "--set" not in asked[-1]
    assert "is not a local folder or .tgz" in capsys.readouterr().err
