"""The ``sa-tokens`` command line contract for bad input: exit 2, one ``sa-tokens: error:``
line on stderr, nothing on stdout, no traceback, and no request made.

The kubeconfig points at a port on which nothing listens, so a command that got as far as
connecting would fail differently (and slowly: it retries until its deadline).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from sa_tokens import __version__
from tests.pkifactory import kubeconfig_doc, make_ca, write_kubeconfig

TOKEN = "unit-test-secret-token-0123456789"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    doc = kubeconfig_doc(server=f"https://127.0.0.1:{port}", ca=make_ca(), token=TOKEN, namespace="ci")
    return str(write_kubeconfig(tmp_path / "closed.conf", doc))


def assert_one_line_error(code: int, out: str, err: str, message: str) -> None:
    assert (code, out) == (2, ""), (code, out, err)
    assert err.count("\n") == 1 and err.startswith("sa-tokens: error: "), err
    assert message in err
    assert "Traceback" not in err and TOKEN not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["ensure", "jenkins", "--wait", "soon"], "--wait: 'soon' is not a duration"),
    (["ensure", "jenkins", "--wait", "-5s"], "--wait: '-5s' is not a duration"),
    (["rotate", "jenkins", "--grace", "forever"], "--grace: 'forever' is not a duration"),
    (["rotate", "jenkins", "--wait", "1 minute"], "--wait: '1 minute' is not a duration"),
    (["status", "-n", "ci", "-A"], "-n and -A exclude each other"),
    (["ensure", "Jenkins", "-n", "ci"], "ServiceAccount 'Jenkins' is not a valid name"),
    (["ensure", "jenkins", "-n", "CI"], "namespace 'CI' is not a valid name"),
    (["ensure", "jenkins", "-n", "ci", "--secret-name", "jenkins_token"], "Secret 'jenkins_token' is not a valid name"),
    (["ensure", "jenkins.bot-"], "ServiceAccount 'jenkins.bot-' is not a valid name"),  # -n from the context: ci
    (["rotate", "jenkins", "-n", "ci.prod", "--grace", "0"], "namespace 'ci.prod' is not a valid name"),
    (["status", "-n", "Team_A"], "namespace 'Team_A' is not a valid name"),
    (["ensure"], "Missing argument 'SERVICEACCOUNT'"),
    (["ensure", "jenkins", "-o", "yaml"], "Invalid value for '-o'"),
    (["ensure", "jenkins", "--bogus"], "No such option '--bogus'"),
    (["ensure", "jenkins", "--kubeconfig-out", "/nonexistent/folder/jenkins.conf"], "folder /nonexistent/folder does not exist"),
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
])
def test_usage_errors_exit_2_with_one_line_before_any_request(sa_tokens_cli: Cli, kubeconfig: str, argv: list[str],
                                                               message: str) -> None:
    code, out, err = sa_tokens_cli(*argv, "--kubeconfig", kubeconfig) if argv != ["nosuchcommand"] else sa_tokens_cli(*argv)
    assert_one_line_error(code, out, err, message)


def test_a_missing_kubeconfig_is_a_one_line_error(sa_tokens_cli: Cli, tmp_path: Path) -> None:
    code, out, err = sa_tokens_cli("ensure", "jenkins", "-n", "ci", "--kubeconfig", str(tmp_path / "absent.conf"))
    assert_one_line_error(code, out, err, str(tmp_path / "absent.conf"))


def test_bad_input_writes_no_output_file(sa_tokens_cli: Cli, kubeconfig: str, tmp_path: Path) -> None:
    target = tmp_path / "jenkins.conf"
    code, out, err = sa_tokens_cli("ensure", "Jenkins", "-n", "ci", "--kubeconfig", kubeconfig, "--kubeconfig-out", str(target),
                                   "--token-out", str(tmp_path / "token"))
    assert_one_line_error(code, out, err, "ServiceAccount 'Jenkins' is not a valid name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["closed.conf"]


def test_version_exits_0(sa_tokens_cli: Cli) -> None:
    assert sa_tokens_cli("--version") == (0, f"sa-tokens {__version__}\n", "")


def test_a_token_out_that_is_a_folder_is_refused_before_any_request(sa_tokens_cli: Cli, kubeconfig: str, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    code, out, err = sa_tokens_cli("ensure", "jenkins", "-n", "ci", "--kubeconfig", kubeconfig, "--token-out", str(folder))
    assert_one_line_error(code, out, err, "is a folder, not a file")
