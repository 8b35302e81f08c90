"""``preflight check`` against the real control plane, one incident step per test.

Each test breaks the cluster the way the incident did (tests/controlplane knobs), then
asserts the check id, its outcome and the key words of the diagnosis.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sa_tokens import ensure
from tests.pkifactory import YEAR, Issued, b64, make_ca, make_leaf, write_kubeconfig

pytestmark = pytest.mark.cluster


def kubeconfig_copy(cp: Any, path: Path, *, ca_pem: bytes | None = None, client: Issued | None = None, server: str | None = None) -> Path:
    doc = yaml.safe_load(cp.admin_kubeconfig.read_text())
    if ca_pem is not None:
        doc["clusters"][0]["cluster"]["certificate-authority-data"] = b64(ca_pem)
    if client is not None:
        doc["users"][0]["user"]["client-certificate-data"] = b64(client.cert_pem)
        doc["users"][0]["user"]["client-key-data"] = b64(client.key_pem)
    if server is not None:
        doc["clusters"][0]["cluster"]["server"] = server
    return write_kubeconfig(path, doc)


def serviceaccount_kubeconfig(cp: Any, path: Path, namespace: str, account: str, token: str) -> Path:
    from sa_tokens import kubeconfig_for

    path.write_text(kubeconfig_for(server=cp.server, ca_pem=(cp.pki_dir / "ca.crt").read_bytes(),
                                   namespace=namespace, account=account, token=token))
    return path


def cluster_ca(cp: Any) -> Issued:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    cert = x509.load_pem_x509_certificate((cp.pki_dir / "ca.crt").read_bytes())
    key = load_pem_private_key((cp.pki_dir / "ca.key").read_bytes(), password=None)
    return Issued(cert, key)  # type: ignore[arg-type]


def test_healthy_cluster_passes_every_check_and_reports_the_pinned_version(cluster: Any, preflight: Any) -> None:
    code, findings, err = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig))
    assert code == 0, findings
    assert findings["api.reachable"]["evidence"]["server_version"] == cluster.version == "v1.37.2"
    outcomes = {i: f["outcome"] for i, f in findings.items()}
    assert outcomes.pop("serviceaccount.token") == "skip"  # admin is a user, not a ServiceAccount
    # This control plane has no node: a warning (an autoscaler may add one), so still READY.
    assert outcomes.pop("cluster.nodes") == "warn" and "the cluster has no nodes" in findings["cluster.nodes"]["message"]
    assert set(outcomes.values()) == {"pass"}, outcomes
    assert "checking context 'kubernetes-admin@kubernetes'" in err


def test_deep_canary_is_filled_by_the_real_controller_and_cleaned_up(cluster: Any, preflight: Any) -> None:
    code, findings, _ = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "--deep")
    assert code == 0 and findings["controlplane.token-controller"]["outcome"] == "pass"
    leftovers = cluster.kubectl("get", "serviceaccounts,secrets", "-n", "default", "-o", "name").stdout
    assert "preflight-canary" not in leftovers


def test_expired_controller_manager_and_scheduler_certificates_show_as_stale_leases(breakable: Any, preflight: Any) -> None:
    breakable.break_("expire-client-cert", "controller-manager")
    breakable.break_("expire-client-cert", "scheduler")
    breakable.kubectl("create", "namespace", "rmxc-prod")
    breakable.kubectl("create", "serviceaccount", "-n", "rmxc-prod", "rmxc-jenkinss")
    argv = ("check", "--kubeconfig", str(breakable.admin_kubeconfig), "--service-account", "rmxc-prod/rmxc-jenkinss", "--timeout", "10s")

    def leases_failed() -> dict[str, Any] | None:
        _, findings, _ = preflight(*argv)
        message = findings["controlplane.leases"]["message"]
        both = "kube-controller-manager" in message and "kube-scheduler" in message
        return findings if findings["controlplane.leases"]["outcome"] == "fail" and both else None

    findings = breakable.wait_for(leases_failed, timeout=150, what="controlplane.leases to fail")
    leases = findings["controlplane.leases"]["message"]
    assert "kube-controller-manager has not renewed its leader lease" in leases
    # kube-scheduler releases its lease when stopped; the restarted one cannot take it over
    assert "kube-scheduler released its leader lease" in leases or "kube-scheduler has not renewed its leader lease" in leases
    assert "helm --wait will time out" in leases and "token Secrets stay empty" in leases
    assert "Unauthorized" in breakable.log_path("kube-controller-manager").read_text()
    token = findings["serviceaccount.token"]
    assert token["outcome"] == "fail" and "no long-lived token" in token["message"]
    code, again, _ = preflight(*argv)
    assert code == 1 and list(again)[:4] == ["api.reachable", "tls.serving-cert", "kubeconfig.credentials", "auth.identity"]


def test_renewed_but_not_restarted_is_found_in_node_mode_and_cleared_by_a_real_restart(breakable: Any, preflight: Any) -> None:
    breakable.break_("expire-client-cert", "controller-manager")
    breakable.break_("renew-without-restart")
    code, findings, _ = preflight("check", "--kubeconfig", str(breakable.admin_kubeconfig), "--node", str(breakable.workdir))
    restarts = findings["node.restarts"]
    assert code == 1 and restarts["outcome"] == "fail"
    assert "controller-manager.conf" in restarts["message"] and "kube-controller-manager" in restarts["message"]
    assert "scheduler.conf" in restarts["message"] and "restart it" in restarts["message"]
    assert "mirror pod" in restarts["remediation"]
    code, certs, _ = preflight("certs", "--pki-dir", str(breakable.workdir), "--kubelet-dir", str(breakable.workdir / "no-kubelet"),
                               "--compare-served")
    assert certs["node.restarts"]["outcome"] == "fail"
    assert certs["pki.controller-manager.conf"]["outcome"] == "pass"  # the file on disk is fine: the process is not
    breakable.repair()
    code, findings, _ = preflight("check", "--kubeconfig", str(breakable.admin_kubeconfig), "--node", str(breakable.workdir))
    assert findings["node.restarts"]["outcome"] == "pass" and findings["node.served-certs"]["outcome"] == "pass"


def test_expired_serving_certificate_is_named_with_its_date(breakable: Any, preflight: Any) -> None:
    breakable.break_("expire-serving-cert")
    code, findings, _ = preflight("check", "--kubeconfig", str(breakable.admin_kubeconfig), "--timeout", "10s")
    assert code == 1
    tls = findings["tls.serving-cert"]
    assert tls["outcome"] == "fail" and "the API server's certificate expired" in tls["message"]
    assert findings["api.reachable"]["outcome"] == "fail" and findings["api.reachable"]["evidence"]["step"] == "tls"


def test_expired_client_certificate_in_the_kubeconfig_is_the_root_cause(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    stale = make_leaf(cluster_ca(cluster), "kubernetes-admin", orgs=("kubeadm:cluster-admins",), not_before=-YEAR - timedelta(days=30))
    path = kubeconfig_copy(cluster, tmp_path / "stale-admin.conf", client=stale)
    code, findings, _ = preflight("check", "--kubeconfig", str(path))
    assert code == 1
    assert findings["kubeconfig.credentials"]["outcome"] == "fail" and "expired 30d ago" in findings["kubeconfig.credentials"]["message"]
    identity = findings["auth.identity"]
    assert identity["outcome"] == "fail" and "Unauthorized (401): the client certificate (CN=kubernetes-admin" in identity["message"]
    assert findings["controlplane.leases"]["outcome"] == "skip"  # not checked: blamed on auth.identity
    assert json.loads(json.dumps(findings))  # evidence is plain JSON


def test_kubeconfig_with_another_clusters_ca_is_told_so(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    path = kubeconfig_copy(cluster, tmp_path / "other-ca.conf", ca_pem=make_ca().cert_pem)
    code, findings, _ = preflight("check", "--kubeconfig", str(path), "--timeout", "10s")
    assert code == 1
    assert "this kubeconfig's CA did not sign the API server's certificate" in findings["tls.serving-cert"]["message"]
    assert findings["api.reachable"]["evidence"]["step"] == "tls"


def test_serviceaccount_without_permissions_gets_a_role_that_really_fixes_it(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    cluster.kubectl("create", "namespace", "team-a")
    result = ensure("team-a", "deployer", kubeconfig=str(cluster.admin_kubeconfig), create_sa=True)
    sa_conf = serviceaccount_kubeconfig(cluster, tmp_path / "deployer.conf", "team-a", "deployer", result.token)
    code, findings, _ = preflight("check", "--kubeconfig", str(sa_conf))
    perms = findings["auth.permissions"]
    assert code == 1 and perms["outcome"] == "fail" and "missing" in perms["message"]
    assert findings["controlplane.leases"]["outcome"] == "skip" and "not allowed" in findings["controlplane.leases"]["message"]
    # Nodes it may not list: skipped, so they cannot change the verdict (which is the permissions').
    assert findings["cluster.nodes"]["outcome"] == "skip" and "not allowed" in findings["cluster.nodes"]["message"]
    token = findings["serviceaccount.token"]  # it may not read ServiceAccounts, but it uses its own token Secret
    assert token["outcome"] == "pass" and "its own long-lived token Secret team-a/deployer-token" in token["message"]
    cluster.kubectl("apply", "-f", "-", input=perms["evidence"]["role"])
    cluster.kubectl("create", "rolebinding", "helm-deployer", "-n", "team-a", "--role", "helm-deployer", "--serviceaccount", "team-a:deployer")
    _, findings, _ = preflight("check", "--kubeconfig", str(sa_conf))
    assert findings["auth.permissions"]["outcome"] == "pass"


def test_what_auth_permissions_finds_missing_is_what_kubectl_auth_can_i_denies(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    """auth.permissions proves "allowed" from one SelfSubjectRulesReview where it can and asks the
    rest one SelfSubjectAccessReview each. Either way it must deny exactly what the server's
    authorizer denies, for rules shaped every way RBAC matches them: wildcard groups, resources
    and verbs, a rule limited to resourceNames (no grant for a request without a name), and a
    ClusterRole bound in the namespace."""
    from preflight._facts.permissions import DEFAULT_DEPLOY, expand

    cluster.kubectl("create", "namespace", "rules-a")
    token = ensure("rules-a", "deployer", kubeconfig=str(cluster.admin_kubeconfig), create_sa=True).token
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "shaped", "namespace": "rules-a"}, "rules": [
        {"apiGroups": ["*"], "resources": ["configmaps"], "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "update", "delete", "list"], "resourceNames": ["only-this"]},
        {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get", "list"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "patch"]},
    ]}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(role))
    cluster.kubectl("create", "rolebinding", "shaped", "-n", "rules-a", "--role", "shaped", "--serviceaccount", "rules-a:deployer")
    cluster.kubectl("create", "rolebinding", "view", "-n", "rules-a", "--clusterrole", "view", "--serviceaccount", "rules-a:deployer")
    sa_conf = serviceaccount_kubeconfig(cluster, tmp_path / "deployer.conf", "rules-a", "deployer", token)

    _, findings, _ = preflight("check", "--kubeconfig", str(sa_conf))

    def denied(verb: str, resource: str) -> bool:
        can = cluster.kubectl("auth", "can-i", verb, resource, "-n", "rules-a", "--as", "system:serviceaccount:rules-a:deployer", check=False)
        assert can.stdout.strip() in ("yes", "no"), can
        return can.stdout.strip() == "no"

    kubectl_denies = {str(p) for p in expand(DEFAULT_DEPLOY) if denied(p.verb, f"{p.resource}.{p.group}" if p.group else p.resource)}
    missing = set(findings["auth.permissions"]["evidence"]["missing"])
    assert missing == kubectl_denies
    assert {"get configmaps", "list deployments.apps", "watch deployments.apps", "create jobs.batch"}.isdisjoint(missing)  # granted: proven
    assert {"get secrets", "create deployments.apps", "delete jobs.batch"} <= missing  # names-only, not granted, not granted


def test_unavailable_apiservice_warns_about_incomplete_discovery(breakable: Any, preflight: Any) -> None:
    breakable.break_("unavailable-apiservice")
    try:
        code, findings, _ = preflight("check", "--kubeconfig", str(breakable.admin_kubeconfig))
        api = findings["controlplane.apiservices"]
        assert api["outcome"] == "warn" and code == 0
        assert "v1beta1.metrics.k8s.io" in api["message"] and "discovery is incomplete" in api["message"]
        assert api["evidence"]["unavailable"][0]["reason"]
    finally:
        breakable.kubectl("delete", "apiservice", "v1beta1.metrics.k8s.io", "--ignore-not-found")


def test_black_hole_endpoint_ends_within_the_deadline_naming_no_answer(cluster: Any, tmp_path: Path) -> None:
    address = cluster.break_("blackhole")
    path = kubeconfig_copy(cluster, tmp_path / "blackhole.conf", server=f"https://{address}")
    started = time.monotonic()
    done = subprocess.run([str(Path(sys.executable).parent / "preflight"), "check", "--kubeconfig", str(path), "--timeout", "3s", "-o", "json"],
                          capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    findings = {c["id"]: c for c in json.loads(done.stdout)["checks"]}
    assert done.returncode == 1
    assert findings["api.reachable"]["evidence"]["step"] == "timeout" and "never answered" in findings["api.reachable"]["message"]
    assert elapsed < 3 + 5, f"the 3s deadline was not honoured ({elapsed:.1f}s)"  # a contract, not a benchmark


def test_stopped_etcd_blocks_the_deploy_at_once_and_shows_in_health_checks_later(breakable: Any, preflight: Any) -> None:
    breakable.break_("stop", "etcd")
    argv = ("check", "--kubeconfig", str(breakable.admin_kubeconfig), "--timeout", "8s")
    # Measured: for ~45 s kube-apiserver still answers /version, /livez and /readyz from memory,
    # while every read that needs etcd hangs. That must already block the deploy (exit 1).
    code, findings, _ = preflight(*argv)
    assert code == 1
    assert any(f["outcome"] in ("fail", "error") and "etcd" in f["message"] for f in findings.values()), findings

    def health_fails() -> dict[str, Any] | None:
        _, f, _ = preflight(*argv)
        return f["api.reachable"] if f["api.reachable"]["outcome"] == "fail" else None

    api = breakable.wait_for(health_fails, timeout=150, what="api.reachable to fail")
    assert "etcd" in api["message"]


def test_helm_release_stuck_in_pending_upgrade(cluster: Any, preflight: Any) -> None:
    cluster.break_("helm-pending", "web")
    code, findings, _ = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "--release", "web", "--helm-timeout", "0s")
    helm = findings["helm.release"]
    assert code == 1 and helm["outcome"] == "fail"
    assert "stuck in pending-upgrade" in helm["message"] and helm["remediation"].startswith("helm rollback web 1")
    cluster.helm("rollback", "web", "1", "-n", "default", "--wait")
    _, findings, _ = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "--release", "web")
    assert findings["helm.release"]["outcome"] == "pass"


def test_rolebinding_naming_a_missing_serviceaccount_suggests_the_typo(cluster: Any, preflight: Any) -> None:
    for ns in ("rmxc-prod", "rmxc-dev"):
        cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("create", "serviceaccount", "-n", "rmxc-prod", "rmxc-jenkinss")
    cluster.kubectl("create", "rolebinding", "rmxc-jenkins-rolebinding", "-n", "rmxc-dev", "--clusterrole", "edit",
                    "--serviceaccount", "rmxc-prod:rmxc-jenkins")
    _, findings, _ = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "-n", "rmxc-dev")
    rbac = findings["rbac.subjects"]
    assert rbac["outcome"] == "warn"
    assert "names ServiceAccount rmxc-prod/rmxc-jenkins, which does not exist (rmxc-prod/rmxc-jenkinss exists: a typo?)" in rbac["message"]


def test_a_token_invalidated_by_the_legacy_cleaner_label_gets_401_explained(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    cluster.kubectl("create", "namespace", "legacy")
    result = ensure("legacy", "old-bot", kubeconfig=str(cluster.admin_kubeconfig), create_sa=True)
    conf = serviceaccount_kubeconfig(cluster, tmp_path / "old-bot.conf", "legacy", "old-bot", result.token)
    cluster.kubectl("label", "secret", "-n", "legacy", result.secret, "kubernetes.io/legacy-token-invalid-since=2025-01-01")
    # kube-apiserver caches successful token authentications for a few seconds: wait for the 401.
    cluster.wait_for(lambda: cluster.kubectl("auth", "whoami", kubeconfig=conf, check=False).returncode != 0,
                     timeout=60, what="the labelled token to be rejected")
    code, findings, _ = preflight("check", "--kubeconfig", str(conf))
    identity = findings["auth.identity"]
    assert code == 1 and identity["outcome"] == "fail"
    assert "kubernetes.io/legacy-token-invalid-since" in identity["message"] and f"legacy/{result.secret}" in identity["message"]
    assert result.token not in json.dumps(findings)


def test_missing_namespace_is_a_one_line_error_exit_2(cluster: Any, preflight: Any) -> None:
    code, findings, err = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "-n", "does-not-exist")
    assert code == 2 and findings == {}
    assert err.strip().splitlines()[-1].startswith("preflight: error: namespace 'does-not-exist' does not exist")
    code, _, _ = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "-n", "does-not-exist", "--create-namespace")
    assert code == 0


def test_ensure_token_creates_the_missing_long_lived_token_before_checking_it(cluster: Any, preflight: Any) -> None:
    cluster.kubectl("create", "namespace", "ci-ensure")
    cluster.kubectl("create", "serviceaccount", "-n", "ci-ensure", "jenkins")
    argv = ("check", "--kubeconfig", str(cluster.admin_kubeconfig), "--service-account", "ci-ensure/jenkins")
    code, findings, _ = preflight(*argv)
    assert code == 1 and "has no long-lived token" in findings["serviceaccount.token"]["message"]
    code, findings, _ = preflight(*argv, "--ensure-token")
    assert code == 0 and findings["serviceaccount.token"]["outcome"] == "pass"
    assert "jenkins-token" in cluster.kubectl("get", "secrets", "-n", "ci-ensure", "-o", "name").stdout


def test_junit_report_of_a_failing_run_lists_every_check(breakable: Any, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from preflight._cli.main import main

    breakable.break_("stop", "kube-scheduler")
    junit = tmp_path / "preflight.xml"
    breakable.wait_for(lambda: main(["check", "--kubeconfig", str(breakable.admin_kubeconfig), "-q", "--junit", str(junit), "-o", "json"]) == 1
                       and "controlplane.leases" in junit.read_text() and 'type="fail"' in junit.read_text(),
                       timeout=150, what="a failing JUnit report")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) >= 1
    names = {c.get("name") for c in suite.iter("testcase")}
    assert {"api.reachable", "controlplane.leases", "auth.permissions"} <= names


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])  # Ctrl-C, and a Jenkins abort
def test_deep_canary_is_deleted_when_the_run_is_interrupted(breakable: Any, tmp_path: Path, signum: str) -> None:
    import signal

    breakable.break_("stop", "kube-controller-manager")  # so the canary stays empty and preflight waits
    # A shell that starts background jobs makes them ignore SIGINT, and children inherit that:
    # give the child the default disposition, as a terminal would.
    proc = subprocess.Popen([str(Path(sys.executable).parent / "preflight"), "check", "--kubeconfig", str(breakable.admin_kubeconfig),
                             "--deep", "--timeout", "60s", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def canaries() -> str:
        return breakable.kubectl("get", "serviceaccounts,secrets", "-n", "default", "-o", "name").stdout

    try:
        breakable.wait_for(lambda: "preflight-canary" in canaries(), timeout=30, what="the canary to be created")
        assert proc.poll() is None, "preflight ended before it could be interrupted"
        proc.send_signal(getattr(signal, signum))
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 2 and "interrupted" in err and "Traceback" not in err, err
    assert "preflight-canary" not in canaries()


def test_manifests_from_the_real_helm_template_drive_permissions_and_served_kinds(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    chart = Path(__file__).resolve().parents[1] / "controlplane" / "charts" / "stallable"
    rendered = cluster.helm("template", "web", str(chart), "-n", "default").stdout
    manifests = tmp_path / "rendered.yaml"
    manifests.write_text(rendered)
    code, findings, _ = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "--manifests", str(manifests))
    assert code == 0 and findings["auth.permissions"]["outcome"] == "pass"
    assert "patch configmaps" not in findings["auth.permissions"]["evidence"]["missing"]
    manifests.write_text(rendered + "\n---\napiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: legacy}\n")
    code, findings, _ = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "--manifests", str(manifests))
    perms = findings["auth.permissions"]
    assert code == 1 and "Deployment (apps/v1beta1)" in perms["message"] and "does not serve" in perms["message"]


def test_an_unavailable_apiservice_fails_the_deploy_that_uses_its_group(breakable: Any, preflight: Any, tmp_path: Path) -> None:
    breakable.break_("unavailable-apiservice")
    manifests = tmp_path / "rendered.yaml"
    manifests.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                         "apiVersion: metrics.k8s.io/v1beta1\nkind: PodMetrics\nmetadata: {name: b}\n")
    try:
        code, findings, _ = preflight("check", "--kubeconfig", str(breakable.admin_kubeconfig), "--manifests", str(manifests))
        api = findings["controlplane.apiservices"]
        assert code == 1 and api["outcome"] == "fail" and "this deploy uses metrics.k8s.io" in api["message"]
    finally:
        breakable.kubectl("delete", "apiservice", "v1beta1.metrics.k8s.io", "--ignore-not-found")


def test_check_through_the_kubeconfigs_proxy_url_tunnels_every_connection(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    from tests.connect_proxy import connect_proxy

    with connect_proxy(user="ci", password="pr0xy-pw") as (url, log):
        path = kubeconfig_copy(cluster, tmp_path / "config")
        doc = yaml.safe_load(path.read_text())
        doc["clusters"][0]["cluster"]["proxy-url"] = url.replace("http://", "http://ci:pr0xy-pw@")
        write_kubeconfig(path, doc)
        code, findings, err = preflight("check", "--kubeconfig", str(path))
    assert code == 0, findings
    reachable = findings["api.reachable"]
    assert reachable["evidence"]["via"] == f"proxy {url} (from proxy-url)" and url in reachable["message"]
    authority = cluster.server.removeprefix("https://")
    # The raw probe and the client's pooled connections, all tunnelled, all authenticated.
    assert len(log.connects) >= 2 and set(log.connects) == {authority}
    assert len(log.authorizations) == len(log.connects)
    assert "pr0xy-pw" not in json.dumps(findings) + err


def test_https_proxy_in_the_environment_is_ignored_for_a_loopback_server_as_kubectl_does(
        cluster: Any, preflight: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    code, findings, _ = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig))
    assert code == 0 and "via" not in findings["api.reachable"]["evidence"], findings["api.reachable"]


def test_a_plain_http_server_is_reachable_and_has_no_certificate_to_judge(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    """``kubectl proxy`` serves the real API on plain http://; the probe used to do TLS there
    whatever the scheme, so api.reachable always failed (issue 12)."""
    proxy = subprocess.Popen(
        [str(cluster.bin_dir / "kubectl"), "--kubeconfig", str(cluster.admin_kubeconfig), "proxy", "--port=0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proxy.stdout is not None
        line = proxy.stdout.readline()  # "Starting to serve on 127.0.0.1:NNNNN"; blocks until it listens
        address = line.strip().rsplit(" ", 1)[-1]
        assert address.startswith("127.0.0.1:"), line
        path = write_kubeconfig(tmp_path / "http", {
            "apiVersion": "v1", "kind": "Config", "current-context": "p",
            "clusters": [{"name": "p", "cluster": {"server": f"http://{address}"}}],
            "users": [{"name": "p", "user": {}}],
            "contexts": [{"name": "p", "context": {"cluster": "p", "user": "p"}}],
        })
        code, findings, _ = preflight("check", "--kubeconfig", str(path), "--timeout", "20s")
        assert findings["api.reachable"]["outcome"] == "pass", findings["api.reachable"]
        assert findings["tls.serving-cert"]["outcome"] == "skip"
        assert "plain http" in findings["tls.serving-cert"]["message"]
        assert findings["auth.identity"]["outcome"] == "pass"  # the proxy authenticates as the admin
        assert code == 0, findings
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


def test_an_insecure_cluster_is_reported_once_not_warned_on_every_request(cluster: Any, tmp_path: Path) -> None:
    """urllib3, the transport before http.client, printed an InsecureRequestWarning per request
    into the report's stderr; kubectl is silent and kubeconfig.tls already says it once."""
    doc = yaml.safe_load(cluster.admin_kubeconfig.read_text())
    del doc["clusters"][0]["cluster"]["certificate-authority-data"]
    doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    path = write_kubeconfig(tmp_path / "insecure", doc)
    done = subprocess.run([sys.executable, "-m", "preflight", "check", "--kubeconfig", str(path), "-o", "json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert "Warning" not in done.stderr, done.stderr
    findings = {f["id"]: f for f in json.loads(done.stdout)["checks"]}
    assert findings["api.reachable"]["outcome"] == "pass"
