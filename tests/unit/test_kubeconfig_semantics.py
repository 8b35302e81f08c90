"""kubeconfig semantics as kubectl (client-go) has them: one test per row of the README table
"kubeconfig semantics (as kubectl)". The same cases run through the real kubectl in
tests/cluster/test_kubectl_parity.py; these pin our side without a cluster."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kube_client._deadline import Deadline
from kube_client._errors import ConfigError, ForbiddenError, UnauthorizedError
from kube_client._headers import impersonation_headers
from kube_client._http import KubeClient, _run_exec_plugin, exec_info
from kube_client._kubeconfig import AuthProvider, ExecSpec, default_paths, load_kubeconfig, provider_token
from kube_client._target import resolve_target
from preflight._checks.auth import auth_identity
from preflight._cli.main import main
from preflight._engine.runner import FactError
from preflight._facts.policy import Policy
from tests.pkifactory import kubeconfig_doc, make_ca, make_leaf, write, write_kubeconfig

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"
NOW = datetime.now(UTC)


def conf(tmp_path: Path, doc: dict[str, Any], name: str = "config") -> Path:
    return write_kubeconfig(tmp_path / name, doc)


def user_doc(**user: object) -> dict[str, Any]:
    # Nothing listens on 127.0.0.1:1: a command that connects anyway is refused at once, on this machine.
    return kubeconfig_doc(server="https://127.0.0.1:1", extra_user=dict(user))


def jwt(claims: dict[str, object]) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'RS256'})}.{enc(claims)}.c2ln"


def one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and out == "", err
    return err


# -- impersonation -----------------------------------------------------------------------------

def test_impersonation_fields_become_the_headers_kubectl_sends(tmp_path: Path) -> None:
    path = conf(tmp_path, user_doc(token="t", **{"as": "jane", "as-uid": "u-1", "as-groups": ["dev", "ops"],
                                                  "as-user-extra": {"scopes.example.com/Team one": ["a", "b"], "100%": ["x"]}}))
    target = resolve_target(kubeconfig=str(path), environ={})
    assert impersonation_headers(target.credentials.impersonate) == [
        ("Impersonate-User", "jane"), ("Impersonate-Uid", "u-1"),
        ("Impersonate-Group", "dev"), ("Impersonate-Group", "ops"),  # repeated, never comma-joined
        # round_trippers.go headerKeyEscape: '/' and ' ' are not token characters, '%' is escaped too
        ("Impersonate-Extra-scopes.example.com%2FTeam%20one", "a"), ("Impersonate-Extra-scopes.example.com%2FTeam%20one", "b"),
        ("Impersonate-Extra-100%25", "x"),
    ]
    client = KubeClient(target, Deadline(5))
    sent = list(client._headers)
    client.close()
    assert [v for k, v in sent if k == "Impersonate-Group"] == ["dev", "ops"] and ("Impersonate-User", "jane") in sent


@pytest.mark.parametrize("field", [{"as-groups": ["system:masters"]}, {"as-uid": "u"}, {"as-user-extra": {"k": ["v"]}}])
def test_groups_uid_or_extra_without_as_is_refused_in_client_gos_words(tmp_path: Path, field: dict[str, object],
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_exit_2(["check", "--kubeconfig", str(conf(tmp_path, user_doc(token="t", **field)))], capsys)
    assert "requesting uid, groups or user-extra for kubernetes-admin without impersonating a user" in err


def test_an_impersonation_value_with_a_line_break_is_refused_unquoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_exit_2(["check", "-q", "--kubeconfig", str(conf(tmp_path, user_doc(token="t", **{"as": "jane\r\nX-Evil: 1"})))], capsys)
    assert "Impersonate-User" in err and "X-Evil" not in err


# -- tokens and basic auth ---------------------------------------------------------------------

def test_token_file_wins_over_token_and_token_is_the_fallback(tmp_path: Path) -> None:
    write(tmp_path / "creds" / "token", "from-the-file\n")
    write(tmp_path / "creds" / "empty", "")
    def token_of(**user: object) -> bytes | None:
        target = resolve_target(kubeconfig=str(conf(tmp_path, user_doc(**user))), environ={})
        assert target.credentials.token is not None
        return target.credentials.token.data

    assert token_of(token="inline", tokenFile="creds/token") == b"from-the-file"  # relative to the kubeconfig's folder
    assert token_of(token="inline", tokenFile="creds/missing") == b"inline"
    assert token_of(token="inline", tokenFile="creds/empty") == b"inline"
    alone = load_kubeconfig([conf(tmp_path, user_doc(tokenFile="creds/empty"))]).context().credentials.token
    assert alone is not None and alone.data is None and "is empty" in alone.problem


@pytest.mark.parametrize("token_field", [{"token": "s3cr3t"}, {"tokenFile": "/dev/null"}])
def test_a_token_with_username_and_password_is_refused(tmp_path: Path, token_field: dict[str, str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = conf(tmp_path, user_doc(username="admin", password="pw-s3cr3t", **token_field))
    err = one_line_exit_2(["check", "--kubeconfig", str(path)], capsys)
    assert "more than one authentication method found for kubernetes-admin; found [token basicAuth]" in err
    assert "s3cr3t" not in err


def test_basic_auth_alone_is_sent_as_kubectl_sends_it(tmp_path: Path) -> None:
    target = resolve_target(kubeconfig=str(conf(tmp_path, user_doc(username="admin", password="pw"))), environ={})
    client = KubeClient(target, Deadline(5))
    client.close()
    assert ("Authorization", "Basic " + base64.b64encode(b"admin:pw").decode()) in client._headers
    assert "pw" not in repr(target)


# -- oidc auth-provider --------------------------------------------------------------------------

def oidc(**config: str) -> AuthProvider:
    return AuthProvider(name="oidc", source="k: users[u].user.auth-provider",
                        config={"idp-issuer-url": "https://issuer.example", "client-id": "kube", **config})


def test_a_valid_oidc_id_token_is_the_bearer_token(tmp_path: Path) -> None:
    token = jwt({"exp": int(time.time()) + 3600, "sub": "jane"})
    sent = provider_token(oidc(**{"id-token": token}), NOW)
    assert sent is not None and sent.data == token.encode()
    assert provider_token(oidc(**{"id-token": "expired.or.not"}), NOW, needed=False) is None  # a token set Authorization first
    provider = {"name": "oidc", "config": {"idp-issuer-url": "https://issuer.example", "client-id": "kube", "id-token": token}}
    target = resolve_target(kubeconfig=str(conf(tmp_path, user_doc(**{"auth-provider": provider}))), environ={})
    assert target.credentials.token is not None and target.credentials.token.data == token.encode()
    both = resolve_target(kubeconfig=str(conf(tmp_path, user_doc(token="static", **{"auth-provider": provider}))), environ={})
    assert both.credentials.token is not None and both.credentials.token.data == b"static"  # the token sets Authorization first


@pytest.mark.parametrize(("config", "words"), [
    ({"id-token": jwt({"exp": int(time.time()) - 60})}, "has expired"),
    ({"id-token": jwt({"exp": int(time.time()) + 5})}, "has expired"),  # within client-go's 10 s expiryDelta
    ({"id-token": jwt({"sub": "no exp"})}, "has expired"),
    ({}, "is missing"),
])
def test_an_oidc_id_token_that_would_need_a_refresh_is_refused_naming_kubelogin(config: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        provider_token(oidc(**config), NOW)
    assert "kubelogin" in info.value.fix
    with pytest.raises(ConfigError) as refresh:
        provider_token(oidc(**config, **{"refresh-token": "r3fresh"}), NOW)
    assert "kubectl" in refresh.value.fix and "r3fresh" not in str(refresh.value)


@pytest.mark.parametrize(("provider", "words"), [
    (AuthProvider(name="oidc", source="s", config={"client-id": "k", "id-token": "a.b.c"}), "needs config.idp-issuer-url"),
    (AuthProvider(name="oidc", source="s", config={"idp-issuer-url": "https://i"}), "needs config.client-id"),
    (AuthProvider(name="oidc", source="s", config={"idp-issuer-url": "https://i", "client-id": "k", "id-token": "opaque"}),
     "is not a valid JWT"),
    (AuthProvider(name="gcp", source="s"), "has been removed"),
    (AuthProvider(name="azure", source="s"), "has been removed"),
    (AuthProvider(name="openstack", source="s"), "no auth provider named"),
])
def test_auth_providers_kubectl_refuses_are_refused(provider: AuthProvider, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        provider_token(provider, NOW)


# -- exec plugins -------------------------------------------------------------------------------

@pytest.mark.parametrize(("exec_", "words"), [
    ({"command": "p"}, "apiVersion must be specified for kubernetes-admin"),
    ({"command": "p", "apiVersion": V1}, "interactiveMode must be specified for kubernetes-admin"),
    ({"command": "p", "apiVersion": V1, "interactiveMode": "Sometimes"}, "invalid interactiveMode for kubernetes-admin: 'Sometimes'"),
    ({"command": "p", "apiVersion": "client.authentication.k8s.io/v1alpha1", "interactiveMode": "Never"}, "invalid apiVersion"),
    ({"command": "p", "apiVersion": V1, "interactiveMode": "Never", "env": [{"value": "x"}]}, "env variable name must be specified"),
    ({"command": "p", "apiVersion": V1, "interactiveMode": "Never", "args": [1]}, r"exec\.args\[0\] must be a string, not a number"),
    ({"command": "p", "apiVersion": V1, "interactiveMode": "Never", "args": "--flag"}, r"exec\.args must be a list"),
])
def test_exec_configuration_is_checked_as_client_go_checks_it(tmp_path: Path, exec_: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_kubeconfig([conf(tmp_path, user_doc(exec=exec_))]).context()


def test_v1beta1_exec_defaults_to_if_available_and_exec_with_an_auth_provider_is_refused(tmp_path: Path) -> None:
    view = load_kubeconfig([conf(tmp_path, user_doc(exec={"command": "p", "apiVersion": V1BETA1}))]).context()
    assert view.credentials.exec is not None and view.credentials.exec.interactive_mode == "IfAvailable"
    with pytest.raises(ConfigError, match="authProvider cannot be provided in combination with an exec plugin"):
        load_kubeconfig([conf(tmp_path, user_doc(exec={"command": "p", "apiVersion": V1BETA1}, **{"auth-provider": {"name": "oidc"}}))]).context()


def test_provide_cluster_info_passes_what_client_go_passes(tmp_path: Path) -> None:
    ca = make_ca()
    doc = kubeconfig_doc(server="https://192.0.2.1:6443/prefix", ca=ca, extra_user={"exec": {
        "command": "/bin/true", "apiVersion": V1, "interactiveMode": "Never", "provideClusterInfo": True}})
    cluster = doc["clusters"][0]["cluster"]  # type: ignore[index]
    cluster["tls-server-name"] = "kubernetes"
    cluster["extensions"] = [{"name": "client.authentication.k8s.io/exec", "extension": {"audience": "kube", "nested": [1]}},
                             {"name": "other", "extension": {"ignored": True}}]
    target = resolve_target(kubeconfig=str(conf(tmp_path, doc)), environ={})
    assert target.credentials.exec is not None
    assert exec_info(target.credentials.exec, target, interactive=False) == {
        "kind": "ExecCredential", "apiVersion": V1,
        "spec": {"cluster": {"server": "https://192.0.2.1:6443/prefix", "tls-server-name": "kubernetes",
                             "certificate-authority-data": base64.b64encode(ca.cert_pem).decode(),
                             "config": {"audience": "kube", "nested": [1]}},
                 "interactive": False}}
    del cluster["extensions"]
    target = resolve_target(kubeconfig=str(conf(tmp_path, doc)), environ={})
    assert target.credentials.exec is not None
    assert exec_info(target.credentials.exec, target, interactive=False)["spec"]["cluster"]["config"] is None


def plugin(tmp_path: Path, reply: dict[str, object]) -> Path:
    path = write(tmp_path / "plugin", f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(reply)}\nEOF\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def exec_target(tmp_path: Path, command: Path, mode: str = "Never", version: str = V1) -> Any:
    doc = user_doc(exec={"command": str(command), "apiVersion": version, "interactiveMode": mode})
    return resolve_target(kubeconfig=str(conf(tmp_path, doc)), environ={})


@pytest.mark.parametrize(("reply", "words"), [
    ({"apiVersion": V1BETA1, "kind": "ExecCredential", "status": {"token": "t"}},
     f"is configured to use API version {V1}, plugin returned {V1BETA1}"),
    ({"kind": "ExecCredential", "status": {"token": "t"}}, "plugin returned no apiVersion"),
    ({"apiVersion": V1, "kind": "ExecCredential"}, "didn't return a status field"),
    ({"apiVersion": V1, "kind": "ExecCredential", "status": {}}, "didn't return a token or cert/key pair"),
    ({"apiVersion": V1, "kind": "ExecCredential", "status": {"clientCertificateData": "x"}}, "only certificate or key"),
    ({"status": {"token": "t"}}, "printed no ExecCredential"),
])
def test_an_exec_reply_is_checked_as_client_go_checks_it(tmp_path: Path, reply: dict[str, object], words: str) -> None:
    target = exec_target(tmp_path, plugin(tmp_path, reply))
    with pytest.raises(UnauthorizedError, match=words):
        _run_exec_plugin(target.credentials.exec, target, timeout=10)


def test_interactive_mode_always_needs_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    command = plugin(tmp_path, {"apiVersion": V1, "kind": "ExecCredential", "status": {"token": "t"}})
    monkeypatch.setattr("kube_client._http.os.isatty", lambda fd: False)
    with pytest.raises(ConfigError, match="cannot support interactive mode: standard input is not a terminal"):
        _run_exec_plugin(exec_target(tmp_path, command, "Always").credentials.exec, exec_target(tmp_path, command, "Always"), timeout=10)
    for mode in ("Never", "IfAvailable"):
        target = exec_target(tmp_path, command, mode)
        assert _run_exec_plugin(target.credentials.exec, target, timeout=10)["token"] == "t"


def test_the_interactive_flag_follows_the_terminal_and_the_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dump = tmp_path / "info.json"
    command = write(tmp_path / "dumping", f"#!/bin/sh\nprintf '%s' \"$KUBERNETES_EXEC_INFO\" > {dump}\n"
                    f"echo '{{\"apiVersion\":\"{V1}\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"t\"}}}}'\n")
    command.chmod(0o700)
    seen = {}
    for tty in (False, True):
        monkeypatch.setattr("kube_client._http.os.isatty", lambda fd, tty=tty: tty)
        for mode in ("Never", "IfAvailable"):
            target = exec_target(tmp_path, command, mode)
            _run_exec_plugin(target.credentials.exec, target, timeout=10)
            seen[(tty, mode)] = json.loads(dump.read_text())["spec"]["interactive"]
    assert seen == {(False, "Never"): False, (False, "IfAvailable"): False, (True, "Never"): False, (True, "IfAvailable"): True}


# -- paths, names and types ------------------------------------------------------------------------

def test_tilde_is_expanded_nowhere(tmp_path: Path) -> None:
    ca_doc = kubeconfig_doc()
    ca_doc["clusters"][0]["cluster"]["certificate-authority"] = "~/ca.crt"  # type: ignore[index]
    view = load_kubeconfig([conf(tmp_path, ca_doc)]).context()
    assert view.cluster.ca is not None and view.cluster.ca.path == tmp_path / "~" / "ca.crt"  # loader.go ResolvePaths
    token = load_kubeconfig([conf(tmp_path, user_doc(tokenFile="~/token"))]).context().credentials.token
    assert token is not None and token.path == tmp_path / "~" / "token"
    assert default_paths("~/config") == [Path("~/config")]
    assert default_paths(None, {"KUBECONFIG": f"~/a{os.pathsep}/b{os.pathsep}~/a"}) == [Path("~/a"), Path("/b")]  # repeats dropped


@pytest.mark.parametrize("section", ["clusters", "users", "contexts"])
def test_a_name_defined_twice_in_one_file_is_refused_without_printing_the_list(tmp_path: Path, section: str) -> None:
    doc = kubeconfig_doc(token="s3cr3t-token")
    doc[section] = [*doc[section], *doc[section]]  # type: ignore[misc]
    with pytest.raises(ConfigError, match=f"{section} defines '.*' twice") as info:
        load_kubeconfig([conf(tmp_path, doc)])
    assert "s3cr3t" not in str(info.value)


def test_the_same_name_in_two_files_is_merged_first_wins(tmp_path: Path) -> None:
    a = conf(tmp_path, kubeconfig_doc(server="https://a:6443"), "a")
    b = conf(tmp_path, kubeconfig_doc(server="https://b:6443"), "b")
    assert load_kubeconfig([a, b]).context().cluster.server == "https://a:6443"


@pytest.mark.parametrize(("patch", "words"), [
    (("cluster", "server", 5), r"clusters\[kubernetes\]\.cluster\.server must be a string, not a number"),
    (("cluster", "insecure-skip-tls-verify", "yes"), r"insecure-skip-tls-verify must be true or false, not a string"),
    (("cluster", "tls-server-name", 5), r"tls-server-name must be a string"),
    (("context", "namespace", 5), r"contexts\[kubernetes-admin@kubernetes\]\.context\.namespace must be a string"),
    (("user", "token", 12345), r"users\[kubernetes-admin\]\.user\.token must be a string"),
    (("user", "as-groups", "dev"), r"as-groups must be a list, not a string"),
    (("user", "auth-provider", {"name": "oidc", "config": {"expiry": 5}}), r"auth-provider\.config\.expiry must be a string"),
])
def test_a_field_of_the_wrong_type_is_refused_like_kubectl_refuses_the_file(tmp_path: Path, patch: tuple[str, str, object],
                                                                           words: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = kubeconfig_doc(token="t")
    section, key, value = patch
    doc[f"{section}s"][0][section][key] = value  # type: ignore[index]
    path = conf(tmp_path, doc)
    with pytest.raises(ConfigError, match=words):
        load_kubeconfig([path])
    err = one_line_exit_2(["check", "--kubeconfig", str(path)], capsys)
    assert str(path) in err


def test_yaml_y_and_n_are_booleans_as_kubectl_reads_them(tmp_path: Path) -> None:
    path = write(tmp_path / "config", "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                 "clusters: [{name: k, cluster: {server: 'https://192.0.2.1:6443', insecure-skip-tls-verify: y}}]\n"
                 "users: [{name: u, user: {username: admin, password: n}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n")
    with pytest.raises(ConfigError, match=r"password must be a string, not a boolean"):
        load_kubeconfig([path])


def test_insecure_skip_tls_verify_with_a_ca_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = make_ca()
    write(tmp_path / "ca.crt", ca.cert_pem)
    for body in ({"certificate-authority-data": base64.b64encode(ca.cert_pem).decode()}, {"certificate-authority": "ca.crt"}):
        doc = kubeconfig_doc(server="https://192.0.2.1:6443", client=make_leaf(ca, "x"))
        doc["clusters"][0]["cluster"].update(body, **{"insecure-skip-tls-verify": True})  # type: ignore[index]
        err = one_line_exit_2(["check", "--kubeconfig", str(conf(tmp_path, doc))], capsys)
        assert "specifying a root certificates file with the insecure flag is not allowed" in err
    doc = kubeconfig_doc(server="https://192.0.2.1:6443", client=make_leaf(ca, "x"))
    doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True  # type: ignore[index]
    assert resolve_target(kubeconfig=str(conf(tmp_path, doc)), environ={}).cluster.insecure


@pytest.mark.parametrize(("field", "value", "words"), [
    ("server", "https://[::1:6443", r"cluster\.server: server 'https://\[::1:6443' is not a valid URL"),
    ("server", "https://127.0.0.1:99999", r"cluster\.server: server 'https://127.0.0.1:99999' is not a valid URL"),
    ("server", "https://127.0.0.1:abc", r"is not a valid URL"),
    ("proxy-url", "http://user:pr0xy-pw@[::1:3128", r"cluster\.proxy-url: is not a valid proxy URL"),
    ("proxy-url", "proxy.corp:3128", r"cluster\.proxy-url: is not a valid proxy URL"),
])
def test_malformed_urls_are_one_line_naming_file_and_field(tmp_path: Path, field: str, value: str, words: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    doc = kubeconfig_doc(server="https://192.0.2.1:6443", token="t")
    doc["clusters"][0]["cluster"][field] = value  # type: ignore[index]
    path = conf(tmp_path, doc)
    for argv in (["check", "--kubeconfig", str(path)], ["kubeconfig", "--kubeconfig", str(path)]):
        err = one_line_exit_2(argv, capsys)
        assert str(path) in err and "pr0xy-pw" not in err
        assert __import__("re").search(words, err), err


def test_a_malformed_https_proxy_in_the_environment_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://ci:pr0xy-pw@[::1:3128")
    err = one_line_exit_2(["check", "--kubeconfig", str(conf(tmp_path, kubeconfig_doc(server="https://192.0.2.1:6443", token="t")))],
                          capsys)
    assert "HTTPS_PROXY is not a usable proxy address" in err and "pr0xy-pw" not in err


def test_a_server_path_prefix_is_kept_for_every_request(tmp_path: Path) -> None:
    ca = make_ca()  # a CA of its own: without one each client would load the system trust store (~40 ms)
    for server, prefix in (("https://rancher.example/k8s/clusters/c-x", "/k8s/clusters/c-x"),
                           ("https://rancher.example/k8s/clusters/c-x/?a=b#f", "/k8s/clusters/c-x"),
                           ("https://192.0.2.1:6443", ""), ("https://192.0.2.1:6443/", "")):
        target = resolve_target(kubeconfig=str(conf(tmp_path, kubeconfig_doc(server=server, ca=ca, token="t"))), environ={})
        client = KubeClient(target, Deadline(5))
        client.close()
        assert client._prefix == prefix, server


# -- anonymous -------------------------------------------------------------------------------------

def test_an_anonymous_request_is_reported_as_anonymous(tmp_path: Path) -> None:
    target = resolve_target(kubeconfig=str(conf(tmp_path, kubeconfig_doc(server="https://192.0.2.1:6443"))), environ={})
    forbidden = ForbiddenError('selfsubjectreviews.authentication.k8s.io is forbidden: User "system:anonymous" cannot create '
                               'resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope', status=403)
    finding = auth_identity(target, Policy(now=NOW), FactError(name="identity", error=forbidden))
    assert finding.outcome.value == "fail" and "anonymous" in finding.message and "authenticated" not in finding.message
    other = ForbiddenError('selfsubjectreviews.authentication.k8s.io is forbidden: User "jane" cannot create resource', status=403)
    assert "authenticated as jane" in auth_identity(target, Policy(now=NOW), FactError(name="identity", error=other)).message


def test_an_impersonation_the_server_refuses_fails_auth_identity(tmp_path: Path) -> None:
    target = resolve_target(kubeconfig=str(conf(tmp_path, kubeconfig_doc(server="https://192.0.2.1:6443"))), environ={})
    refused = ForbiddenError('users "jane" is forbidden: User "system:serviceaccount:ci:bot" cannot impersonate resource "users" '
                             'in API group "" at the cluster scope', status=403)
    finding = auth_identity(target, Policy(now=NOW), FactError(name="identity", error=refused))
    assert finding.outcome.value == "fail" and "impersonat" in finding.message


def test_exec_spec_defaults_are_safe() -> None:
    assert ExecSpec(command="p").interactive_mode == "Never"
