"""The command line contract: exit codes, one-line errors, files written only on success."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from preflight._cli.main import main
from tests.pkifactory import NOW, YEAR, kubeadm_tree, kubeconfig_doc, make_ca, make_leaf, write_kubeconfig

DAY = timedelta(days=1)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), clock=lambda: NOW + timedelta(hours=1))
    out, err = capsys.readouterr()
    return code, out, err


def test_certs_json_reports_every_row_and_exits_1_on_an_expired_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = kubeadm_tree(tmp_path, overrides={"controller-manager.conf": {"not_before": -YEAR - 2 * DAY}})
    code, out, err = run(capsys, "certs", "--pki-dir", str(tree.root), "--kubelet-dir", str(tree.kubelet), "-o", "json")
    doc = json.loads(out)
    outcomes = {c["id"]: c["outcome"] for c in doc["checks"]}
    assert code == 1 and err == ""
    assert outcomes["pki.controller-manager.conf"] == "fail"
    assert outcomes["pki.apiserver"] == "pass"
    assert doc["summary"]["exit_code"] == 1


def test_certs_on_a_healthy_tree_exits_0_and_strict_turns_a_warning_into_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = kubeadm_tree(tmp_path)
    argv = ["certs", "--pki-dir", str(tree.root), "--kubelet-dir", str(tree.kubelet)]
    assert run(capsys, *argv)[0] == 0
    (tree.root / "super-admin.conf").unlink()  # a warning
    assert run(capsys, *argv)[0] == 0
    assert run(capsys, *argv, "--strict")[0] == 1


def test_junit_and_markdown_files_are_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = kubeadm_tree(tmp_path)
    junit, md = tmp_path / "out" / "preflight.xml", tmp_path / "out" / "preflight.md"
    junit.parent.mkdir()
    code, _, _ = run(capsys, "certs", "--pki-dir", str(tree.root), "--kubelet-dir", str(tree.kubelet), "--junit", str(junit), "--markdown", str(md))
    assert code == 0
    assert "<testsuites" in junit.read_text() and 'name="pki.apiserver"' in junit.read_text()
    assert md.read_text().startswith("### preflight: READY")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["certs", "--pki-dir", "/nonexistent"], "/nonexistent: is not a directory"),
        (["certs", "--warn-within", "soon"], "--warn-within: 'soon' is not a duration"),
        (["certs", "--warn-within", "1d", "--fail-within", "7d"], "--fail-within is longer than --warn-within"),
        (["certs", "-o", "yaml"], "Invalid value for '-o'"),
        (["kubeconfig", "--context", "a", "--all-contexts"], "exclude each other"),
        (["nosuchcommand"], "No such command"),
        (["check", "--from-release", "3"], "--from-release needs --release"),
        (["check", "--release", "web", "--from-release", "3", "--manifests", "-"], "excludes --manifests and --chart"),
        (["check", "--release", "web", "--from-release", "0"], "--from-release"),
    ],
)
def test_usage_and_config_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("preflight: error: ") and message in err
    assert "Traceback" not in err


def test_unwritable_report_path_is_refused_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = kubeadm_tree(tmp_path)
    md = tmp_path / "preflight.md"
    code, out, err = run(capsys, "certs", "--pki-dir", str(tree.root), "--markdown", str(md), "--junit", str(tmp_path / "no" / "r.xml"))
    assert code == 2 and "--junit: folder" in err and out == ""
    assert not md.exists()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["users"][0]["user"].update({"client-certificate-data": "%%%"}), "client-certificate-data: is not valid base64"),
        (lambda d: d["users"][0]["user"].pop("client-certificate-data"), "has client-key but no client-certificate"),
        (lambda d: d.update({"current-context": "gone"}), "context 'gone' does not exist"),
    ],
)
def test_bad_kubeconfig_input_is_exit_2_naming_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate, message: str) -> None:
    doc = kubeconfig_doc(ca=make_ca(), client=make_leaf(make_ca(), "x"))
    mutate(doc)
    path = write_kubeconfig(tmp_path / "config", doc)
    code, out, err = run(capsys, "kubeconfig", "--kubeconfig", str(path))
    assert code == 2 and out == "" and message in err and str(path) in err


def test_kubeconfig_all_contexts_reports_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = make_ca(not_before=-2 * YEAR)
    fresh, stale = make_leaf(ca, "dev"), make_leaf(ca, "prod", not_before=-YEAR - 3 * DAY)
    doc = kubeconfig_doc(ca=ca, client=fresh, user="dev", context="dev")
    other = kubeconfig_doc(ca=ca, client=stale, user="prod", context="prod")
    doc["users"] += other["users"]  # type: ignore[operator]
    doc["contexts"] += other["contexts"]  # type: ignore[operator]
    path = write_kubeconfig(tmp_path / "config", doc)
    code, out, _ = run(capsys, "kubeconfig", "--kubeconfig", str(path), "--all-contexts", "-o", "json")
    creds = {c["evidence"]["context"]: c["outcome"] for c in json.loads(out)["checks"] if c["id"] == "kubeconfig.credentials"}
    assert creds == {"dev": "pass", "prod": "fail"} and code == 1


def test_kubeconfig_env_var_is_honoured(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_kubeconfig(tmp_path / "config", kubeconfig_doc(ca=make_ca(), client=make_leaf(make_ca(), "x"), context="from-env"))
    monkeypatch.setenv("KUBECONFIG", str(path))
    code, out, _ = run(capsys, "kubeconfig", "-o", "json")
    assert code == 0 and json.loads(out)["checks"][1]["evidence"]["context"] == "from-env"


def _outputs(*commands: list[str], env: dict[str, str] | None = None) -> list[str]:
    """Run independent fresh interpreters side by side (each pays Python's start-up and imports);
    their standard outputs, in order."""
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for argv in commands]
    return [proc.communicate(timeout=60)[0] for proc in procs]


def test_the_real_console_script_runs_and_module_form_too() -> None:
    script = str(Path(sys.executable).parent / "preflight")
    console, module = _outputs([script, "--version"], [sys.executable, "-m", "preflight", "--version"])
    assert console.strip() == "preflight 0.1.0"
    assert module.strip() == "preflight 0.1.0"


def test_offline_commands_do_not_import_network_clients(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    probe = (
        "import sys; from preflight._cli.main import main; "
        f"code = main(['certs', '--pki-dir', {str(tree.root)!r}, '-o', 'json']); "
        "heavy = [m for m in ('kubernetes', 'urllib3', 'requests', 'kube_client._http') if m in sys.modules]; "
        "print(heavy)"
    )
    version_probe = "import sys; from preflight._cli.main import main; main(['--version']); print(sorted(m for m in ('cryptography', 'yaml', 'kubernetes', 'urllib3') if m in sys.modules))"
    certs, version = _outputs([sys.executable, "-c", probe], [sys.executable, "-c", version_probe], env={**os.environ, "NO_COLOR": "1"})
    assert certs.strip().splitlines()[-1] == "[]"
    assert version.strip().splitlines()[-1] == "[]"


def test_an_unexpected_error_is_one_line_exit_2_without_its_message(capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI boundary's last line of defence (issue 12): a bug is reported by type and place,
    never by its text, which may quote a token; PREFLIGHT_DEBUG=1 gives the traceback."""
    import preflight._cli.offline

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Bearer s3cr3t")

    monkeypatch.setattr(preflight._cli.offline, "kubeconfig_report", broken)
    code = main(["kubeconfig"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "unexpected RuntimeError at test_cli.py:" in err and "s3cr3t" not in err
    monkeypatch.setenv("PREFLIGHT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["kubeconfig"])
