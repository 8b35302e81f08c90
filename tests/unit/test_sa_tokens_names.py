"""Name validation in sa_tokens: DNS-1123 rules, enforced before anything touches the network.

The client points at a port on which nothing listens: a request would end in a connection
error, so a ConfigError proves the name was rejected first.
"""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import sa_tokens
from kube_client._errors import UnreachableError
from sa_tokens import ConfigError
from hypothesis import given
from hypothesis import strategies as st

from kube_client._names import quote_name
from sa_tokens._names import check_namespace, check_subdomain
from tests.pkifactory import kubeconfig_doc, make_ca, write_kubeconfig

TOKEN = "unit-test-secret-token-0123456789"


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def kubeconfig(tmp_path: Path, closed_port: int) -> Path:
    doc = kubeconfig_doc(server=f"https://127.0.0.1:{closed_port}", ca=make_ca(), token=TOKEN)
    return write_kubeconfig(tmp_path / "closed.conf", doc)


@pytest.fixture
def client(kubeconfig: Path) -> Iterator[object]:
    c = sa_tokens.connect(kubeconfig=str(kubeconfig), timeout=1)
    yield c
    c.close()


INVALID_NAMESPACES = ["Jenkins", "ci_cd", "-ci", "ci-", "ci.prod", "", "a" * 64, "ci prod", "ci\n", "../../kube-system", "..", "ci%2F",
                      "a" * 300]
INVALID_SUBDOMAINS = ["Jenkins", "ci_bot", "-bot", "bot-", "bot..x", ".bot", "", "a" * 254, "bot/x", "bot\n", "a" * 300, ".."]


@pytest.mark.parametrize("name", ["ci", "a", "a" * 63, "team-a", "0ci9"])
def test_valid_namespaces_are_returned_unchanged(name: str) -> None:
    assert check_namespace(name) == name


@pytest.mark.parametrize("name", INVALID_NAMESPACES)
def test_invalid_namespaces_are_a_config_error_naming_the_namespace(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_namespace(name)
    assert f"namespace {quote_name(name)} is not a valid name" in str(info.value)
    assert info.value.exit_code == 2 and str(info.value).endswith("letter or digit)")  # never cut by the message cap


@pytest.mark.parametrize("name", ["jenkins", "ci.bot", "a" * 253, "a-b.c-d", "0"])
def test_valid_subdomains_are_returned_unchanged(name: str) -> None:
    assert check_subdomain(name, "ServiceAccount") == name


@pytest.mark.parametrize("name", INVALID_SUBDOMAINS)
def test_invalid_subdomains_are_a_config_error_naming_what_they_name(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_subdomain(name, "Secret")
    assert f"Secret {quote_name(name)} is not a valid name" in str(info.value)
    assert str(info.value).endswith("letter or digit)")  # the rule and the fix survive the message cap


@given(st.text(max_size=400))
def test_any_refused_name_says_why_and_how_to_fix_it_in_one_line(name: str) -> None:
    """A 300-character ServiceAccount name used to be cut by the 300-character message cap
    before "not a valid name" and the limit."""
    for check, limit in ((lambda n: check_subdomain(n, "ServiceAccount"), "253"), (check_namespace, "63")):
        try:
            check(name)
        except ConfigError as exc:
            text = str(exc)
            assert "is not a valid name: " in text and text.endswith("letter or digit)") and "\n" not in text
            if len(name) > int(limit):
                assert f"at most {limit} characters" in text and f"({len(name)} characters)" in text

def test_a_valid_request_to_the_closed_port_is_a_connection_error(client: object) -> None:
    # The contrast for the tests below: with valid names the same client does try to connect.
    with pytest.raises(UnreachableError) as info:
        sa_tokens.ensure("ci", "jenkins", client=client)  # type: ignore[arg-type]
    assert info.value.step == "connect"  # refused: not retried, the breaker answers every later request
    assert client.stats.requests >= 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("namespace", "name", "secret_name", "what"), [
    ("CI", "jenkins", None, "namespace 'CI'"),
    ("ci.prod", "jenkins", None, "namespace 'ci.prod'"),
    ("ci", "Jenkins", None, "ServiceAccount 'Jenkins'"),
    ("ci", "jenkins_bot", None, "ServiceAccount 'jenkins_bot'"),
    ("ci", "jenkins", "Jenkins-Token", "Secret 'Jenkins-Token'"),
    ("ci", "a" * 250, None, f"Secret {quote_name('a' * 250 + '-token')}"),  # a valid account name whose default Secret name is too long
])
def test_ensure_rejects_invalid_names_before_any_request(client: object, namespace: str, name: str, secret_name: str | None,
                                                          what: str) -> None:
    with pytest.raises(ConfigError) as info:
        sa_tokens.ensure(namespace, name, client=client, secret_name=secret_name)  # type: ignore[arg-type]
    assert f"{what} is not a valid name" in str(info.value)
    assert client.stats.requests == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(("namespace", "name", "what"), [
    ("Ci", "jenkins", "namespace 'Ci'"),
    ("ci", "jenkins_", "ServiceAccount 'jenkins_'"),
])
def test_rotate_rejects_invalid_names_before_any_request(client: object, namespace: str, name: str, what: str) -> None:
    with pytest.raises(ConfigError) as info:
        sa_tokens.rotate(namespace, name, grace=0, client=client)  # type: ignore[arg-type]
    assert f"{what} is not a valid name" in str(info.value)
    assert client.stats.requests == 0  # type: ignore[attr-defined]


def test_status_rejects_an_invalid_namespace_before_any_request(client: object) -> None:
    with pytest.raises(ConfigError) as info:
        sa_tokens.status("Team_A", client=client)  # type: ignore[arg-type]
    assert "namespace 'Team_A' is not a valid name" in str(info.value)
    assert client.stats.requests == 0  # type: ignore[attr-defined]


def test_invalid_names_are_rejected_before_the_exec_credential_plugin_runs(tmp_path: Path, closed_port: int) -> None:
    # An exec plugin (aws eks get-token, gke-gcloud-auth-plugin) may itself call out to the
    # network or prompt: a typo in a name must not get that far.
    marker = tmp_path / "plugin-ran"
    plugin = tmp_path / "credential-plugin"
    plugin.write_text(f"#!/bin/sh\ntouch {marker}\n"
                      'echo \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
                      '"status":{"token":"from-the-plugin"}}\'\n')
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    doc = kubeconfig_doc(server=f"https://127.0.0.1:{closed_port}", ca=make_ca(),
                         extra_user={"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
                                              "interactiveMode": "Never"}})
    path = str(write_kubeconfig(tmp_path / "exec.conf", doc))

    for call in (lambda: sa_tokens.ensure("ci", "Jenkins", kubeconfig=path),
                 lambda: sa_tokens.ensure("ci", "jenkins", kubeconfig=path, secret_name="x_y"),
                 lambda: sa_tokens.rotate("CI", "jenkins", grace=0, kubeconfig=path),
                 lambda: sa_tokens.status("CI", kubeconfig=path)):
        with pytest.raises(ConfigError):
            call()
    assert not marker.exists()

    client = sa_tokens.connect(kubeconfig=path, timeout=1)  # the contrast: connecting runs it
    client.close()
    assert marker.exists()
