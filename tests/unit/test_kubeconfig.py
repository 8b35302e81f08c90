"""Kubeconfig loading follows kubectl's rules; the credential audit reads what will be sent."""

import base64
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from kube_client._errors import ConfigError
from kube_client._kubeconfig import decode_jwt_claims, default_paths, load_kubeconfig
from kube_client._target import validate_inline
from preflight._checks.kubeconfig import judge_credentials, judge_file, judge_tls
from preflight._engine.model import Outcome
from preflight._facts.policy import ExpiryPolicy
from tests.pkifactory import NOW, YEAR, b64, kubeconfig_doc, make_ca, make_leaf, write, write_kubeconfig

DAY = timedelta(days=1)
POLICY = ExpiryPolicy()


def jwt(claims: dict[str, object]) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'RS256'})}.{enc(claims)}.c2ln"


def load_one(path: Path, context: str | None = None):
    return load_kubeconfig([path], explicit=True).context(context)


# -- loading and merging --------------------------------------------------------------------

def test_kubeconfig_env_list_merges_first_file_wins(tmp_path: Path) -> None:
    ca = make_ca()
    a = write_kubeconfig(tmp_path / "a", kubeconfig_doc(server="https://a:6443", ca=ca, context="shared", cluster="c1", user="u1"))
    b = write_kubeconfig(tmp_path / "b", kubeconfig_doc(server="https://b:6443", ca=ca, context="shared", cluster="c1", user="u1"))
    doc_b2 = kubeconfig_doc(server="https://only-b:6443", context="only-b", cluster="c2", user="u2")
    write_kubeconfig(b, {**doc_b2, "clusters": doc_b2["clusters"] + kubeconfig_doc(server="https://b:6443", cluster="c1")["clusters"],
                         "contexts": doc_b2["contexts"] + kubeconfig_doc(context="shared", cluster="c1", user="u1")["contexts"]})
    paths = default_paths(None, {"KUBECONFIG": f"{a}{os.pathsep}{tmp_path / 'missing'}{os.pathsep}{b}"})
    config = load_kubeconfig(paths)
    assert config.current_context == "shared"  # from the first file
    assert config.context("shared").cluster.server == "https://a:6443"  # first definition wins
    assert config.context("only-b").cluster.server == "https://only-b:6443"  # merged in from b
    assert config.paths == (a, b)  # the missing file was skipped, as client-go does


def test_explicit_kubeconfig_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_kubeconfig(default_paths(str(tmp_path / "nope")), explicit=True)


def test_no_kubeconfig_anywhere_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--kubeconfig"):
        load_kubeconfig(default_paths(None, {"HOME": str(tmp_path)}))


def test_file_references_resolve_relative_to_the_defining_file(tmp_path: Path) -> None:
    ca = make_ca()
    client = make_leaf(ca, "jenkins")
    write(tmp_path / "certs" / "client.crt", client.cert_pem)
    write(tmp_path / "certs" / "client.key", client.key_pem)
    write(tmp_path / "certs" / "ca.crt", ca.cert_pem)
    doc = kubeconfig_doc(user="jenkins")
    doc["clusters"][0]["cluster"]["certificate-authority"] = "certs/ca.crt"  # type: ignore[index]
    doc["users"][0]["user"] = {"client-certificate": "certs/client.crt", "client-key": "certs/client.key"}  # type: ignore[index]
    view = load_one(write_kubeconfig(tmp_path / "kubeconfig", doc))
    assert view.credentials.client_cert.data == client.cert_pem  # type: ignore[union-attr]
    assert view.cluster.ca.path == tmp_path / "certs" / "ca.crt"  # type: ignore[union-attr]


def test_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "k", kubeconfig_doc(context="prod"))
    with pytest.raises(ConfigError, match=r"context 'staging' does not exist \(contexts: prod\)"):
        load_one(path, "staging")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("clusters: [unclosed", "not valid YAML at line"),
        ("- just\n- a list\n", "expected a mapping"),
        ("clusters: 3\n", "clusters must be a list"),
        ("contexts:\n- context: {}\n", r"contexts\[0\] needs a name"),
    ],
)
def test_malformed_kubeconfig_names_the_file_and_problem(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path / "broken", content)
    with pytest.raises(ConfigError, match=message) as info:
        load_one(path)
    assert str(path) in str(info.value)


def test_corrupt_base64_names_file_and_field(tmp_path: Path) -> None:
    doc = kubeconfig_doc(client=make_leaf(make_ca(), "x"))
    doc["users"][0]["user"]["client-certificate-data"] = "%%%not-base64%%%"  # type: ignore[index]
    view = load_one(write_kubeconfig(tmp_path / "k", doc))
    with pytest.raises(ConfigError, match=r"users\[kubernetes-admin\]\.user\.client-certificate-data: is not valid base64"):
        validate_inline(view)


def test_pem_garbage_and_half_key_pairs_are_refused_before_any_request(tmp_path: Path) -> None:
    client = make_leaf(make_ca(), "x")
    doc = kubeconfig_doc(client=client)
    doc["users"][0]["user"]["client-certificate-data"] = b64(b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")  # type: ignore[index]
    with pytest.raises(ConfigError, match="not a PEM or DER certificate"):
        validate_inline(load_one(write_kubeconfig(tmp_path / "a", doc)))
    doc = kubeconfig_doc(client=client)
    del doc["users"][0]["user"]["client-certificate-data"]  # type: ignore[index]
    with pytest.raises(ConfigError, match="has client-key but no client-certificate"):
        validate_inline(load_one(write_kubeconfig(tmp_path / "b", doc)))


def test_tokens_and_keys_never_appear_in_repr(tmp_path: Path) -> None:
    client = make_leaf(make_ca(), "x")
    view = load_one(write_kubeconfig(tmp_path / "k", kubeconfig_doc(client=client, token="s3cr3t-token")))
    text = repr(view)
    assert "s3cr3t-token" not in text and "PRIVATE KEY" not in text and b64(client.key_pem)[:40] not in text


# -- judging credentials ---------------------------------------------------------------------

def test_stale_copy_of_admin_conf_fails_with_the_expiry_date(tmp_path: Path) -> None:
    ca = make_ca(not_before=-2 * YEAR)
    client = make_leaf(ca, "kubernetes-admin", orgs=("kubeadm:cluster-admins",), not_before=-YEAR - 14 * DAY)
    view = load_one(write_kubeconfig(tmp_path / "k", kubeconfig_doc(ca=ca, client=client)))
    f = judge_credentials(view, NOW, POLICY)
    assert f.outcome is Outcome.FAIL
    assert "expired 14d ago" in f.message and "CN=kubernetes-admin" in f.message
    assert "kubeadm certs renew admin.conf" in f.remediation
    assert f.evidence["context"] == "kubernetes-admin@kubernetes"


@pytest.mark.parametrize(
    ("claims", "expected", "words"),
    [
        ({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ci:jenkins"}, Outcome.PASS, "without expiry"),
        ({"exp": int((NOW - DAY).timestamp())}, Outcome.FAIL, "expired on"),
        ({"iat": int((NOW - 300 * DAY).timestamp()), "exp": int((NOW + 5 * DAY).timestamp())}, Outcome.FAIL, "expires"),
        ({"iat": int((NOW - 300 * DAY).timestamp()), "exp": int((NOW + 20 * DAY).timestamp())}, Outcome.WARN, "expires"),
        ({"iat": int(NOW.timestamp()), "exp": int((NOW + timedelta(hours=1)).timestamp())}, Outcome.PASS, "expires"),
        ({"iat": int((NOW - timedelta(minutes=55)).timestamp()), "exp": int((NOW + timedelta(minutes=5)).timestamp())}, Outcome.FAIL, "expires"),
    ],
)
def test_bearer_token_expiry_is_read_from_the_jwt(tmp_path: Path, claims: dict[str, object], expected: Outcome, words: str) -> None:
    token = jwt(claims)
    view = load_one(write_kubeconfig(tmp_path / "k", kubeconfig_doc(token=token)))
    f = judge_credentials(view, NOW, POLICY)
    assert f.outcome is expected and words in f.message
    assert token not in json.dumps(dict(f.evidence)) and token not in f.message


def test_opaque_token_is_not_judged(tmp_path: Path) -> None:
    view = load_one(write_kubeconfig(tmp_path / "k", kubeconfig_doc(token="abcdef.0123456789abcdef")))
    assert judge_credentials(view, NOW, POLICY).outcome is Outcome.PASS


def test_exec_plugin_missing_from_path_fails_with_its_install_hint(tmp_path: Path) -> None:
    doc = kubeconfig_doc(extra_user={"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "gke-gcloud-auth-plugin", "interactiveMode": "Never",
                                              "installHint": "Install gke-gcloud-auth-plugin with gcloud components install"}})
    view = load_one(write_kubeconfig(tmp_path / "k", doc))
    missing = judge_credentials(view, NOW, POLICY, which=lambda _: None)
    assert missing.outcome is Outcome.FAIL and "not on PATH" in missing.message
    assert "gcloud components install" in missing.remediation
    found = judge_credentials(view, NOW, POLICY, which=lambda c: f"/usr/bin/{c}")
    assert found.outcome is Outcome.PASS


def test_removed_gcp_auth_provider_points_at_its_exec_replacement(tmp_path: Path) -> None:
    view = load_one(write_kubeconfig(tmp_path / "k", kubeconfig_doc(extra_user={"auth-provider": {"name": "gcp"}})))
    f = judge_credentials(view, NOW, POLICY)
    assert f.outcome is Outcome.FAIL and "gke-gcloud-auth-plugin" in f.remediation


def test_client_certificate_file_that_does_not_resolve_is_a_finding(tmp_path: Path) -> None:
    doc = kubeconfig_doc()
    doc["users"][0]["user"] = {"client-certificate": "gone.crt", "client-key": "gone.key"}  # type: ignore[index]
    view = load_one(write_kubeconfig(tmp_path / "k", doc))
    validate_inline(view)  # references are not usage errors...
    f = judge_credentials(view, NOW, POLICY)  # ...they are findings
    assert f.outcome is Outcome.FAIL and "does not exist" in f.message


def test_no_credentials_warns_about_anonymous_requests(tmp_path: Path) -> None:
    view = load_one(write_kubeconfig(tmp_path / "k", kubeconfig_doc()))
    assert judge_credentials(view, NOW, POLICY).outcome is Outcome.WARN


def test_insecure_skip_tls_verify_is_flagged(tmp_path: Path) -> None:
    doc = kubeconfig_doc()
    doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True  # type: ignore[index]
    f = judge_tls(load_one(write_kubeconfig(tmp_path / "k", doc)), NOW, POLICY)
    assert f.outcome is Outcome.WARN and "insecure-skip-tls-verify" in f.message


def test_world_readable_kubeconfig_is_flagged(tmp_path: Path) -> None:
    loose = write_kubeconfig(tmp_path / "loose", kubeconfig_doc(), mode=0o644)
    tight = write_kubeconfig(tmp_path / "tight", kubeconfig_doc(), mode=0o600)
    assert judge_file(loose).outcome is Outcome.WARN and "chmod 600" in judge_file(loose).remediation
    assert judge_file(tight).outcome is Outcome.PASS


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "x.e30.y", "x.WzFd.y", "...."])
def test_jwt_decoding_never_raises(token: str) -> None:
    claims = decode_jwt_claims(token)
    assert claims is None or isinstance(claims, dict)


def test_a_client_key_of_another_certificate_is_named_before_any_request(tmp_path: Path) -> None:
    ca = make_ca()
    doc = kubeconfig_doc(ca=ca, client=make_leaf(ca, "x"))
    doc["users"][0]["user"]["client-key-data"] = b64(make_leaf(ca, "y").key_pem)  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"client-key-data: the client key does not match the client certificate"):
        validate_inline(load_one(write_kubeconfig(tmp_path / "k", doc)))

