"""``sa-tokens ensure|rotate --jenkins-*`` for real: the real control plane fills and authenticates
the token, python-jenkins publishes it over HTTP to tests/jenkins_endpoint.py (which answers as
Jenkins documents; no Jenkins can run here), and the real kubectl authenticates with what was
published.

Waits are conditions with deadlines (``cp.wait_for``); no sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sa_tokens._kubeconfig_out import write_secret_file
from tests.cluster.test_sa_tokens import Cli, get_json, ns, one_error_line, secret_token, token_kubeconfig, token_secrets, username, whoami
from tests.jenkins_endpoint import FILE_CLASS, FOLDER_CLASS, READ_ONLY, STRING_CLASS, Credential, JenkinsEndpoint, User

pytestmark = pytest.mark.cluster
__all__ = ["ns"]  # the fixture, shared with test_sa_tokens.py

API_TOKEN = "1122334455667788990011aabbccddeeff"
CRED = "kubeconfig-deployer"


@pytest.fixture(autouse=True)
def jenkins_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "JENKINS_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JENKINS_USER_ID", "bot")
    monkeypatch.setenv("JENKINS_API_TOKEN", API_TOKEN)


@pytest.fixture
def jenkins() -> Iterator[JenkinsEndpoint]:
    with JenkinsEndpoint(users={"bot": User(API_TOKEN), "reader": User(API_TOKEN, READ_ONLY)},
                         items={"team": FOLDER_CLASS, "team/shop": FOLDER_CLASS}) as endpoint:
        yield endpoint


def published_kubeconfig(cred: Credential, path: Path) -> Path:
    """The Secret file's bytes, as a build would get them from withCredentials/file, written 0600."""
    assert cred.cls == FILE_CLASS and cred.file_name == "kubeconfig" and cred.secret_bytes
    write_secret_file(path, cred.secret_bytes.decode("utf-8"))
    return path


def publish(cli: Cli, cluster: Any, ns: str, jenkins: JenkinsEndpoint, *extra: str, command: str = "ensure",
            account: str = "deployer") -> tuple[int, str, str]:
    argv = [command, account, "-n", ns, "--kubeconfig", str(cluster.admin_kubeconfig),
            "--jenkins-url", jenkins.url, "--jenkins-credential", CRED, *extra]
    assert API_TOKEN not in " ".join(argv)
    return cli(*argv)


def assert_no_secret(cluster: Any, ns: str, *texts: str) -> None:
    tokens = [secret_token(s) for s in get_json(cluster, "secrets", "-n", ns)["items"] if (s.get("data") or {}).get("token")]
    for text in texts:
        assert API_TOKEN not in text
        assert not any(t in text for t in tokens)


def test_ensure_publishes_a_kubeconfig_credential_that_the_real_kubectl_authenticates_with(
        cluster: Any, ns: str, sa_tokens_cli: Cli, jenkins: JenkinsEndpoint, tmp_path: Path) -> None:
    code, out, err = publish(sa_tokens_cli, cluster, ns, jenkins, "--create-sa")

    assert code == 0, err
    identity = f"system:serviceaccount:{ns}:deployer"
    conf = published_kubeconfig(jenkins.store[(None, CRED)], tmp_path / "from-jenkins.kubeconfig")
    assert username(whoami(cluster, conf)) == identity
    (secret,) = token_secrets(cluster, ns, "deployer")
    assert yaml.safe_load(conf.read_text())["users"][0]["user"]["token"] == secret_token(secret)
    assert f"created Jenkins credential '{CRED}' in the system store" in err
    assert_no_secret(cluster, ns, out, err)

    # Again: the Secret is reused and the credential updated in place, still working.
    code, out, err = publish(sa_tokens_cli, cluster, ns, jenkins, "-o", "json")

    assert code == 0, err
    assert '"created": false' in out and '"action": "updated"' in out
    assert list(jenkins.store) == [(None, CRED)]
    assert [s["metadata"]["uid"] for s in token_secrets(cluster, ns, "deployer")] == [secret["metadata"]["uid"]]
    again = published_kubeconfig(jenkins.store[(None, CRED)], tmp_path / "again.kubeconfig")
    assert username(whoami(cluster, again)) == identity
    assert_no_secret(cluster, ns, out, err)


def test_ensure_publishes_the_token_as_secret_text_into_a_folder(
        cluster: Any, ns: str, sa_tokens_cli: Cli, jenkins: JenkinsEndpoint, tmp_path: Path) -> None:
    code, out, err = publish(sa_tokens_cli, cluster, ns, jenkins, "--create-sa", "--jenkins-folder", "team/shop",
                             "--jenkins-kind", "secret-text")

    assert code == 0, err
    cred = jenkins.store[("team/shop", CRED)]
    assert cred.cls == STRING_CLASS and cred.secret
    (secret,) = token_secrets(cluster, ns, "deployer")
    assert cred.secret == secret_token(secret)
    conf = token_kubeconfig(cluster, tmp_path / "text.conf", ns, "deployer", cred.secret)
    assert username(whoami(cluster, conf)) == f"system:serviceaccount:{ns}:deployer"
    assert jenkins.requests("POST", "job/team/job/shop/credentials/store/folder/domain/_/createCredentials")
    assert_no_secret(cluster, ns, out, err)


def test_rotate_updates_the_credential_with_the_new_token_before_the_old_one_is_deleted(
        cluster: Any, ns: str, sa_tokens_cli: Cli, jenkins: JenkinsEndpoint, tmp_path: Path) -> None:
    assert publish(sa_tokens_cli, cluster, ns, jenkins, "--create-sa")[0] == 0
    old_conf = published_kubeconfig(jenkins.store[(None, CRED)], tmp_path / "old.kubeconfig")
    (old,) = token_secrets(cluster, ns, "deployer")
    at_update: list[list[str]] = []

    def look(action: str, folder: str | None, cred_id: str) -> None:  # runs as Jenkins receives the write
        if action == "update":
            at_update.append(sorted(s["metadata"]["name"] for s in token_secrets(cluster, ns, "deployer")))

    jenkins.on_write = look
    del jenkins.log[:]

    code, out, err = publish(sa_tokens_cli, cluster, ns, jenkins, "--grace", "0", command="rotate")

    assert code == 0, err
    (new,) = token_secrets(cluster, ns, "deployer")  # the old one is gone now
    old_name, new_name = old["metadata"]["name"], new["metadata"]["name"]
    assert new_name != old_name and f"deleted {old_name}" in out
    # When Jenkins got the update, both Secrets existed: the old one was deleted only afterwards.
    assert at_update == [sorted([old_name, new_name])]
    assert [r.status for r in jenkins.requests("POST")] == [409, 200]  # create -> 409 -> config.xml: in place
    new_conf = published_kubeconfig(jenkins.store[(None, CRED)], tmp_path / "new.kubeconfig")
    assert yaml.safe_load(new_conf.read_text())["users"][0]["user"]["token"] == secret_token(new)
    assert username(whoami(cluster, new_conf)) == f"system:serviceaccount:{ns}:deployer"
    # The API server caches successful token authentications for a few seconds.
    cluster.wait_for(lambda: whoami(cluster, old_conf).returncode != 0, timeout=60, what="the old token to be rejected")
    assert_no_secret(cluster, ns, out, err)


def test_a_rejected_jenkins_token_creates_nothing_in_kubernetes(
        cluster: Any, ns: str, sa_tokens_cli: Cli, jenkins: JenkinsEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENKINS_API_TOKEN", "f" * 34)

    code, out, err = publish(sa_tokens_cli, cluster, ns, jenkins, "--create-sa")

    assert code == 2 and out == ""
    assert "rejected user bot's API token (401 Unauthorized)" in one_error_line(err)
    assert cluster.kubectl("get", "serviceaccount", "deployer", "-n", ns, check=False).returncode != 0
    assert token_secrets(cluster, ns, "deployer") == [] and jenkins.store == {}
    assert "f" * 34 not in err


def test_a_read_only_jenkins_user_leaves_the_secret_in_place_and_the_same_command_later_publishes_it(
        cluster: Any, ns: str, sa_tokens_cli: Cli, jenkins: JenkinsEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JENKINS_USER_ID", "reader")

    code, out, err = publish(sa_tokens_cli, cluster, ns, jenkins, "--create-sa")

    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "Jenkins user reader may not create" in line and "(403 Forbidden)" in line
    assert f"the token Secret {ns}/deployer-token is in place" in line and "run the same command again" in line
    (secret,) = token_secrets(cluster, ns, "deployer")
    assert secret_token(secret) and jenkins.store == {}
    assert_no_secret(cluster, ns, out, err)

    monkeypatch.setenv("JENKINS_USER_ID", "bot")  # the permission granted, the same command again
    code, out, err = publish(sa_tokens_cli, cluster, ns, jenkins, "--create-sa")

    assert code == 0, err
    assert "reused" in out
    assert [s["metadata"]["uid"] for s in token_secrets(cluster, ns, "deployer")] == [secret["metadata"]["uid"]]
    conf = published_kubeconfig(jenkins.store[(None, CRED)], tmp_path / "later.kubeconfig")
    assert username(whoami(cluster, conf)) == f"system:serviceaccount:{ns}:deployer"
