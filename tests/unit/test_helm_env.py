"""Helm's context as a plugin gets it (HELM_* variables) mapped to the gate's options; helm's
connection overrides merged the way client-go merges them, with the token only in a 0600 file."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube_client._errors import ConfigError
from preflight._cli.helm.env import HelmEnv, gate_kubeconfig, merged_kubeconfig

TOKEN = "eyJhbGciOi.secret-token-value"


def kubeconfig(tmp_path: Path) -> Path:
    (tmp_path / "ca.crt").write_text("not read here")
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "c1", "cluster": {"server": "https://10.0.0.1:6443", "certificate-authority": "ca.crt",
                                                 "proxy-url": "http://proxy:3128"}}],
        "users": [{"name": "u1", "user": {"client-certificate": "me.crt", "client-key": "me.key", "tokenFile": "old-token"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "c1", "user": "u1", "namespace": "team"}},
                     {"name": "dev", "context": {"cluster": "c1", "user": "u1"}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_helm_variables_are_read_as_helm_sets_them() -> None:
    env = HelmEnv.from_environ({
        "HELM_NAMESPACE": "shop", "HELM_KUBECONTEXT": "", "HELM_KUBETOKEN": "",
        "HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "false", "HELM_KUBEAPISERVER": "", "KUBECONFIG": "/k"})
    assert env.namespace == "shop" and not env.context and not env.overrides_connection
    assert HelmEnv.from_environ({"HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "True"}).insecure  # strconv.ParseBool
    assert not HelmEnv.from_environ({"HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "yes"}).insecure


def test_flags_of_a_direct_run_win_over_the_variables() -> None:
    env = HelmEnv.from_environ({"HELM_NAMESPACE": "default", "HELM_KUBECONTEXT": "dev"}).with_flags(
        {"namespace": "shop", "kube-token": TOKEN, "kube-insecure-skip-tls-verify": "true"})
    assert (env.namespace, env.context, env.token, env.insecure) == ("shop", "dev", TOKEN, True)
    assert TOKEN not in repr(env)


def test_without_overrides_the_gate_uses_the_context_and_the_kubeconfig_from_the_environment(tmp_path: Path) -> None:
    env = HelmEnv(namespace="shop", context="dev")
    with gate_kubeconfig(env, {"KUBECONFIG": str(kubeconfig(tmp_path))}) as target:
        assert target.argv() == ["--context", "dev"]


def test_a_token_override_is_written_to_a_private_file_and_never_into_argv(tmp_path: Path) -> None:
    env = HelmEnv(namespace="shop", token=TOKEN)
    with gate_kubeconfig(env, {"KUBECONFIG": str(kubeconfig(tmp_path))}) as target:
        argv = target.argv()
        assert TOKEN not in " ".join(argv)
        path = Path(argv[argv.index("--kubeconfig") + 1])
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        doc = yaml.safe_load(path.read_text())
        assert argv[argv.index("--context") + 1] == doc["current-context"] == "prod"
    assert not path.exists() and not path.parent.exists()  # gone after the gate
    user = doc["users"][0]["user"]
    assert user["token"] == TOKEN and "tokenFile" not in user  # the flag's token, not the file's
    assert user["client-certificate"] == str(tmp_path / "me.crt")  # client-go keeps the rest of the user
    context = doc["contexts"][0]["context"]
    assert context["namespace"] == "shop"


def test_apiserver_and_ca_overrides_replace_only_what_they_name(tmp_path: Path) -> None:
    doc = merged_kubeconfig(HelmEnv(context="dev", apiserver="https://127.0.0.1:9443", tls_server_name="kubernetes"),
                            {"KUBECONFIG": str(kubeconfig(tmp_path))})
    cluster: dict[str, Any] = doc["clusters"][0]["cluster"]
    assert doc["current-context"] == "dev"
    assert cluster == {"server": "https://127.0.0.1:9443", "certificate-authority": str(tmp_path / "ca.crt"),
                       "proxy-url": "http://proxy:3128", "tls-server-name": "kubernetes"}


def test_insecure_clears_the_kubeconfig_ca_and_an_explicit_ca_turns_verification_back_on(tmp_path: Path) -> None:
    environ = {"KUBECONFIG": str(kubeconfig(tmp_path))}
    insecure = merged_kubeconfig(HelmEnv(insecure=True), environ)["clusters"][0]["cluster"]
    assert insecure["insecure-skip-tls-verify"] is True and "certificate-authority" not in insecure
    both = merged_kubeconfig(HelmEnv(insecure=True, ca_file=str(tmp_path / "other.crt")), environ)["clusters"][0]["cluster"]
    assert both["certificate-authority"] == str(tmp_path / "other.crt") and "insecure-skip-tls-verify" not in both


def test_without_a_kubeconfig_the_flags_alone_make_the_target(tmp_path: Path) -> None:
    environ = {"KUBECONFIG": str(tmp_path / "missing")}
    doc = merged_kubeconfig(HelmEnv(apiserver="https://127.0.0.1:6443", token=TOKEN, ca_file="/ca.crt"), environ)
    assert doc["clusters"][0]["cluster"] == {"server": "https://127.0.0.1:6443", "certificate-authority": "/ca.crt"}
    assert doc["users"][0]["user"] == {"token": TOKEN}
    with pytest.raises(ConfigError, match="needs --kube-apiserver too"):
        merged_kubeconfig(HelmEnv(token=TOKEN), environ)


def test_impersonation_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--kube-as-user \(impersonation\) is not supported") as err:
        with gate_kubeconfig(HelmEnv(as_user="bob"), {}):
            pass
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="--kube-as-group"):
        HelmEnv.from_environ({"HELM_KUBEASGROUPS": "admins"}).refuse_unsupported()


def test_an_unknown_context_is_the_kubeconfigs_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="context 'nope' does not exist"):
        merged_kubeconfig(HelmEnv(context="nope", token=TOKEN), {"KUBECONFIG": str(kubeconfig(tmp_path))})
