"""kubectl and preflight side by side on the same kubeconfigs, against the real control plane
(issue 11). Each case says what kubectl 1.37 does (who `kubectl auth whoami` says we are, or
that it refuses); the test asserts that both the real kubectl and preflight do exactly that.

preflight's answer is auth.identity's username when it passes, else "refused" (exit 2, or an
identity check that fails). The README table "kubeconfig semantics (as kubectl)" cites the
client-go source of each rule; tests/unit/test_kubeconfig_semantics.py pins them without a cluster.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.pkifactory import write, write_kubeconfig

pytestmark = pytest.mark.cluster

NS = "kubectl-parity"
ADMIN = "kubernetes-admin"
REFUSED = "refused"
V1, V1BETA1 = "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"
Doc = dict[str, Any]


@dataclass(frozen=True)
class World:
    """What the cases build on: admin.conf, two ServiceAccount tokens, an exec plugin."""

    admin: Doc
    folder: Path
    token_a: str
    token_b: str
    plugin: Path

    @property
    def sa_a(self) -> str:
        return f"system:serviceaccount:{NS}:a"

    @property
    def sa_b(self) -> str:
        return f"system:serviceaccount:{NS}:b"


@dataclass(frozen=True)
class Case:
    name: str
    edit: Callable[[World, Doc, Doc, Doc], Any]  # (world, doc, cluster, user): change the copy of admin.conf
    expect: str  # the username kubectl auth whoami prints, or REFUSED
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("parity")
    cluster.kubectl("create", "namespace", NS)
    for name in ("a", "b"):
        cluster.kubectl("create", "serviceaccount", "-n", NS, name)
    token_a, token_b = (cluster.kubectl("create", "token", "-n", NS, name, "--duration=2h").stdout.strip() for name in ("a", "b"))
    write(folder / "tok-b", token_b + "\n")
    write(folder / "tok-empty", "")
    # The plugin answers with b's token in the apiVersion it was asked for ($REPLY_VERSION, or
    # none with $NO_VERSION), and appends what it got in KUBERNETES_EXEC_INFO to $DUMP.
    plugin = write(folder / "plugin", f"""#!{sys.executable}
import json, os
info = os.environ["KUBERNETES_EXEC_INFO"]
if os.environ.get("DUMP"):
    with open(os.environ["DUMP"], "a") as dump:
        dump.write(info + "\\n")
reply = {{"kind": "ExecCredential", "status": {{"token": {token_b!r}}}}}
if not os.environ.get("NO_VERSION"):
    reply["apiVersion"] = os.environ.get("REPLY_VERSION") or json.loads(info)["apiVersion"]
print(json.dumps(reply))
""", mode=0o700)
    return World(admin=yaml.safe_load(cluster.admin_kubeconfig.read_text()), folder=folder, token_a=token_a,
                 token_b=token_b, plugin=plugin)


def _jwt(claims: dict[str, object]) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'RS256'})}.{enc(claims)}.c2ln"


def _no_cert(u: Doc) -> None:
    u.pop("client-certificate-data")
    u.pop("client-key-data")


def _token(w: World, u: Doc, **more: Any) -> None:
    _no_cert(u)
    u.update(more)


def _exec(w: World, u: Doc, **spec: Any) -> None:
    _no_cert(u)
    u["exec"] = {"command": str(w.plugin), **spec}


def _oidc(w: World, u: Doc, **config: str) -> None:
    _no_cert(u)
    u["auth-provider"] = {"name": "oidc", "config": config}


def _ca_file(w: World, c: Doc) -> None:
    write(w.folder / "ca.crt", base64.b64decode(c.pop("certificate-authority-data")))
    c["certificate-authority"] = str(w.folder / "ca.crt")


def _duplicate(section: str, index: int = 0) -> Callable[[World, Doc, Doc, Doc], None]:
    return lambda w, d, c, u: d[section].append(copy.deepcopy(d[section][index]))


ISSUER = {"idp-issuer-url": "https://issuer.invalid", "client-id": "kube"}
NEVER = {"apiVersion": V1, "interactiveMode": "Never"}

CASES = [
    # impersonation (as, as-groups, as-uid, as-user-extra): the worst bug was a false READY
    Case("as", lambda w, d, c, u: u.update({"as": "some-user-with-no-rights"}), "some-user-with-no-rights"),
    Case("as-all-fields", lambda w, d, c, u: u.update({"as": "jane", "as-groups": ["g1", "g2"], "as-uid": "u-1",
                                                       "as-user-extra": {"scopes.example/Team one": ["a", "b"], "k%": ["v"]}}), "jane"),
    Case("as-non-ascii", lambda w, d, c, u: u.update({"as": "jürgen"}), "jürgen"),  # UTF-8 on the wire, as Go sends it
    Case("as-serviceaccount", lambda w, d, c, u: u.update({"as": w.sa_a}), f"system:serviceaccount:{NS}:a"),
    Case("as-groups-alone", lambda w, d, c, u: u.update({"as-groups": ["system:masters"]}), REFUSED),
    Case("as-uid-alone", lambda w, d, c, u: u.update({"as-uid": "x"}), REFUSED),
    Case("as-user-extra-alone", lambda w, d, c, u: u.update({"as-user-extra": {"a": ["b"]}}), REFUSED),
    # tokens
    Case("token", lambda w, d, c, u: _token(w, u, token=w.token_a), f"system:serviceaccount:{NS}:a"),
    Case("tokenfile-wins", lambda w, d, c, u: _token(w, u, token=w.token_a, tokenFile=str(w.folder / "tok-b")), f"system:serviceaccount:{NS}:b"),
    Case("tokenfile-missing-falls-back", lambda w, d, c, u: _token(w, u, token=w.token_a, tokenFile=str(w.folder / "nope")),
         f"system:serviceaccount:{NS}:a"),
    Case("tokenfile-empty-falls-back", lambda w, d, c, u: _token(w, u, token=w.token_a, tokenFile=str(w.folder / "tok-empty")),
         f"system:serviceaccount:{NS}:a"),
    Case("tokenfile-missing-alone", lambda w, d, c, u: _token(w, u, tokenFile=str(w.folder / "nope")), REFUSED),
    Case("tokenfile-relative", lambda w, d, c, u: _token(w, u, tokenFile="tok-b"), f"system:serviceaccount:{NS}:b"),
    Case("tokenfile-tilde", lambda w, d, c, u: _token(w, u, tokenFile="~/tok-b"), REFUSED),
    Case("token-and-basic", lambda w, d, c, u: _token(w, u, token=w.token_a, username="admin", password="pw"), REFUSED),
    Case("tokenfile-and-basic", lambda w, d, c, u: _token(w, u, tokenFile=str(w.folder / "tok-b"), username="admin", password="pw"), REFUSED),
    Case("basic-alone", lambda w, d, c, u: _token(w, u, username="admin", password="pw"), REFUSED),  # 401: no basic auth since 1.19
    Case("cert-and-token", lambda w, d, c, u: u.update(token="not-a-token"), ADMIN),  # both sent; x509 authenticates first
    # the server URL
    Case("server-number", lambda w, d, c, u: c.update(server=5), REFUSED),
    Case("server-broken-ipv6", lambda w, d, c, u: c.update(server="https://[::1:6443"), REFUSED),
    Case("server-port-out-of-range", lambda w, d, c, u: c.update(server="https://127.0.0.1:99999"), REFUSED),
    Case("server-port-text", lambda w, d, c, u: c.update(server="https://127.0.0.1:abc"), REFUSED),
    Case("server-trailing-slash", lambda w, d, c, u: c.update(server=c["server"] + "/"), ADMIN),
    Case("server-query-fragment", lambda w, d, c, u: c.update(server=c["server"] + "/?a=b#f"), ADMIN),
    Case("server-path-prefix", lambda w, d, c, u: c.update(server=c["server"] + "/k8s/clusters/c-x"), REFUSED),  # kept: 404
    # TLS
    Case("insecure-and-ca-data", lambda w, d, c, u: c.update({"insecure-skip-tls-verify": True}), REFUSED),
    Case("insecure-and-ca-file", lambda w, d, c, u: (_ca_file(w, c), c.update({"insecure-skip-tls-verify": True})), REFUSED),
    Case("insecure-alone", lambda w, d, c, u: (c.pop("certificate-authority-data"), c.update({"insecure-skip-tls-verify": True})), ADMIN),
    Case("insecure-as-text", lambda w, d, c, u: c.update({"insecure-skip-tls-verify": "yes"}), REFUSED),
    Case("ca-file", lambda w, d, c, u: _ca_file(w, c), ADMIN),
    Case("ca-tilde", lambda w, d, c, u: (c.pop("certificate-authority-data"), c.update({"certificate-authority": "~/ca.crt"})), REFUSED),
    Case("tls-server-name", lambda w, d, c, u: c.update({"tls-server-name": "kubernetes"}), ADMIN),
    Case("tls-server-name-number", lambda w, d, c, u: c.update({"tls-server-name": 5}), REFUSED),
    # proxy-url
    Case("proxy-url-broken", lambda w, d, c, u: c.update({"proxy-url": "http://[::1:3128"}), REFUSED),
    Case("proxy-url-no-scheme", lambda w, d, c, u: c.update({"proxy-url": "::not a url"}), REFUSED),
    # types and names
    Case("namespace-number", lambda w, d, c, u: d["contexts"][0]["context"].update(namespace=5), REFUSED),
    Case("token-number", lambda w, d, c, u: _token(w, u, token=12345), REFUSED),
    Case("password-y-is-a-bool", lambda w, d, c, u: _token(w, u, username="admin", password="y"), REFUSED),  # YAML 1.1, as go-yaml
    Case("current-context-number", lambda w, d, c, u: d.update({"current-context": 5}), REFUSED),
    Case("unknown-field", lambda w, d, c, u: c.update(bogus=1), ADMIN),
    Case("duplicate-cluster", _duplicate("clusters"), REFUSED),
    Case("duplicate-user", _duplicate("users"), REFUSED),
    Case("duplicate-context", _duplicate("contexts"), REFUSED),
    Case("duplicate-unused-cluster", lambda w, d, c, u: d["clusters"].extend(
        [{"name": "zz", "cluster": {"server": "https://a"}}, {"name": "zz", "cluster": {"server": "https://b"}}]), REFUSED),
    Case("undefined-user", lambda w, d, c, u: d["contexts"][0]["context"].update(user="ghost"), REFUSED),  # kubectl prompts
    Case("no-credentials", lambda w, d, c, u: _no_cert(u), REFUSED),  # kubectl prompts; preflight: anonymous
    # exec plugins
    Case("exec-no-apiversion", lambda w, d, c, u: _exec(w, u), REFUSED),
    Case("exec-v1-no-interactive-mode", lambda w, d, c, u: _exec(w, u, apiVersion=V1), REFUSED),
    Case("exec-v1beta1-defaults-ifavailable", lambda w, d, c, u: _exec(w, u, apiVersion=V1BETA1), f"system:serviceaccount:{NS}:b"),
    Case("exec-v1alpha1", lambda w, d, c, u: _exec(w, u, apiVersion="client.authentication.k8s.io/v1alpha1", interactiveMode="Never"), REFUSED),
    Case("exec-never", lambda w, d, c, u: _exec(w, u, **NEVER), f"system:serviceaccount:{NS}:b"),
    Case("exec-ifavailable", lambda w, d, c, u: _exec(w, u, apiVersion=V1, interactiveMode="IfAvailable"), f"system:serviceaccount:{NS}:b"),
    Case("exec-always-without-terminal", lambda w, d, c, u: _exec(w, u, apiVersion=V1, interactiveMode="Always"), REFUSED),
    Case("exec-unknown-mode", lambda w, d, c, u: _exec(w, u, apiVersion=V1, interactiveMode="Sometimes"), REFUSED),
    Case("exec-reply-other-version", lambda w, d, c, u: _exec(w, u, **NEVER, env=[{"name": "REPLY_VERSION", "value": V1BETA1}]), REFUSED),
    Case("exec-reply-no-version", lambda w, d, c, u: _exec(w, u, **NEVER, env=[{"name": "NO_VERSION", "value": "1"}]), REFUSED),
    Case("exec-args-number", lambda w, d, c, u: _exec(w, u, **NEVER, args=[1]), REFUSED),
    Case("exec-args-text", lambda w, d, c, u: _exec(w, u, **NEVER, args="--flag"), REFUSED),
    Case("exec-env-no-name", lambda w, d, c, u: _exec(w, u, **NEVER, env=[{"value": "x"}]), REFUSED),
    Case("exec-env-value-number", lambda w, d, c, u: _exec(w, u, **NEVER, env=[{"name": "A", "value": 5}]), REFUSED),
    Case("exec-relative-command", lambda w, d, c, u: (_exec(w, u, **NEVER), u["exec"].update(command="./plugin")), f"system:serviceaccount:{NS}:b"),
    Case("exec-provide-cluster-info", lambda w, d, c, u: _exec(w, u, **NEVER, provideClusterInfo=True), f"system:serviceaccount:{NS}:b"),
    Case("exec-and-token", lambda w, d, c, u: (_exec(w, u, **NEVER), u.update(token=w.token_a)), f"system:serviceaccount:{NS}:a"),
    Case("exec-and-auth-provider", lambda w, d, c, u: (_exec(w, u, **NEVER), u.update({"auth-provider": {"name": "oidc"}})), REFUSED),
    # auth-provider oidc (a ServiceAccount token is a JWT with an exp the API server accepts)
    Case("oidc-valid-id-token", lambda w, d, c, u: _oidc(w, u, **ISSUER, **{"id-token": w.token_b}), f"system:serviceaccount:{NS}:b"),
    Case("oidc-no-issuer", lambda w, d, c, u: _oidc(w, u, **{"client-id": "kube", "id-token": w.token_b}), REFUSED),
    Case("oidc-no-client-id", lambda w, d, c, u: _oidc(w, u, **{"idp-issuer-url": "https://issuer.invalid", "id-token": w.token_b}), REFUSED),
    Case("oidc-expired", lambda w, d, c, u: _oidc(w, u, **ISSUER, **{"id-token": _jwt({"exp": int(time.time()) - 60})}), REFUSED),
    Case("oidc-no-exp", lambda w, d, c, u: _oidc(w, u, **ISSUER, **{"id-token": _jwt({"sub": "x"})}), REFUSED),
    Case("oidc-not-a-jwt", lambda w, d, c, u: _oidc(w, u, **ISSUER, **{"id-token": "opaque"}), REFUSED),
    Case("oidc-no-id-token", lambda w, d, c, u: _oidc(w, u, **ISSUER), REFUSED),
    Case("oidc-and-token", lambda w, d, c, u: (_oidc(w, u, **ISSUER, **{"id-token": _jwt({"exp": 1})}), u.update(token=w.token_a)),
         f"system:serviceaccount:{NS}:a"),
    Case("auth-provider-gcp", lambda w, d, c, u: (_no_cert(u), u.update({"auth-provider": {"name": "gcp"}})), REFUSED),
    Case("auth-provider-azure", lambda w, d, c, u: (_no_cert(u), u.update({"auth-provider": {"name": "azure"}})), REFUSED),
    Case("auth-provider-unknown", lambda w, d, c, u: (_no_cert(u), u.update({"auth-provider": {"name": "foo"}})), REFUSED),
]


def _kubeconfig(w: World, case: Case) -> Path:
    doc = copy.deepcopy(w.admin)
    case.edit(w, doc, doc["clusters"][0]["cluster"], doc["users"][0]["user"])
    return write_kubeconfig(w.folder / f"{case.name}.conf", doc)


def kubectl_whoami(cluster: Any, path: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(cluster.bin_dir / "kubectl"), "--kubeconfig", str(path), f"--cache-dir={path.parent / '.kube-cache'}",
                           "auth", "whoami", "-o", "json", "--request-timeout=10s"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    return str(json.loads(done.stdout)["status"]["userInfo"]["username"]) if done.returncode == 0 else REFUSED


def preflight_whoami(preflight: Any, path: Path, secrets: tuple[str, ...]) -> str:
    code, findings, err = preflight("check", "--kubeconfig", str(path), "--timeout", "15s", "-q")
    assert code in (0, 1, 2) and "Traceback" not in err and "this is a bug" not in err, err
    assert not any(s in err + json.dumps(findings) for s in secrets), "a token reached the output"
    identity = findings.get("auth.identity")
    if code == 2:
        assert err.count("\n") == 1, err  # one line
        return REFUSED
    assert identity is not None
    return str(identity["evidence"]["username"]) if identity["outcome"] == "pass" else REFUSED


@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # kubectl runs with stdin from /dev/null; preflight runs in-process, where pytest's stdin
    # may be a terminal: both must see none, so exec interactiveMode decides alike.
    monkeypatch.setattr("kube_client._http.os.isatty", lambda fd: False)
    yield


def test_kubectl_and_preflight_agree_on_every_kubeconfig(cluster: Any, world: World, preflight: Any, no_terminal: None) -> None:
    results = {}
    for case in CASES:
        path = _kubeconfig(world, case)
        results[case.name] = (case.expect, kubectl_whoami(cluster, path), preflight_whoami(preflight, path, (world.token_a, world.token_b)))
    disagree = {name: r for name, r in results.items() if len(set(r)) != 1}
    print(f"kubectl parity: {len(results) - len(disagree)}/{len(results)} cases agree")  # noqa: T201 - shown with -s
    assert disagree == {}, "(expected, kubectl, preflight): " + json.dumps(disagree, indent=1)


def test_the_same_name_in_two_kubeconfig_files_merges_as_kubectl_merges(cluster: Any, world: World, preflight: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    first = copy.deepcopy(world.admin)
    _token(world, first["users"][0]["user"], token=world.token_a)
    second = copy.deepcopy(world.admin)  # same names: the first file's entries win
    paths = [write_kubeconfig(world.folder / "merge-1.conf", first), write_kubeconfig(world.folder / "merge-2.conf", second)]
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(map(str, [paths[0], paths[1], paths[0]])))
    done = subprocess.run([str(cluster.bin_dir / "kubectl"), "auth", "whoami", "-o", "json"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    code, findings, _ = preflight("check", "-q")
    assert json.loads(done.stdout)["status"]["userInfo"]["username"] == findings["auth.identity"]["evidence"]["username"] == world.sa_a


def test_exec_plugins_get_the_same_kubernetes_exec_info_from_both(cluster: Any, world: World, preflight: Any, no_terminal: None) -> None:
    """provideClusterInfo: server, certificate-authority-data, tls-server-name and the
    client.authentication.k8s.io/exec extension, byte for byte what kubectl hands the plugin."""
    for version in (V1, V1BETA1):
        doc = copy.deepcopy(world.admin)
        cluster_body = doc["clusters"][0]["cluster"]
        cluster_body["tls-server-name"] = "kubernetes"
        cluster_body["extensions"] = [{"name": "client.authentication.k8s.io/exec", "extension": {"audience": "kube", "nested": {"a": [1, 2]}}},
                                      {"name": "other", "extension": {"b": 1}}]
        seen = {}
        for runner in ("kubectl", "preflight"):
            dump = world.folder / f"exec-info-{runner}.jsonl"
            dump.unlink(missing_ok=True)
            user = copy.deepcopy(doc["users"][0]["user"])
            _exec(world, user, apiVersion=version, interactiveMode="Never", provideClusterInfo=True,
                  env=[{"name": "DUMP", "value": str(dump)}])
            path = write_kubeconfig(world.folder / "exec-info.conf", {**doc, "users": [{"name": ADMIN, "user": user}]})
            who = kubectl_whoami(cluster, path) if runner == "kubectl" else preflight_whoami(preflight, path, (world.token_b,))
            assert who == world.sa_b
            seen[runner] = [json.loads(line) for line in dump.read_text().splitlines() if line.strip()]
        assert seen["preflight"][0] == seen["kubectl"][0], version
        assert seen["kubectl"][0]["spec"]["cluster"]["config"] == {"audience": "kube", "nested": {"a": [1, 2]}}


def test_impersonating_a_user_without_rights_fails_permissions_as_kubectl_sees_it(cluster: Any, world: World, preflight: Any) -> None:
    """The false READY of issue 11: 'as:' was ignored, so the admin's rights were checked."""
    doc = copy.deepcopy(world.admin)
    doc["users"][0]["user"]["as"] = "some-user-with-no-rights"
    path = write_kubeconfig(world.folder / "as-nobody.conf", doc)
    code, findings, _ = preflight("check", "--kubeconfig", str(path), "-q")
    assert code == 1
    identity, permissions = findings["auth.identity"], findings["auth.permissions"]
    assert identity["outcome"] == "pass" and "user some-user-with-no-rights" in identity["message"]
    assert identity["evidence"]["username"] == kubectl_whoami(cluster, path) == "some-user-with-no-rights"
    assert permissions["outcome"] == "fail" and "missing" in permissions["message"]
    can_i = cluster.kubectl("auth", "can-i", "create", "secrets", "-n", "default", kubeconfig=path, check=False)
    assert can_i.stdout.strip() == "no" and "create secrets" in permissions["evidence"]["missing"]


def test_impersonation_reaches_the_server_exactly_as_kubectl_sends_it(cluster: Any, world: World) -> None:
    """The whole userInfo the API server derives from the Impersonate-* headers (user, uid,
    groups, and extra keys unescaped from their percent-encoding) is the same for both."""
    from kube_client._deadline import Deadline
    from kube_client._http import KubeClient
    from kube_client._target import resolve_target

    doc = copy.deepcopy(world.admin)
    doc["users"][0]["user"].update({"as": "jürgen", "as-uid": "u-1", "as-groups": ["g1", "g 2"],
                                    "as-user-extra": {"scopes.example.com/Team one": ["a", "b"], "k%": ["v"], "ünï": ["x"]}})
    path = write_kubeconfig(world.folder / "as-everything.conf", doc)
    done = cluster.kubectl("auth", "whoami", "-o", "json", kubeconfig=path)
    client = KubeClient(resolve_target(kubeconfig=str(path), environ={}), Deadline(20))
    try:
        review = client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                             {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).data
    finally:
        client.close()
    ours, theirs = review["status"]["userInfo"], json.loads(done.stdout)["status"]["userInfo"]
    assert ours == theirs and ours["extra"]["scopes.example.com/team one"] == ["a", "b"], (ours, theirs)


def test_impersonating_groups_sends_each_group(cluster: Any, world: World, preflight: Any) -> None:
    """Two groups, one of them system:masters: comma-joined into one header they would be a
    single group named 'team-a, system:masters' and grant nothing."""
    doc = copy.deepcopy(world.admin)
    doc["users"][0]["user"].update({"as": "some-user-with-no-rights", "as-groups": ["team-a", "system:masters"]})
    path = write_kubeconfig(world.folder / "as-masters.conf", doc)
    code, findings, _ = preflight("check", "--kubeconfig", str(path), "-q")
    identity = findings["auth.identity"]
    assert set(identity["evidence"]["groups"]) >= {"team-a", "system:masters"}
    done = cluster.kubectl("auth", "whoami", "-o", "json", kubeconfig=path)
    assert set(json.loads(done.stdout)["status"]["userInfo"]["groups"]) == set(identity["evidence"]["groups"])
    assert findings["auth.permissions"]["outcome"] == "pass" and code == 0, findings


def test_an_anonymous_request_is_reported_as_anonymous(cluster: Any, world: World, preflight: Any) -> None:
    doc = copy.deepcopy(world.admin)
    _no_cert(doc["users"][0]["user"])
    path = write_kubeconfig(world.folder / "anonymous.conf", doc)
    code, findings, _ = preflight("check", "--kubeconfig", str(path), "-q")
    identity = findings["auth.identity"]
    assert code == 1 and identity["outcome"] == "fail"
    assert "anonymous" in identity["message"] and "authenticated" not in identity["message"]
    assert identity["evidence"]["username"] == "system:anonymous"


def test_a_server_url_with_a_path_prefix_keeps_it_on_every_request(cluster: Any, world: World, preflight: Any) -> None:
    """Rancher serves clusters under https://host/k8s/clusters/c-x. The real kubectl proxy
    serves the real API under such a prefix (--api-prefix) and answers 404 without it."""
    proxy = subprocess.Popen([str(cluster.bin_dir / "kubectl"), "--kubeconfig", str(cluster.admin_kubeconfig), "proxy", "--port=0",
                              "--api-prefix=/k8s/clusters/c-x/"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proxy.stdout is not None
        address = proxy.stdout.readline().strip().rsplit(" ", 1)[-1]  # "Starting to serve on 127.0.0.1:NNNNN"
        def conf(server: str) -> Path:
            return write_kubeconfig(world.folder / "prefixed.conf", {
                "apiVersion": "v1", "kind": "Config", "current-context": "p",
                "clusters": [{"name": "p", "cluster": {"server": server}}], "users": [{"name": "p", "user": {}}],
                "contexts": [{"name": "p", "context": {"cluster": "p", "user": "p"}}]})

        prefixed = conf(f"http://{address}/k8s/clusters/c-x")
        code, findings, _ = preflight("check", "--kubeconfig", str(prefixed), "-q", "--timeout", "20s")
        assert code == 0 and findings["auth.permissions"]["outcome"] == "pass", findings
        assert findings["auth.identity"]["evidence"]["username"] == kubectl_whoami(cluster, prefixed) == ADMIN
        bare = conf(f"http://{address}")  # the same relay without the prefix: nothing is served there
        code, findings, err = preflight("check", "--kubeconfig", str(bare), "-q", "--timeout", "20s")
        reachable = findings["api.reachable"]  # every path is a 404 there: not the Kubernetes API, not a missing namespace
        assert code == 1 and reachable["outcome"] == "fail" and "this is not the Kubernetes API" in reachable["message"], (code, err)
        assert findings["auth.permissions"]["outcome"] == "skip" and findings["auth.permissions"]["evidence"]["blocked_by"] == "api.reachable"
        assert kubectl_whoami(cluster, bare) == REFUSED
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
