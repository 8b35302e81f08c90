"""The explain and check --chart command lines, where no cluster is needed: usage, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from preflight._cli.main import main
from tests.pkifactory import kubeconfig_doc, write_kubeconfig

CHART = Path(__file__).resolve().parents[1] / "cluster" / "charts" / "web"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    # a server nothing listens on: every case below must stop before the first request
    return str(write_kubeconfig(tmp_path / "config", kubeconfig_doc(server="https://127.0.0.1:1", token="t0ken-never-sent")))


@pytest.mark.parametrize(("argv", "message"), [
    (["explain"], "Missing option '--release'"),
    (["check", "--chart", str(CHART), "--manifests", "x.yaml"], "--chart and --manifests exclude each other"),
    (["check", "-f", "values.yaml"], "-f/--values and --set* need --chart"),
    (["check", "--set", "a=b"], "-f/--values and --set* need --chart"),
])
def test_usage_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_a_missing_chart_values_file_or_helm_is_exit_2_before_any_request(
        capsys: pytest.CaptureFixture[str], kubeconfig: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, "check", "--kubeconfig", kubeconfig, "--chart", str(tmp_path / "nope"))
    assert code == 2 and "chart" in err and "does not exist" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "check", "--kubeconfig", kubeconfig, "--chart", str(CHART), "-f", str(tmp_path / "v.yaml"))
    assert code == 2 and "values file" in err
    monkeypatch.setenv("HELM_BIN", str(tmp_path / "no-helm-here"))
    code, out, err = run(capsys, "check", "--kubeconfig", kubeconfig, "--chart", str(CHART))
    assert code == 2 and "helm not found" in err and "set HELM_BIN" in err and out == ""
    assert "Traceback" not in err and "t0ken" not in err


def test_no_command_path_loads_asyncio_or_pydantic() -> None:
    """Charts render with helm template exec'd directly: no event loop and no pyhelm3/pydantic
    (their import cost more than a whole check: bench/client_import.py)."""
    code = ("import sys, preflight._cli.main, preflight._cli.check, preflight._collect.cluster, preflight._cli.explain, preflight._collect.chart; "
            "loaded = sorted({'asyncio', 'pyhelm3', 'pydantic'} & set(sys.modules)); print(loaded); sys.exit(1 if loaded else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
