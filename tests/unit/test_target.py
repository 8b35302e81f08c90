"""Target resolution: which cluster, credential and namespace, exactly as kubectl picks them."""

import os
from pathlib import Path

import pytest

from preflight._cli import main
from kube_client._errors import ConfigError
from kube_client._target import resolve_target
from tests.pkifactory import kubeconfig_doc, make_ca, make_leaf, write, write_kubeconfig


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
    doc = kubeconfig_doc(server="https://192.0.2.1:6443", extra_user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "no-such-auth-plugin",
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
