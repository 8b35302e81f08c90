"""``sa-tokens`` against the real control plane: the token controller of the real
kube-controller-manager fills the Secrets, the real kube-apiserver authenticates the tokens,
and the real kubectl uses the kubeconfigs we write.

Every test works in a namespace of its own, named after the test. Waits are conditions with
deadlines (``cp.wait_for``); no test asserts a duration.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import sa_tokens
from sa_tokens import EnsureError, kubeconfig_for
from sa_tokens._kubeconfig_out import write_secret_file

pytestmark = pytest.mark.cluster

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME = "kubernetes.io/service-account.name"
SA_UID = "kubernetes.io/service-account.uid"
INVALID_SINCE = "kubernetes.io/legacy-token-invalid-since"
YEAR = timedelta(days=365)  # the legacy token cleaner's default period

Cli = Callable[..., tuple[int, str, str]]


# -- helpers ------------------------------------------------------------------------------------

def namespace_for(request: pytest.FixtureRequest) -> str:
    """A DNS-1123 label unique to the test: its name, shortened, plus a digest of it."""
    base = request.node.name.removeprefix("test_").replace("_", "-")
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]
    return f"sat-{base[:48].rstrip('-')}-{digest}"


@pytest.fixture
def ns(cluster: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace on the shared healthy cluster, deleted afterwards."""
    name = namespace_for(request)
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def get_json(cp: Any, *args: str) -> Any:
    return json.loads(cp.kubectl("get", *args, "-o", "json").stdout)


def token_secrets(cp: Any, namespace: str, account: str) -> list[dict[str, Any]]:
    """The token Secrets that name ``account``, as the API server has them."""
    items = get_json(cp, "secrets", "-n", namespace, "--field-selector", f"type={SA_TOKEN_TYPE}")["items"]
    return [s for s in items if (s["metadata"].get("annotations") or {}).get(SA_NAME) == account]


def secret_token(secret: dict[str, Any]) -> str:
    return base64.b64decode(secret["data"]["token"]).decode()


def whoami(cp: Any, kubeconfig: Path) -> Any:
    """``kubectl auth whoami`` with ``kubeconfig``: the CompletedProcess (check=False)."""
    return cp.kubectl("auth", "whoami", "-o", "json", kubeconfig=kubeconfig, check=False)


def username(done: Any) -> str:
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["status"]["userInfo"]["username"])


def token_kubeconfig(cp: Any, path: Path, namespace: str, account: str, token: str) -> Path:
    write_secret_file(path, kubeconfig_for(server=cp.server, ca_pem=(cp.pki_dir / "ca.crt").read_bytes(),
                                           namespace=namespace, account=account, token=token))
    return path


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("sa-tokens: error: "), err
    return lines[0]


# -- ensure on a healthy cluster -----------------------------------------------------------------

def test_ensure_creates_a_token_secret_that_the_real_controller_fills_and_the_token_authenticates(cluster: Any, ns: str) -> None:
    result = sa_tokens.ensure(ns, "jenkins", kubeconfig=str(cluster.admin_kubeconfig), create_sa=True)

    assert result.created and result.secret == "jenkins-token"
    assert result.identity == f"system:serviceaccount:{ns}:jenkins"
    account = get_json(cluster, "serviceaccount", "jenkins", "-n", ns)
    (secret,) = token_secrets(cluster, ns, "jenkins")
    # Filled by kube-controller-manager: the token, and the uid of the account it was made for.
    assert secret["metadata"]["name"] == "jenkins-token"
    assert secret["metadata"]["annotations"][SA_UID] == account["metadata"]["uid"]
    assert secret_token(secret) == result.token
    assert result.ca_pem == base64.b64decode(secret["data"]["ca.crt"])
    # Never listed in .secrets: the legacy token cleaner acts only on listed Secrets.
    assert "jenkins-token" not in [ref.get("name") for ref in account.get("secrets") or []]
    # The token stays out of everything printable.
    assert result.token not in repr(result)
    assert result.token not in json.dumps(result.summary())
    assert result.token not in str(result.summary())


def test_ensure_run_again_reuses_the_filled_secret_and_creates_nothing(cluster: Any, ns: str) -> None:
    admin = str(cluster.admin_kubeconfig)
    first = sa_tokens.ensure(ns, "ci", kubeconfig=admin, create_sa=True)
    before = token_secrets(cluster, ns, "ci")

    again = sa_tokens.ensure(ns, "ci", kubeconfig=admin)

    after = token_secrets(cluster, ns, "ci")
    assert first.created and not again.created
    assert again.secret == first.secret and again.token == first.token
    assert again.identity == f"system:serviceaccount:{ns}:ci"
    assert len(before) == len(after) == 1
    assert after[0]["metadata"]["uid"] == before[0]["metadata"]["uid"]


def test_cli_kubeconfig_out_writes_a_0600_kubeconfig_that_the_real_kubectl_authenticates_with(
        cluster: Any, ns: str, sa_tokens_cli: Cli, tmp_path: Path) -> None:
    out_file = tmp_path / "deployer.kubeconfig"

    code, out, err = sa_tokens_cli("ensure", "deployer", "-n", ns, "--create-sa", "--kubeconfig", str(cluster.admin_kubeconfig),
                                   "--kubeconfig-out", str(out_file), "-o", "json")

    assert code == 0, err
    summary = json.loads(out)
    assert summary["identity"] == f"system:serviceaccount:{ns}:deployer" and summary["created"] is True
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert username(whoami(cluster, out_file)) == f"system:serviceaccount:{ns}:deployer"
    (secret,) = token_secrets(cluster, ns, "deployer")
    token = secret_token(secret)
    assert token not in out and token not in err
    assert f"wrote kubeconfig for system:serviceaccount:{ns}:deployer to {out_file} (mode 0600)" in err
    assert [p.name for p in tmp_path.iterdir()] == [out_file.name]  # no temporary file left behind


def test_kubeconfig_out_keeps_the_source_clusters_proxy_url_and_the_real_kubectl_uses_it(
        cluster: Any, ns: str, sa_tokens_cli: Cli, tmp_path: Path) -> None:
    import yaml

    from tests.connect_proxy import connect_proxy

    with connect_proxy() as (url, log):
        source = yaml.safe_load(cluster.admin_kubeconfig.read_text())
        source["clusters"][0]["cluster"]["proxy-url"] = url
        source_file, out_file = tmp_path / "admin.conf", tmp_path / "deployer.kubeconfig"
        write_secret_file(source_file, yaml.safe_dump(source))

        code, _, err = sa_tokens_cli("ensure", "deployer", "-n", ns, "--create-sa", "--kubeconfig", str(source_file),
                                     "--kubeconfig-out", str(out_file))
        assert code == 0, err
        tunnels_by_sa_tokens = len(log.connects)
        assert yaml.safe_load(out_file.read_text())["clusters"][0]["cluster"]["proxy-url"] == url
        assert username(whoami(cluster, out_file)) == f"system:serviceaccount:{ns}:deployer"
    authority = cluster.server.removeprefix("https://")
    assert tunnels_by_sa_tokens >= 1 and len(log.connects) > tunnels_by_sa_tokens  # kubectl went through it too
    assert set(log.connects) == {authority}


def test_cli_token_out_dash_prints_only_the_token_on_stdout(cluster: Any, ns: str, sa_tokens_cli: Cli) -> None:
    code, out, err = sa_tokens_cli("ensure", "bot", "-n", ns, "--create-sa", "--kubeconfig", str(cluster.admin_kubeconfig),
                                   "--token-out", "-", "-o", "json")

    assert code == 0, err
    (secret,) = token_secrets(cluster, ns, "bot")
    token = secret_token(secret)
    assert out == token + "\n"
    assert token not in err
    assert json.loads(err)["identity"] == f"system:serviceaccount:{ns}:bot"  # the summary went to stderr


def test_ensure_without_its_own_secret_reuses_the_newest_filled_one(cluster: Any, ns: str) -> None:
    # As after two rotations: only timestamped Secrets exist, the older about to be deleted.
    cluster.kubectl("create", "serviceaccount", "ci", "-n", ns)

    def create_filled(name: str) -> datetime:
        manifest = {"apiVersion": "v1", "kind": "Secret", "type": SA_TOKEN_TYPE,
                    "metadata": {"name": name, "namespace": ns, "annotations": {SA_NAME: "ci"}}}
        cluster.kubectl("create", "-f", "-", input=json.dumps(manifest))
        secret = cluster.wait_for(lambda: next((s for s in token_secrets(cluster, ns, "ci")
                                                if s["metadata"]["name"] == name and s.get("data", {}).get("token")), None),
                                  timeout=60, what=f"the controller to fill Secret {name}")
        return datetime.fromisoformat(secret["metadata"]["creationTimestamp"].replace("Z", "+00:00"))

    older = create_filled("ci-token-b")  # the newer one sorts first by name: the order must come from the timestamps
    client = sa_tokens.connect(kubeconfig=str(cluster.admin_kubeconfig))
    try:  # creationTimestamp has a resolution of one second: let the API server's clock pass it
        cluster.wait_for(lambda: client.get("/version").date > older, timeout=30, what="the API server's clock to pass a second")
    finally:
        client.close()
    newer = create_filled("ci-token-a")
    assert newer > older

    result = sa_tokens.ensure(ns, "ci", kubeconfig=str(cluster.admin_kubeconfig))

    assert result.secret == "ci-token-a" and not result.created
    assert sorted(s["metadata"]["name"] for s in token_secrets(cluster, ns, "ci")) == ["ci-token-a", "ci-token-b"]


# -- a stopped controller-manager ----------------------------------------------------------------

def test_ensure_with_kube_controller_manager_stopped_exits_1_naming_its_stale_lease(
        breakable: Any, sa_tokens_cli: Cli, request: pytest.FixtureRequest) -> None:
    name = namespace_for(request)
    breakable.kubectl("create", "namespace", name)
    breakable.break_("stop", "kube-controller-manager")

    def lease_age_by_server_clock() -> float:
        spec = breakable.lease("kube-controller-manager") or {}
        client = sa_tokens.connect(kubeconfig=str(breakable.admin_kubeconfig))
        try:
            now = client.get("/version").date
        finally:
            client.close()
        assert now is not None and spec.get("renewTime"), spec
        return (now - datetime.fromisoformat(spec["renewTime"].replace("Z", "+00:00"))).total_seconds()

    breakable.wait_for(lambda: lease_age_by_server_clock() > 25, timeout=180,
                       what="the kube-controller-manager Lease to be unrenewed for 25 s by the API server's clock")

    code, out, err = sa_tokens_cli("ensure", "jenkins", "-n", name, "--create-sa", "--wait", "5s",
                                   "--kubeconfig", str(breakable.admin_kubeconfig))

    assert code == 1 and out == ""
    line = one_error_line(err)
    assert f"token Secret {name}/jenkins-token was not filled within 5s" in line
    assert "kube-controller-manager has not renewed its leader lease for" in line


# -- concurrency ---------------------------------------------------------------------------------

def test_ten_concurrent_ensures_for_a_new_account_converge_on_one_verified_secret(cluster: Any, ns: str) -> None:
    runs = 10
    clients = [sa_tokens.connect(kubeconfig=str(cluster.admin_kubeconfig), timeout=300) for _ in range(runs)]
    start = threading.Barrier(runs)

    def run(client: Any) -> sa_tokens.EnsureResult:
        start.wait(timeout=60)
        return sa_tokens.ensure(ns, "shared", client=client, create_sa=True, wait=120)

    try:
        with ThreadPoolExecutor(runs) as pool:
            futures = [pool.submit(run, c) for c in clients]
            failures = [repr(f.exception()) for f in futures if f.exception() is not None]
            assert not failures, failures
            results = [f.result() for f in futures]
    finally:
        for c in clients:
            c.close()

    secrets = token_secrets(cluster, ns, "shared")
    assert [s["metadata"]["name"] for s in secrets] == ["shared-token"]
    assert {r.secret for r in results} == {"shared-token"}
    assert {r.identity for r in results} == {f"system:serviceaccount:{ns}:shared"}
    assert {r.token for r in results} == {secret_token(secrets[0])}
    assert sum(r.created for r in results) == 1


# -- the ServiceAccount deleted during the wait ----------------------------------------------------

def test_serviceaccount_deleted_while_waiting_fails_and_leaves_no_orphan_secret(breakable: Any, request: pytest.FixtureRequest) -> None:
    name = namespace_for(request)
    breakable.kubectl("create", "namespace", name)
    breakable.kubectl("create", "serviceaccount", "doomed", "-n", name)
    breakable.break_("stop", "kube-controller-manager")  # the Secret stays empty meanwhile
    client = sa_tokens.connect(kubeconfig=str(breakable.admin_kubeconfig), timeout=600)

    try:
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(sa_tokens.ensure, name, "doomed", client=client, wait=240)
            breakable.wait_for(lambda: token_secrets(breakable, name, "doomed") or waiting.done(), timeout=60,
                               what="ensure to create the token Secret")
            assert not waiting.done(), waiting.exception()
            breakable.kubectl("delete", "serviceaccount", "doomed", "-n", name)
            breakable.start("kube-controller-manager")
            error = waiting.exception(timeout=400)
    finally:
        client.close()

    assert isinstance(error, EnsureError), repr(error)
    message = str(error)
    assert f"the token controller deleted Secret {name}/doomed-token" in message
    assert f"ServiceAccount {name}/doomed was deleted or recreated" in message
    breakable.wait_for(lambda: not token_secrets(breakable, name, "doomed"), timeout=60,
                       what="no token Secret for the deleted ServiceAccount")


# -- rotate --------------------------------------------------------------------------------------

def test_rotate_with_no_grace_replaces_the_secret_and_the_old_token_stops_working(cluster: Any, ns: str, tmp_path: Path) -> None:
    admin = str(cluster.admin_kubeconfig)
    old = sa_tokens.ensure(ns, "pipeline", kubeconfig=admin, create_sa=True)
    old_conf = token_kubeconfig(cluster, tmp_path / "old.conf", ns, "pipeline", old.token)
    identity = f"system:serviceaccount:{ns}:pipeline"
    assert username(whoami(cluster, old_conf)) == identity
    seen_before_delete: list[list[str]] = []

    rotated = sa_tokens.rotate(ns, "pipeline", grace=0, kubeconfig=admin,
                               before_delete=lambda r: seen_before_delete.append(
                                   [s["metadata"]["name"] for s in token_secrets(cluster, ns, "pipeline")]))

    new = rotated.new
    assert new.secret != old.secret and new.secret.startswith("pipeline-token-")
    assert new.identity == identity and new.created and new.token != old.token
    assert rotated.deleted == (old.secret,)
    assert sorted(seen_before_delete) == [sorted([old.secret, new.secret])]  # both existed when the new one was published
    (remaining,) = token_secrets(cluster, ns, "pipeline")
    assert remaining["metadata"]["name"] == new.secret and secret_token(remaining) == new.token
    # The API server caches successful token authentications for a few seconds.
    cluster.wait_for(lambda: whoami(cluster, old_conf).returncode != 0, timeout=60, what="the old token to be rejected")
    assert "Unauthorized" in whoami(cluster, old_conf).stderr
    new_conf = token_kubeconfig(cluster, tmp_path / "new.conf", ns, "pipeline", new.token)
    assert username(whoami(cluster, new_conf)) == identity
    assert new.token not in repr(rotated)


# -- status --------------------------------------------------------------------------------------

def test_status_json_tells_manual_auto_none_and_invalidated_tokens_apart_in_two_requests(
        cluster: Any, ns: str, sa_tokens_cli: Cli) -> None:
    admin = str(cluster.admin_kubeconfig)
    for account in ("manual-bot", "listed-bot", "stale-bot"):
        sa_tokens.ensure(ns, account, kubeconfig=admin, create_sa=True)
    cluster.kubectl("create", "serviceaccount", "no-token", "-n", ns)
    for account in ("listed-bot", "stale-bot"):  # listed as before 1.24: the legacy cleaner's kind
        cluster.kubectl("patch", "serviceaccount", account, "-n", ns, "--type=merge",
                        "-p", json.dumps({"secrets": [{"name": f"{account}-token"}]}))
    today = get_json(cluster, "namespace", ns)["metadata"]["creationTimestamp"][:10]  # the API server's date
    cluster.kubectl("label", "secret", "stale-bot-token", "-n", ns, f"{INVALID_SINCE}={today}")
    cluster.wait_for(lambda: cluster.kubectl("get", "serviceaccount", "default", "-n", ns, check=False).returncode == 0,
                     timeout=60, what="the controller to create ServiceAccount default")

    code, out, err = sa_tokens_cli("status", "-n", ns, "-o", "json", "--kubeconfig", admin)

    assert code == 0, err
    doc = json.loads(out)
    accounts = {a["name"]: a for a in doc["accounts"]}
    assert sorted(accounts) == ["default", "listed-bot", "manual-bot", "no-token", "stale-bot"]
    assert {a["namespace"] for a in doc["accounts"]} == {ns}
    assert [(a["token"], a["usable"]) for a in (accounts[n] for n in ("default", "no-token"))] == [("none", False)] * 2
    assert accounts["default"]["secrets"] == accounts["no-token"]["secrets"] == []

    manual = accounts["manual-bot"]
    assert (manual["token"], manual["usable"]) == ("manual", True)
    (secret,) = manual["secrets"]
    assert secret["name"] == "manual-bot-token" and secret["filled"] and secret["uid_ok"]
    assert not secret["listed"] and secret["invalid_since"] is None and secret["projected_cleanup"] is None

    listed = accounts["listed-bot"]
    assert (listed["token"], listed["usable"]) == ("auto", True)
    (secret,) = listed["secrets"]
    assert secret["listed"] and secret["invalid_since"] is None
    # ensure authenticated with it, so the API server recorded its use (legacy token tracking)
    assert secret["last_used"] == today
    assert secret["projected_cleanup"] == f"invalidated after {(date.fromisoformat(today) + YEAR).isoformat()}"

    stale = accounts["stale-bot"]
    assert (stale["token"], stale["usable"]) == ("auto", False)
    (secret,) = stale["secrets"]
    assert secret["listed"] and secret["filled"] and secret["invalid_since"] == today
    assert secret["projected_cleanup"] == f"deleted after {(date.fromisoformat(today) + YEAR).isoformat()}"

    assert doc["requests"] == 2  # one page of ServiceAccounts, one of token Secrets
    tokens = [secret_token(s) for s in get_json(cluster, "secrets", "-n", ns, "--field-selector", f"type={SA_TOKEN_TYPE}")["items"]]
    assert tokens and not any(t in out or t in err for t in tokens)


# -- refusals ------------------------------------------------------------------------------------

def test_ensure_as_an_account_that_may_not_create_secrets_exits_1_naming_the_missing_role_rule(
        cluster: Any, ns: str, sa_tokens_cli: Cli, tmp_path: Path) -> None:
    admin = str(cluster.admin_kubeconfig)
    restricted = sa_tokens.ensure(ns, "restricted", kubeconfig=admin, create_sa=True)
    # Everything ensure needs except creating Secrets.
    cluster.kubectl("create", "role", "read-only", "-n", ns, "--verb=get", "--resource=serviceaccounts")
    cluster.kubectl("create", "role", "read-secrets", "-n", ns, "--verb=get,list,watch", "--resource=secrets")
    for role in ("read-only", "read-secrets"):
        cluster.kubectl("create", "rolebinding", role, "-n", ns, f"--role={role}", f"--serviceaccount={ns}:restricted")
    cluster.kubectl("create", "serviceaccount", "target", "-n", ns)
    conf = token_kubeconfig(cluster, tmp_path / "restricted.conf", ns, "restricted", restricted.token)

    code, out, err = sa_tokens_cli("ensure", "target", "-n", ns, "--kubeconfig", str(conf))

    assert code == 1 and out == ""
    line = one_error_line(err)
    assert f"not allowed to create secrets in namespace {ns}" in line
    assert f'{{apiGroups: [""], resources: ["secrets"], verbs: ["create"]}} in namespace {ns}' in line
    assert restricted.token not in err
    assert token_secrets(cluster, ns, "target") == []


def test_ensure_in_a_missing_namespace_is_a_one_line_error_exit_2(cluster: Any, sa_tokens_cli: Cli, request: pytest.FixtureRequest) -> None:
    missing = namespace_for(request)  # never created

    code, out, err = sa_tokens_cli("ensure", "jenkins", "-n", missing, "--create-sa", "--kubeconfig", str(cluster.admin_kubeconfig))

    assert code == 2 and out == ""
    line = one_error_line(err)
    assert f"namespace '{missing}' does not exist on {cluster.server}" in line
    assert cluster.kubectl("get", "namespace", missing, check=False).returncode != 0  # nothing was created
