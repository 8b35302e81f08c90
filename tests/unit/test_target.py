"""Target resolution: which cluster, credential and namespace, exactly as kubectl picks them."""

import os
from pathlib import Path

import pytest

from preflight._cli.main import main
from kube_client._errors import ConfigError
from kube_client._target import resolve_target
from tests.pkifactory import kubeconfig_doc, make_ca, make_leaf, write, write_kubeconfig

# Nothing listens on port 1: a request made anyway is refused at once, on this machine. 192.0.2.1
# (TEST-NET-1) is not unroutable everywhere: where this suite runs it is the default gateway, which
# drops the SYN, and each command that connected waited out the 5 s connect timeout.
NOWHERE = "https://127.0.0.1:1"


def kubeconfig(tmp_path: Path, **kw: object) -> Path:
    return write_kubeconfig(tmp_path / "config", kubeconfig_doc(ca=make_ca(), client=make_leaf(make_ca(), "x"), **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flag", "context_ns", "expected", "source"),
    [("shop", "team", "shop", "flag"), (None, "team", "team", "context"), (None, None, "default", "default")],
)
def test_namespace_precedence_is_flag_then_context_then_default(tmp_path: Path, flag: str | None, context_ns: str | None,
                                                              expected: str, source: str) -> None:
    path = kubeconfig(tmp_path, namespace=context_ns)
    target = resolve_target(kubeconfig=str(path), namespace=flag, environ={})
    assert (target.namespace, target.namespace_source) == (expected, source)


def test_in_cluster_service_account_is_used_when_no_kubeconfig_exists(tmp_path: Path) -> None:
    sa = tmp_path / "sa"
    write(sa / "token", "tok3n")
    write(sa / "ca.crt", make_ca().cert_pem)
    write(sa / "namespace", "ci")
    env = {"HOME": str(tmp_path / "home"), "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    target = resolve_target(environ=env, sa_dir=sa)
    assert (target.context, target.cluster.server, target.namespace) == ("in-cluster", "https://10.96.0.1:443", "ci")
    assert target.credentials.token is not None and target.credentials.token.data == b"tok3n"
    assert "tok3n" not in repr(target)


def test_kubeconfig_wins_over_in_cluster_when_both_exist(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, context="laptop")
    sa = tmp_path / "sa"
    write(sa / "token", "t")
    target = resolve_target(environ={"KUBECONFIG": str(path), "KUBERNETES_SERVICE_HOST": "10.0.0.1"}, sa_dir=sa)
    assert target.context == "laptop"


def test_missing_exec_plugin_is_refused_before_any_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = kubeconfig_doc(server=NOWHERE, extra_user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "no-such-auth-plugin", "interactiveMode": "Never",
        "installHint": "install it from your cloud's CLI"}})
    path = write_kubeconfig(tmp_path / "config", doc)
    code = main(["check", "--kubeconfig", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "exec credential plugin 'no-such-auth-plugin'" in err and "install it from your cloud's CLI" in err


def test_server_without_scheme_is_a_config_error(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, server="127.0.0.1:6443")
    with pytest.raises(ConfigError, match="is not an http"):
        resolve_target(kubeconfig=str(path), environ={})


def test_unreadable_kubeconfig_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder-not-file"
    folder.mkdir()
    with pytest.raises(ConfigError, match=str(folder)):
        resolve_target(kubeconfig=str(folder), environ=dict(os.environ))


def test_a_missing_certificate_authority_file_is_named_and_nothing_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl refuses an unreadable CA file; falling back to the system trust store would
    verify the server against the wrong roots (issue 12)."""
    doc = kubeconfig_doc(server=NOWHERE)
    doc["clusters"][0]["cluster"]["certificate-authority"] = str(tmp_path / "gone" / "ca.crt")  # type: ignore[index]
    path = write_kubeconfig(tmp_path / "config", doc)
    for argv in (["check", "--kubeconfig", str(path)], ["kubeconfig", "--kubeconfig", str(path)]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        assert str(tmp_path / "gone" / "ca.crt") in err and "does not exist" in err


def test_an_exec_plugin_without_a_shebang_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin = tmp_path / "get-token"
    plugin.write_text('echo \'{"status": {"token": "t"}}\'\n')  # no #!: execve fails with ENOEXEC
    plugin.chmod(0o755)
    doc = kubeconfig_doc(server=NOWHERE, extra_user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin), "interactiveMode": "Never"}})
    path = write_kubeconfig(tmp_path / "config", doc)
    code = main(["check", "--kubeconfig", str(path), "-o", "json", "--quiet"])
    out, err = capsys.readouterr()
    # bad input, as kubectl stops at it: one line and exit 2, no report
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "cannot be started" in err and "#!" in err


@pytest.mark.parametrize("token", ["s3cr3t-token\r\nX-Injected: 1", "s3cr3t\ntoken", "s3cr3t\x00token", "s3cr3t\u2019token"])
def test_a_hostile_token_is_one_line_exit_2_and_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str], token: str) -> None:
    """http.client's refusal of a CR/LF header quotes 'Bearer <token>'; it reached findings, the
    JSON report, and a traceback in sa-tokens status (issue 12)."""
    from sa_tokens._cli import main as sa_tokens_main
    from tests.hostile_server import black_hole

    with black_hole() as (address, log):
        path = write_kubeconfig(tmp_path / "config", kubeconfig_doc(server=f"https://{address}", token=token))
        for run, argv in ((main, ["check", "--kubeconfig", str(path), "-o", "json", "--quiet"]),
                          (sa_tokens_main, ["status", "-n", "ci", "--kubeconfig", str(path)])):
            code = run(argv)
            out, err = capsys.readouterr()
            assert code == 2 and out == "" and err.count("\n") == 1, (argv[0], err)
            assert "s3cr3t" not in err and "cannot be sent in an HTTP header" in err
    assert log.connections == 0  # refused as input, before any connection to the server


def test_an_html_login_page_is_named_as_not_the_kubernetes_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An SSO proxy answers every path with 200 and a login page; that used to be an
    AttributeError traceback. This is a web server that is not Kubernetes, not a fake of it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class LoginPage(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall per answer

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = b"<html><body>Please sign in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), LoginPage)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()  # shutdown() waits one poll
    try:
        path = write_kubeconfig(tmp_path / "config", kubeconfig_doc(server=f"http://127.0.0.1:{server.server_port}", token="t"))
        code = main(["check", "--kubeconfig", str(path), "-o", "json", "--quiet", "--timeout", "10s"])
        out, err = capsys.readouterr()
    finally:
        server.shutdown()
    import json

    findings = {f["id"]: f for f in json.loads(out)["checks"]}
    assert code == 1 and "Traceback" not in err
    assert findings["api.reachable"]["outcome"] in ("fail", "error")
    assert "this is not the Kubernetes API" in findings["api.reachable"]["message"]
