"""What sa_tokens writes: the kubeconfig's shape, and secret files written 0600 in one step."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sa_tokens import kubeconfig_for
from sa_tokens._kubeconfig_out import write_secret_file
from tests.pkifactory import make_ca

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Y2k6amVua2lucyJ9.c2lnbmF0dXJl"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o000)
    yield
    os.umask(old)


def test_kubeconfig_for_loads_as_a_single_context_kubeconfig_for_the_account() -> None:
    ca_pem = make_ca().cert_pem
    text = kubeconfig_for(server="https://10.0.0.1:6443", ca_pem=ca_pem, namespace="ci", account="jenkins", token=TOKEN,
                          cluster="prod")

    doc = yaml.safe_load(text)

    assert doc["apiVersion"] == "v1" and doc["kind"] == "Config"
    assert doc["clusters"] == [{"name": "prod", "cluster": {"server": "https://10.0.0.1:6443",
                                                            "certificate-authority-data": base64.b64encode(ca_pem).decode()}}]
    assert doc["users"] == [{"name": "ci-jenkins", "user": {"token": TOKEN}}]
    assert doc["contexts"] == [{"name": "ci-jenkins@prod", "context": {"cluster": "prod", "user": "ci-jenkins", "namespace": "ci"}}]
    assert doc["current-context"] == "ci-jenkins@prod"


def test_kubeconfig_for_without_a_ca_leaves_certificate_authority_data_out() -> None:
    doc = yaml.safe_load(kubeconfig_for(server="https://k8s.example:443", ca_pem=None, namespace="ci", account="bot", token=TOKEN))
    assert doc["clusters"] == [{"name": "kubernetes", "cluster": {"server": "https://k8s.example:443"}}]
    assert doc["current-context"] == "ci-bot@kubernetes"


def test_kubeconfig_for_is_read_by_the_projects_own_kubeconfig_loader(tmp_path: Path) -> None:
    from kube_client._target import resolve_target

    ca_pem = make_ca().cert_pem
    path = tmp_path / "ci.conf"
    write_secret_file(path, kubeconfig_for(server="https://127.0.0.1:6443", ca_pem=ca_pem, namespace="ci", account="jenkins", token=TOKEN))

    target = resolve_target(kubeconfig=str(path))

    assert target.namespace == "ci" and target.cluster.server == "https://127.0.0.1:6443"
    assert target.cluster.ca is not None and target.cluster.ca.data == ca_pem
    assert target.credentials.token is not None and target.credentials.token.require().decode() == TOKEN


def test_kubeconfig_for_carries_the_proxy_url_and_tls_server_name_it_is_given(tmp_path: Path) -> None:
    from kube_client._target import resolve_target

    path = tmp_path / "ci.conf"
    write_secret_file(path, kubeconfig_for(server="https://10.0.0.1:6443", ca_pem=None, namespace="ci", account="jenkins", token=TOKEN,
                                           tls_server_name="api.internal", proxy_url="http://proxy.corp:3128"))
    target = resolve_target(kubeconfig=str(path), environ={})
    assert (target.cluster.tls_server_name, target.cluster.proxy_url) == ("api.internal", "http://proxy.corp:3128")
    assert target.proxy is not None and target.proxy.display == "proxy http://proxy.corp:3128 (from proxy-url)"


@pytest.mark.usefixtures("permissive_umask")
def test_write_secret_file_creates_the_file_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "token"
    write_secret_file(path, TOKEN + "\n")
    assert path.read_text() == TOKEN + "\n"
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token"]  # no temporary file left


def test_write_secret_file_replaces_a_world_readable_file_with_a_new_0600_file(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("old contents\n")
    path.chmod(0o644)
    with path.open() as reader:  # a reader that opened the old file keeps seeing it whole
        write_secret_file(path, "new contents\n")
        assert reader.read() == "old contents\n"
    assert path.read_text() == "new contents\n"
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kubeconfig"]


def test_write_secret_file_that_fails_midway_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("old token\n")
    with pytest.raises(UnicodeEncodeError):
        write_secret_file(path, "half a token \udc80")  # not encodable: the write fails after the temp file exists
    assert path.read_text() == "old token\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token"]


def test_write_secret_file_accepts_a_bare_file_name_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_secret_file(Path("token"), TOKEN)
    assert (tmp_path / "token").read_text() == TOKEN and mode(tmp_path / "token") == 0o600


def test_a_failed_write_leaves_no_file_and_is_one_config_error(tmp_path: Path) -> None:
    from kube_client._errors import ConfigError

    occupied = tmp_path / "token"
    occupied.mkdir()  # os.replace onto a folder fails after the temporary file was written
    with pytest.raises(ConfigError, match="cannot write"):
        write_secret_file(occupied, TOKEN)
    assert [p.name for p in tmp_path.iterdir()] == ["token"] and list(occupied.iterdir()) == []


def test_an_output_failure_after_the_secret_exists_says_it_is_in_place(tmp_path: Path) -> None:
    """The Secret was created before the write failed: the message must say so, so nobody
    deletes a working token (issue 12)."""
    from types import SimpleNamespace

    from kube_client._errors import ConfigError
    from sa_tokens._cli import _outputs

    occupied = tmp_path / "token"
    occupied.mkdir()
    result = SimpleNamespace(namespace="ci", secret="jenkins-token", token=TOKEN)
    with pytest.raises(ConfigError) as caught:
        _outputs(result, None, str(occupied), None, None, None, None)
    assert "ci/jenkins-token is in place" in str(caught.value) and "run the same command again" in caught.value.fix
    assert TOKEN not in str(caught.value)
