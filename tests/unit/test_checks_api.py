"""Reachability, served certificate and identity checks on recorded facts."""

from datetime import timedelta

import pytest
import yaml

from preflight._checks.api import api_reachable
from preflight._checks.tls import tls_serving_cert
from preflight._checks.auth import auth_identity, auth_permissions
from kube_client._errors import UnauthorizedError, UnreachableError
from preflight._facts.cluster import AccessResult, Health, Permission
from kube_client._cluster import Identity, ServerVersion
from kube_client._kubeconfig import ClusterEntry, Credentials, Material
from preflight._engine.model import Outcome
from preflight._facts.cluster import TlsProbe
from preflight._engine.runner import FactError
from preflight._facts.policy import Policy
from kube_client._target import Target
from tests.pkifactory import NOW, YEAR, make_ca, make_leaf

DAY = timedelta(days=1)
CA = make_ca(not_before=-2 * YEAR)
V = ServerVersion(git_version="v1.37.2", major=1, minor=37, server_time=NOW)
OK = Health(endpoint="/readyz", status=200)


def probe(*certs: bytes) -> TlsProbe:
    return TlsProbe(host="127.0.0.1", port=6443, address="127.0.0.1", dns_ms=0.1, connect_ms=0.2, tls_ms=3, tls_version="TLSv1.3", chain=certs)


def target(*, ca: bytes | None = CA.cert_pem, creds: Credentials | None = None, server: str = "https://127.0.0.1:6443") -> Target:
    return Target(
        context="prod",
        cluster=ClusterEntry(name="prod", server=server, ca=Material(source="kc", data=ca) if ca else None),
        credentials=creds or Credentials(user="u"),
        namespace="default",
        namespace_source="default",
    )


@pytest.mark.parametrize(
    ("error", "step"),
    [
        (UnreachableError("DNS: cannot resolve api.example", step="dns", transient=False), "dns"),
        (UnreachableError("connection refused", step="connect", transient=True), "connect"),
        (UnreachableError("no answer: accepted but never answered the TLS handshake", step="timeout", transient=True), "timeout"),
        (UnreachableError("TLS handshake failed", step="tls", transient=False), "tls"),
    ],
)
def test_unreachable_names_the_step_that_failed(error: UnreachableError, step: str) -> None:
    f = api_reachable(Policy(now=NOW), FactError("probe", error), FactError("version", error), FactError("livez", error), FactError("readyz", error))
    assert f.outcome is Outcome.FAIL and f.evidence["step"] == step and f.message == error.message


def test_stopped_etcd_shows_as_a_failing_readyz_check() -> None:
    readyz = Health.parse("/readyz", 500, "[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\nreadyz check failed")
    f = api_reachable(Policy(now=NOW), probe(b"x"), V, Health(endpoint="/livez", status=200), readyz)
    assert f.outcome is Outcome.FAIL and "failing: etcd" in f.message and "etcd" in f.remediation


def test_clock_skew_against_the_api_server_is_a_warning() -> None:
    f = api_reachable(Policy(now=NOW + timedelta(minutes=5)), probe(b"x"), V, OK, OK)
    assert f.outcome is Outcome.WARN and "ahead of" in f.message


def test_healthy_api_server_passes_with_timings() -> None:
    f = api_reachable(Policy(now=NOW), probe(b"x"), V, Health(endpoint="/livez", status=200), OK)
    assert f.outcome is Outcome.PASS and f.evidence["server_version"] == "v1.37.2" and "tls_ms" in f.evidence


@pytest.mark.parametrize(
    "version", ["v1.27.3-eks-4f4795d", "v1.21.1", "1.30"],
)
def test_server_versions_parse_with_vendor_suffixes(version: str) -> None:
    parsed = ServerVersion.parse({"gitVersion": version})
    assert (parsed.major, parsed.minor) in ((1, 27), (1, 21), (1, 30))


def test_server_version_falls_back_to_major_minor_with_plus() -> None:
    parsed = ServerVersion.parse({"gitVersion": "", "major": "1", "minor": "21+"})
    assert (parsed.major, parsed.minor) == (1, 21) and not parsed.at_least(1, 24)


def test_expired_serving_certificate_fails_and_says_restart() -> None:
    served = make_leaf(CA, "kube-apiserver", sans=("127.0.0.1",), server=True, not_before=-YEAR - 3 * DAY)
    f = tls_serving_cert(target(), Policy(now=NOW), probe(served.cert_der))
    assert f.outcome is Outcome.FAIL and "expired 3d ago" in f.message and "restart kube-apiserver" in f.remediation


def test_kubeconfig_of_another_cluster_is_told_its_ca_did_not_sign_the_server() -> None:
    served = make_leaf(make_ca(), "kube-apiserver", sans=("127.0.0.1",), server=True)
    f = tls_serving_cert(target(), Policy(now=NOW), probe(served.cert_der))
    assert f.outcome is Outcome.FAIL and "this kubeconfig's CA did not sign the API server's certificate" in f.message
    assert f.evidence["ca_ok"] is False


def test_serving_certificate_without_the_host_in_its_sans_fails() -> None:
    served = make_leaf(CA, "kube-apiserver", sans=("10.0.0.1", "kubernetes"), server=True)
    f = tls_serving_cert(target(), Policy(now=NOW), probe(served.cert_der))
    assert f.outcome is Outcome.FAIL and "does not name 127.0.0.1" in f.message


def test_valid_serving_certificate_passes() -> None:
    served = make_leaf(CA, "kube-apiserver", sans=("127.0.0.1",), server=True)
    f = tls_serving_cert(target(), Policy(now=NOW + DAY), probe(served.cert_der, CA.cert_der))
    assert f.outcome is Outcome.PASS and f.evidence["ca_ok"] is True and f.evidence["san_ok"] is True


def test_401_with_an_expired_client_certificate_names_the_date() -> None:
    client = make_leaf(CA, "kubernetes-admin", not_before=-YEAR - 14 * DAY)
    creds = Credentials(user="admin", client_cert=Material(source="kc", data=client.cert_pem), client_key=Material(source="kc", data=client.key_pem))
    f = auth_identity(target(creds=creds), Policy(now=NOW), FactError("identity", UnauthorizedError("Unauthorized", status=401)))
    assert f.outcome is Outcome.FAIL and "Unauthorized (401): the client certificate (CN=kubernetes-admin) expired on" in f.message


def test_401_with_a_legacy_token_points_at_the_invalid_since_label() -> None:
    import base64
    import json

    claims = {"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": "ci", "kubernetes.io/serviceaccount/secret.name": "jenkins-token"}
    token = "e30." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + ".sig"
    creds = Credentials(user="jenkins", token=Material(source="kc", data=token.encode()))
    f = auth_identity(target(creds=creds), Policy(now=NOW), FactError("identity", UnauthorizedError("Unauthorized", status=401)))
    assert "kubernetes.io/legacy-token-invalid-since" in f.message and "ci/jenkins-token" in f.message
    assert token not in f.message + f.remediation


def test_identity_of_a_serviceaccount_is_named_as_such() -> None:
    f = auth_identity(target(), Policy(now=NOW), Identity(username="system:serviceaccount:ci:jenkins", groups=("system:serviceaccounts",)))
    assert f.outcome is Outcome.PASS and "ServiceAccount ci/jenkins" in f.message


def test_anonymous_identity_fails() -> None:
    assert auth_identity(target(), Policy(now=NOW), Identity(username="system:anonymous")).outcome is Outcome.FAIL


def test_missing_permissions_come_out_as_an_applicable_role() -> None:
    results = [
        AccessResult(permission=Permission(verb="create", resource="secrets"), allowed=False),
        AccessResult(permission=Permission(verb="patch", resource="deployments", group="apps"), allowed=False),
        AccessResult(permission=Permission(verb="get", resource="pods"), allowed=True),
    ]
    f = auth_permissions(target(), Policy(), results, [])
    assert f.outcome is Outcome.FAIL and "missing 2 of 3" in f.message and "release records" in f.message
    role = yaml.safe_load(str(f.evidence["role"]))
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == "default"
    assert {(r["apiGroups"][0], r["resources"][0], tuple(r["verbs"])) for r in role["rules"]} == {("", "secrets", ("create",)), ("apps", "deployments", ("patch",))}
