"""The certificate engine on certificates generated per test, relative to now."""

from datetime import timedelta

import pytest

from kube_client._errors import ConfigError
from preflight._engine.model import Outcome
from preflight._facts.policy import ExpiryPolicy
from preflight._facts.x509 import chains_to, describe, issued_by, san_matches
from kube_client._pem import key_matches, load_certificates, load_private_key
from tests.pkifactory import NOW, YEAR, make_ca, make_leaf, new_key, rsa_key

DAY = timedelta(days=1)


def test_pem_bundle_der_and_single_pem_load_the_same_certificates() -> None:
    ca = make_ca()
    leaf = make_leaf(ca, "kube-apiserver", sans=("127.0.0.1", "localhost"), server=True)
    bundle = load_certificates(leaf.cert_pem + ca.cert_pem, source="bundle.pem")
    assert [c.serial_number for c in bundle] == [leaf.cert.serial_number, ca.cert.serial_number]
    assert load_certificates(leaf.cert_der, source="leaf.der")[0] == leaf.cert
    assert load_certificates(leaf.cert_pem, source="leaf.pem")[0] == leaf.cert


@pytest.mark.parametrize("garbage", [b"", b"hello", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", b"\x30\x03\x02\x01\x00"])
def test_garbage_is_a_config_error_that_names_its_source(garbage: bytes) -> None:
    with pytest.raises(ConfigError, match="admin.conf: users\\[x\\]"):
        load_certificates(garbage, source="admin.conf: users[x].client-certificate-data")


def test_describe_reports_what_people_ask_of_a_certificate() -> None:
    ca = make_ca()
    leaf = make_leaf(ca, "kube-apiserver", orgs=("system:masters",), sans=("10.96.0.1", "kubernetes.default"), server=True)
    info = describe(leaf.cert)
    assert info.subject == "CN=kube-apiserver,O=system:masters"
    assert info.issuer == "CN=kubernetes"
    assert info.serial == str(leaf.cert.serial_number)
    assert set(info.sans) == {"10.96.0.1", "kubernetes.default"}
    assert info.not_after - info.not_before == YEAR
    assert not info.is_ca and describe(ca.cert).is_ca


def test_key_match_detects_a_key_from_another_pair() -> None:
    leaf = make_leaf(make_ca(), "admin")
    assert key_matches(leaf.cert, leaf.key)
    assert not key_matches(leaf.cert, new_key())
    assert not key_matches(leaf.cert, rsa_key())


def test_private_keys_load_from_pem_and_reject_garbage() -> None:
    leaf = make_leaf(make_ca(), "admin")
    assert key_matches(leaf.cert, load_private_key(leaf.key_pem, source="k"))
    with pytest.raises(ConfigError, match="k.pem"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", source="k.pem")


def test_signed_by_checks_the_signature_not_just_the_issuer_name() -> None:
    ca, impostor = make_ca("kubernetes"), make_ca("kubernetes")  # same name, other key
    leaf = make_leaf(ca, "admin")
    assert issued_by(leaf.cert, ca.cert)
    assert not issued_by(leaf.cert, impostor.cert)


def test_a_kubeadm_style_ca_without_key_usage_is_still_accepted_as_signer() -> None:
    ca = make_ca(key_usage=False)
    leaf = make_leaf(ca, "system:kube-scheduler")
    assert issued_by(leaf.cert, ca.cert)
    assert chains_to(leaf.cert, [ca.cert])


def test_chains_through_an_intermediate_in_any_order() -> None:
    root = make_ca("root")
    intermediate = make_leaf(root, "intermediate")
    # an intermediate is a CA; reuse make_ca's key for signing by wrapping it
    from tests.pkifactory import Issued

    inter_ca = Issued(intermediate.cert, intermediate.key)
    leaf = make_leaf(inter_ca, "kube-apiserver", server=True)
    assert chains_to(leaf.cert, [root.cert], [intermediate.cert])
    assert not chains_to(leaf.cert, [root.cert])
    assert not chains_to(leaf.cert, [make_ca("other").cert], [intermediate.cert])


@pytest.mark.parametrize(
    ("not_before", "lifetime", "expected"),
    [
        (-YEAR + 40 * DAY, YEAR, Outcome.PASS),  # 40 days left
        (-YEAR + 31 * DAY, YEAR, Outcome.PASS),  # just outside the warning window
        (-YEAR + 29 * DAY, YEAR, Outcome.WARN),  # inside 30d
        (-YEAR + 8 * DAY, YEAR, Outcome.WARN),
        (-YEAR + 6 * DAY, YEAR, Outcome.FAIL),  # inside 7d
        (-YEAR - DAY, YEAR, Outcome.FAIL),  # expired yesterday
        (2 * DAY, YEAR, Outcome.FAIL),  # not valid yet: clock skew
    ],
)
def test_expiry_thresholds_at_their_edges(not_before: timedelta, lifetime: timedelta, expected: Outcome) -> None:
    leaf = make_leaf(make_ca(not_before=-2 * YEAR), "admin", not_before=not_before, lifetime=lifetime)
    outcome, _ = ExpiryPolicy().judge(describe(leaf.cert), NOW)
    assert outcome is expected


def test_expired_is_fail_even_with_zero_thresholds_and_says_when() -> None:
    leaf = make_leaf(make_ca(not_before=-2 * YEAR), "admin", not_before=-YEAR - 35 * DAY)
    outcome, phrase = ExpiryPolicy(warn_within=timedelta(0), fail_within=timedelta(0)).judge(describe(leaf.cert), NOW)
    assert outcome is Outcome.FAIL
    assert phrase.startswith("expired 35d ago (")


def test_not_yet_valid_names_clock_skew() -> None:
    leaf = make_leaf(make_ca(), "admin", not_before=3 * DAY)
    outcome, phrase = ExpiryPolicy().judge(describe(leaf.cert), NOW)
    assert outcome is Outcome.FAIL and "clock skew" in phrase


def test_fail_window_longer_than_warn_window_is_refused() -> None:
    with pytest.raises(ConfigError, match="--fail-within"):
        ExpiryPolicy(warn_within=timedelta(days=7), fail_within=timedelta(days=30))


@pytest.mark.parametrize(
    ("host", "ok"),
    [("127.0.0.1", True), ("localhost", True), ("api.example.com", True), ("x.api.example.com", False), ("10.0.0.1", False), ("LOCALHOST", True)],
)
def test_san_matching_follows_go_hostname_rules(host: str, ok: bool) -> None:
    leaf = make_leaf(make_ca(), "kube-apiserver", sans=("127.0.0.1", "localhost", "*.example.com"), server=True)
    assert san_matches(describe(leaf.cert), host) is ok
