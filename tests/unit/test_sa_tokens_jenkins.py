"""``sa-tokens ensure|rotate --jenkins-*``: publishing through the real python-jenkins, over real
HTTP, to tests/jenkins_endpoint.py, which answers as Jenkins documents (see its docstring for
each behaviour and its source).

The Kubernetes half is replaced by a stand-in for ``sa_tokens._api.ensure``/``rotate`` that
returns a token result as the real one would (the real one is tested against the real control
plane in tests/cluster/test_sa_tokens_jenkins.py); the kubeconfig points at a closed port, so
nothing here reaches a cluster.
"""

from __future__ import annotations

import base64
import re
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jenkins as python_jenkins  # python-jenkins; the repository's jenkins/ folder is no package
import pytest
import yaml

import sa_tokens._api
from sa_tokens import EnsureResult, RotateResult
from sa_tokens._jenkins import credential_xml, jenkins_target
from tests.jenkins_endpoint import (
    CREATE,
    FILE_CLASS,
    FOLDER_CLASS,
    MULTIBRANCH_CLASS,
    OVERALL_READ,
    READ_ONLY,
    STRING_CLASS,
    UPDATE,
    Credential,
    JenkinsEndpoint,
    User,
    closed_port_url,
    silent_endpoint,
)
from tests.pkifactory import kubeconfig_doc, make_ca, make_leaf, write, write_kubeconfig

API_TOKEN = "11aa22bb33cc44dd55ee66ff77889900aa"  # the Jenkins user's API token
ADMIN_TOKEN = "kubeconfig-admin-token-never-printed"  # the kubeconfig's own credential
SA_TOKENS = ["eyJhbGciOiJSUzI1NiJ9.first-sa-token.sig", "eyJhbGciOiJSUzI1NiJ9.second-sa-token.sig"]
CRED = "kubeconfig-ci-deployer"
CA = make_ca()
Cli = Callable[..., tuple[int, str, str]]


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def jenkins_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "JENKINS_USER",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "JENKINS_API_EXTRA_HEADERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JENKINS_USER_ID", "bot")
    monkeypatch.setenv("JENKINS_API_TOKEN", API_TOKEN)


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    doc = kubeconfig_doc(server=closed_port_url().replace("http://", "https://").rstrip("/"), ca=CA, token=ADMIN_TOKEN, namespace="ci")
    return str(write_kubeconfig(tmp_path / "admin.conf", doc))


class Kube:
    """Stands in for sa_tokens' Kubernetes half: each ensure/rotate hands out the next token."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.deleted_with: list[dict[tuple[str | None, str], Credential]] = []  # the Jenkins store when old tokens went
        self.endpoint: JenkinsEndpoint | None = None

    def result(self, secret: str) -> EnsureResult:
        return EnsureResult(namespace="ci", service_account="deployer", secret=secret, created=True,
                            identity="system:serviceaccount:ci:deployer", server_version="v1.37.2", elapsed_seconds=0.01,
                            ca_pem=CA.cert_pem, token=SA_TOKENS[min(len(self.calls), len(SA_TOKENS)) - 1])

    def ensure(self, namespace: str, name: str, **kwargs: Any) -> EnsureResult:
        self.calls.append("ensure")
        return self.result("deployer-token")

    def rotate(self, namespace: str, name: str, *, before_delete: Any = None, **kwargs: Any) -> RotateResult:
        self.calls.append("rotate")
        new = self.result("deployer-token-20261128-ab12")
        if before_delete is not None:
            before_delete(new)  # raises: like rotate_token, no old token is deleted then
        assert self.endpoint is not None
        with self.endpoint.lock:
            self.deleted_with.append({k: Credential(**vars(v)) for k, v in self.endpoint.store.items()})
        return RotateResult(new=new, deleted=("deployer-token",))


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> Kube:
    stand_in = Kube()
    monkeypatch.setattr(sa_tokens._api, "ensure", stand_in.ensure)
    monkeypatch.setattr(sa_tokens._api, "rotate", stand_in.rotate)
    return stand_in


@pytest.fixture
def jenkins(kube: Kube) -> Iterator[JenkinsEndpoint]:
    users = {"bot": User(API_TOKEN), "reader": User(API_TOKEN, READ_ONLY), "nobody": User(API_TOKEN, frozenset()),
             "blind": User(API_TOKEN, frozenset({OVERALL_READ, "Job/Read", CREATE, UPDATE}))}
    with JenkinsEndpoint(users=users, items={"team": FOLDER_CLASS, "team/shop": FOLDER_CLASS, "team/app": MULTIBRANCH_CLASS}) as j:
        kube.endpoint = j
        yield j


def run(cli: Cli, kubeconfig: str, url: str, *extra: str, command: str = "ensure") -> tuple[int, str, str]:
    argv = [command, "deployer", "-n", "ci", "--kubeconfig", kubeconfig, "--jenkins-url", url, "--jenkins-credential", CRED, *extra]
    assert API_TOKEN not in " ".join(argv)  # never on a command line
    return cli(*argv)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (API_TOKEN, ADMIN_TOKEN, *SA_TOKENS):
            assert secret not in text


def one_line_exit_2(code: int, out: str, err: str, *fragments: str) -> str:
    assert (code, out) == (2, ""), (code, out, err)
    assert err.count("\n") == 1 and err.startswith("sa-tokens: error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err
    assert_no_secret(out, err)
    return err


def stored_kubeconfig(cred: Credential) -> Any:
    assert cred.cls == FILE_CLASS and cred.file_name == "kubeconfig"
    assert cred.secret_bytes, "secretBytes decoded to nothing: Jenkins would store an empty file"
    return yaml.safe_load(cred.secret_bytes.decode())


# -- publishing -----------------------------------------------------------------------------------

def test_file_credential_in_the_system_store_holds_a_working_kubeconfig_for_the_account(
        sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube) -> None:
    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url)

    assert code == 0, err
    cred = jenkins.store[(None, CRED)]
    raw = ET.fromstring(cred.xml).findtext("secretBytes") or ""
    assert re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", raw) and len(raw) % 4 == 0  # standard, padded Base64
    doc = stored_kubeconfig(cred)
    source = yaml.safe_load(Path(kubeconfig).read_text())
    assert doc["users"][0]["user"] == {"token": SA_TOKENS[0]}
    assert doc["contexts"][0]["context"]["namespace"] == "ci"
    assert doc["clusters"][0]["cluster"]["server"] == source["clusters"][0]["cluster"]["server"]
    assert base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]) == CA.cert_pem
    assert cred.scope == "GLOBAL" and cred.description == "kubeconfig for ServiceAccount ci/deployer (managed by sa-tokens)"
    # Authenticated before the Secret existed, then the crumb, then one create.
    assert [(r.method, r.path) for r in jenkins.log] == [
        ("GET", "whoAmI/api/json"), ("GET", "crumbIssuer/api/json"),
        ("POST", "credentials/store/system/domain/_/createCredentials")]
    assert jenkins.log[-1].content_type in ("text/xml; charset=utf-8", "application/xml") and jenkins.log[-1].auth == "token"
    assert f"created Jenkins credential '{CRED}' in the system store of {jenkins.url} (Secret file 'kubeconfig')" in err
    assert out.startswith("system:serviceaccount:ci:deployer: token Secret ci/deployer-token created")
    assert_no_secret(out, err)


def test_a_second_run_updates_the_credential_in_place_with_the_new_token(
        sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint) -> None:
    assert run(sa_tokens_cli, kubeconfig, jenkins.url)[0] == 0
    del jenkins.log[:]

    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "-o", "json")

    assert code == 0, err
    assert list(jenkins.store) == [(None, CRED)]
    assert stored_kubeconfig(jenkins.store[(None, CRED)])["users"][0]["user"]["token"] == SA_TOKENS[1]
    writes = [(r.method, r.path, r.status) for r in jenkins.log if r.method == "POST"]
    assert writes == [("POST", "credentials/store/system/domain/_/createCredentials", 409),
                      ("POST", f"credentials/store/system/domain/_/credential/{CRED}/config.xml", 200)]
    assert '"action": "updated"' in out and f'"credential": "{CRED}"' in out
    assert f"updated Jenkins credential '{CRED}'" in err
    assert_no_secret(out, err)


def test_a_folder_store_goes_through_python_jenkins_credential_api(
        sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint) -> None:
    code, _, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-folder", "team/shop")
    assert code == 0, err
    assert run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-folder", "/team/shop/")[0] == 0

    assert list(jenkins.store) == [("team/shop", CRED)]
    assert stored_kubeconfig(jenkins.store[("team/shop", CRED)])["users"][0]["user"]["token"] == SA_TOKENS[1]
    store = "job/team/job/shop/credentials/store/folder/domain/_/"
    posts = [r.path for r in jenkins.log if r.method == "POST"]
    assert posts == [store + "createCredentials", store + f"credential/{CRED}/config.xml"]  # created once, then updated
    assert not jenkins.requests(contains="store/system")
    assert jenkins.requests("GET", "job/team/job/shop/api/json")  # python-jenkins' assert_folder
    assert "in folder team/shop of" in err
    # python-jenkins writes the crumb into its module-wide DEFAULT_HEADERS; it must not stay there.
    assert python_jenkins.DEFAULT_HEADERS == {"Content-Type": "text/xml; charset=utf-8"}


def test_secret_text_stores_the_token_alone(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint) -> None:
    code, _, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-kind", "secret-text", "--jenkins-folder", "team")

    assert code == 0, err
    cred = jenkins.store[("team", CRED)]
    assert (cred.cls, cred.secret, cred.file_name) == (STRING_CLASS, SA_TOKENS[0], None)
    assert cred.description == "token for ServiceAccount ci/deployer (managed by sa-tokens)"
    assert "(Secret text)" in err


def test_user_input_is_escaped_in_the_xml(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint) -> None:
    hostile = "ops <team> & \"friends\" 'n' ]]></description><secret>stolen</secret><description>"

    code, _, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-kind", "secret-text", "--jenkins-description", hostile)

    assert code == 0, err
    cred = jenkins.store[(None, CRED)]
    assert cred.description == hostile and cred.secret == SA_TOKENS[0]
    root = ET.fromstring(cred.xml)
    assert [child.tag for child in root] == ["scope", "id", "description", "secret"]


@pytest.mark.parametrize("kind", ["file", "secret-text"])
def test_credential_xml_round_trips_every_field(kind: str) -> None:
    target = jenkins_target(url="https://ci.example.com/jenkins", credential_id="a.b_c-1", folder=None, kind=kind,  # type: ignore[arg-type]
                            token_file=None, timeout=5, description="<&>\"'\u00e9\u4e2d", environ={"JENKINS_USER_ID": "u",
                                                                                                   "JENKINS_API_TOKEN": "t"})
    secret = "apiVersion: v1\nusers: [{name: x, user: {token: 'a&b<c>'}}]\n\u00e9\n"
    root = ET.fromstring(credential_xml(target, secret))

    assert root.findtext("id") == "a.b_c-1" and root.findtext("scope") == "GLOBAL"
    assert root.findtext("description") == "<&>\"'\u00e9\u4e2d"
    if kind == "file":
        assert root.tag == FILE_CLASS and root.findtext("fileName") == "kubeconfig"
        assert base64.b64decode(root.findtext("secretBytes") or "", validate=True).decode("utf-8") == secret
    else:
        assert root.tag == STRING_CLASS and root.findtext("secret") == secret
    assert target.url == "https://ci.example.com/jenkins/" and API_TOKEN not in repr(target) and "'t'" not in repr(target)


def test_a_credential_created_concurrently_between_check_and_create_is_updated(
        sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint) -> None:
    other = Credential(cls=FILE_CLASS, id=CRED, scope="GLOBAL", description="another run's", file_name="kubeconfig", secret_bytes=b"x")

    def race(action: str, folder: str | None, cred_id: str) -> None:
        if action == "create":  # another run's create lands first: ours gets 409 Conflict
            jenkins.store.setdefault((folder, cred_id), other)

    jenkins.on_write = race
    code, _, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-folder", "team/shop")

    assert code == 0, err
    assert [r.status for r in jenkins.requests("POST")] == [409, 200]
    assert stored_kubeconfig(jenkins.store[("team/shop", CRED)])["users"][0]["user"]["token"] == SA_TOKENS[0]
    assert f"updated Jenkins credential '{CRED}'" in err


def test_api_token_from_a_0600_file(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JENKINS_API_TOKEN")
    token_file = write(tmp_path / "jenkins-token", API_TOKEN + "\n", mode=0o600)

    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-token-file", str(token_file))

    assert code == 0, err
    assert (None, CRED) in jenkins.store and all(r.user == "bot" for r in jenkins.log)
    assert_no_secret(out, err)


def test_https_with_the_ca_in_requests_ca_bundle(sa_tokens_cli: Cli, kubeconfig: str, kube: Kube, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ca = make_ca("jenkins-ca")
    leaf = make_leaf(ca, "jenkins", sans=("127.0.0.1",), server=True)
    cert, key = write(tmp_path / "tls.crt", leaf.cert_pem), write(tmp_path / "tls.key", leaf.key_pem)
    with JenkinsEndpoint(users={"bot": User(API_TOKEN)}, tls=(cert, key)) as j:
        code, out, err = run(sa_tokens_cli, kubeconfig, j.url)
        line = one_line_exit_2(code, out, err, f"TLS with Jenkins at 127.0.0.1:{j.port} failed", "REQUESTS_CA_BUNDLE")
        assert "is in place" not in line and kube.calls == []  # refused before any Secret

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(write(tmp_path / "ca.crt", ca.cert_pem)))
        code, _, err = run(sa_tokens_cli, kubeconfig, j.url)
        assert code == 0, err
        assert (None, CRED) in j.store


# -- failures: one line, exit 2, no secret ---------------------------------------------------------

def test_a_wrong_api_token_is_401_before_any_secret_is_created(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint,
                                                                kube: Kube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENKINS_API_TOKEN", "0" * 34)

    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url)

    one_line_exit_2(code, out, err, f"Jenkins at {jenkins.url} rejected user bot's API token (401 Unauthorized)",
                    "JENKINS_USER_ID and JENKINS_API_TOKEN")
    assert "0" * 34 not in err
    assert kube.calls == [] and jenkins.store == {}
    assert [(r.path, r.status) for r in jenkins.log] == [("whoAmI/api/json", 401)]


def test_an_unknown_user_is_401(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENKINS_USER_ID", "nosuchuser")
    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url)
    one_line_exit_2(code, out, err, "rejected user nosuchuser's API token (401 Unauthorized)")
    assert kube.calls == []


def test_a_user_without_overall_read_is_403_naming_the_permission(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint,
                                                                   kube: Kube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENKINS_USER_ID", "nobody")
    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url)
    one_line_exit_2(code, out, err, "Jenkins user nobody may not read Jenkins (403 Forbidden) (grant it Overall/Read)")
    assert kube.calls == []


def test_a_read_only_user_is_403_after_the_secret_exists_and_says_how_to_rerun(
        sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENKINS_USER_ID", "reader")

    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url)

    one_line_exit_2(code, out, err, f"Jenkins user reader may not create Jenkins credential '{CRED}' in the system store",
                    "(403 Forbidden)", "the token Secret ci/deployer-token is in place",
                    "grant it Credentials/Create on the system store, then run the same command again")
    assert kube.calls == ["ensure"] and jenkins.store == {}


def test_a_folder_credential_the_user_cannot_see_is_an_unexpected_409(
        sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    # credential_exists answers False on 403 (python-jenkins swallows it); the create then meets 409.
    jenkins.store[("team/shop", CRED)] = Credential(cls=STRING_CLASS, id=CRED, scope="GLOBAL", description="", secret="old")
    monkeypatch.setenv("JENKINS_USER_ID", "blind")

    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-folder", "team/shop")

    one_line_exit_2(code, out, err, f"Jenkins credential '{CRED}' in folder team/shop of {jenkins.url} exists (409 Conflict on create)",
                    "but user blind cannot see it", "Credentials/View")
    assert jenkins.store[("team/shop", CRED)].secret == "old"


def test_a_url_without_the_context_path_is_404_no_jenkins_there(sa_tokens_cli: Cli, kubeconfig: str, kube: Kube) -> None:
    with JenkinsEndpoint(users={"bot": User(API_TOKEN)}, context_path="/jenkins/") as j:
        root = j.url.removesuffix("jenkins/")
        code, out, err = run(sa_tokens_cli, kubeconfig, root)
        one_line_exit_2(code, out, err, f"no Jenkins at {root} (404 for whoAmI/api/json)", "with its context path")
        assert kube.calls == []
        assert run(sa_tokens_cli, kubeconfig, j.url.removesuffix("/"))[0] == 0  # the trailing '/' is optional


def test_jenkins_without_the_plain_credentials_plugin_is_a_500_naming_it(sa_tokens_cli: Cli, kubeconfig: str, kube: Kube) -> None:
    with JenkinsEndpoint(users={"bot": User(API_TOKEN)}, plain_credentials=False) as j:
        code, out, err = run(sa_tokens_cli, kubeconfig, j.url)
    one_line_exit_2(code, out, err, f"Jenkins answered 500 when asked to create Jenkins credential '{CRED}'",
                    "Plain Credentials plugins are installed", "the token Secret ci/deployer-token is in place")


def test_crumb_issuer_absent_is_fine_and_api_token_posts_need_no_crumb(sa_tokens_cli: Cli, kubeconfig: str, kube: Kube) -> None:
    with JenkinsEndpoint(users={"bot": User(API_TOKEN)}, crumb_issuer=False) as j:  # before Jenkins 2.222
        code, _, err = run(sa_tokens_cli, kubeconfig, j.url)
    assert code == 0, err
    assert [(r.path, r.status) for r in j.log][:2] == [("whoAmI/api/json", 200), ("crumbIssuer/api/json", 404)]
    assert all(r.crumb is None for r in j.log)  # python-jenkins then sends none, and the API token is exempt


def test_a_missing_folder_is_404(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube) -> None:
    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-folder", "team/nope")
    one_line_exit_2(code, out, err, f"Jenkins folder team/nope does not exist at {jenkins.url}")
    assert kube.calls == []


def test_an_item_that_is_not_a_plain_folder_is_refused(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube) -> None:
    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-folder", "team/app")
    one_line_exit_2(code, out, err, f"Jenkins item team/app is a {MULTIBRANCH_CLASS}, not a folder")
    assert kube.calls == []


def test_connection_refused(sa_tokens_cli: Cli, kubeconfig: str, kube: Kube) -> None:
    url = closed_port_url()
    code, out, err = run(sa_tokens_cli, kubeconfig, url)
    one_line_exit_2(code, out, err, f"cannot connect to Jenkins at {url.removeprefix('http://').rstrip('/')}: connection refused")
    assert kube.calls == []


@pytest.mark.timeout(30)  # a hang guard: python-jenkins alone would wait forever
def test_a_silent_jenkins_times_out_after_jenkins_timeout(sa_tokens_cli: Cli, kubeconfig: str, kube: Kube) -> None:
    with silent_endpoint() as url:
        code, out, err = run(sa_tokens_cli, kubeconfig, url, "--jenkins-timeout", "0.1s")
    one_line_exit_2(code, out, err, "did not answer within 0.1s while trying to authenticate", "--jenkins-timeout")
    assert kube.calls == []


# -- rotate -----------------------------------------------------------------------------------------

def test_rotate_updates_the_credential_before_the_old_tokens_are_deleted(
        sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube) -> None:
    assert run(sa_tokens_cli, kubeconfig, jenkins.url)[0] == 0

    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--grace", "0", command="rotate")

    assert code == 0, err
    (store_then,) = kube.deleted_with
    assert stored_kubeconfig(store_then[(None, CRED)])["users"][0]["user"]["token"] == SA_TOKENS[1]
    assert f"updated Jenkins credential '{CRED}'" in err
    assert_no_secret(out, err)


def test_rotate_keeps_the_old_tokens_when_publishing_fails(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENKINS_USER_ID", "reader")

    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--grace", "0", command="rotate")

    one_line_exit_2(code, out, err, "may not create", "the token Secret ci/deployer-token-20261128-ab12 is in place; "
                    "the old tokens were kept", "run sa-tokens rotate again")
    assert kube.calls == ["rotate"] and kube.deleted_with == []


# -- options ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "message"), [
    (["--jenkins-token", API_TOKEN], "No such option '--jenkins-token'"),
    ([f"--jenkins-token={API_TOKEN}"], "No such option '--jenkins-token'"),
    (["--jenkins-credential", "a/b"], "--jenkins-credential: 'a/b' is not a Jenkins credential id"),
    (["--jenkins-folder", "team//shop"], "--jenkins-folder: 'team//shop' is not a Jenkins folder path"),
    (["--jenkins-folder", "team/../x"], "is not a Jenkins folder path"),
    (["--jenkins-description", "bell\x07"], "--jenkins-description holds a control character"),
    (["--jenkins-kind", "kubeconfig"], "Invalid value for '--jenkins-kind'"),
    (["--jenkins-timeout", "soon"], "--jenkins-timeout: 'soon' is not a duration"),
    (["--jenkins-timeout", "0s"], "--jenkins-timeout must be more than 0"),
])
def test_bad_jenkins_options_are_usage_errors(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube,
                                              extra: list[str], message: str) -> None:
    code, out, err = sa_tokens_cli("ensure", "deployer", "-n", "ci", "--kubeconfig", kubeconfig, "--jenkins-url", jenkins.url,
                                   "--jenkins-credential", CRED, *extra)
    one_line_exit_2(code, out, err, message)
    assert kube.calls == [] and jenkins.log == []


@pytest.mark.parametrize(("argv", "message"), [
    (["--jenkins-folder", "team"], "--jenkins-folder need(s) --jenkins-credential"),
    (["--jenkins-url", "http://ci.example.com/"], "--jenkins-url need(s) --jenkins-credential"),
    (["--jenkins-credential", CRED], "--jenkins-credential needs --jenkins-url"),
    (["--jenkins-credential", CRED, "--jenkins-url", "https://bot:secret@ci.example.com/"], "--jenkins-url must not carry a user or token"),
    (["--jenkins-credential", CRED, "--jenkins-url", "ci.example.com"], "--jenkins-url: 'ci.example.com' is not a Jenkins URL"),
])
def test_incomplete_jenkins_options_are_usage_errors(sa_tokens_cli: Cli, kubeconfig: str, kube: Kube, argv: list[str],
                                                     message: str) -> None:
    code, out, err = sa_tokens_cli("ensure", "deployer", "-n", "ci", "--kubeconfig", kubeconfig, *argv)
    one_line_exit_2(code, out, err, message)
    assert "secret@" not in err and kube.calls == []


def test_missing_user_or_token_is_a_usage_error(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JENKINS_API_TOKEN")
    one_line_exit_2(*run(sa_tokens_cli, kubeconfig, jenkins.url), "needs user bot's API token", "set JENKINS_API_TOKEN")
    monkeypatch.delenv("JENKINS_USER_ID")
    one_line_exit_2(*run(sa_tokens_cli, kubeconfig, jenkins.url), "needs a Jenkins user", "set JENKINS_USER_ID")
    monkeypatch.setenv("JENKINS_USER", "bot")  # the fallback name
    monkeypatch.setenv("JENKINS_API_TOKEN", API_TOKEN)
    assert run(sa_tokens_cli, kubeconfig, jenkins.url)[0] == 0
    assert jenkins.log[0].user == "bot" and kube.calls == ["ensure"]


@pytest.mark.parametrize(("mode", "content", "message"), [
    (0o644, API_TOKEN, "is readable by others (mode 0644); an API token file must be 0600"),
    (0o640, API_TOKEN, "(mode 0640)"),
    (0o600, "\n", "must hold the Jenkins API token alone, on one line"),
    (0o600, f"bot {API_TOKEN}", "must hold the Jenkins API token alone"),
])
def test_a_token_file_that_is_loose_or_malformed_is_refused(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, kube: Kube,
                                                            tmp_path: Path, mode: int, content: str, message: str) -> None:
    token_file = write(tmp_path / "token", content, mode=mode)
    assert stat.S_IMODE(token_file.stat().st_mode) == mode

    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-token-file", str(token_file))

    one_line_exit_2(code, out, err, str(token_file), message)
    assert kube.calls == [] and jenkins.log == []


def test_a_missing_token_file_is_a_usage_error(sa_tokens_cli: Cli, kubeconfig: str, jenkins: JenkinsEndpoint, tmp_path: Path) -> None:
    code, out, err = run(sa_tokens_cli, kubeconfig, jenkins.url, "--jenkins-token-file", str(tmp_path / "absent"))
    one_line_exit_2(code, out, err, f"{tmp_path / 'absent'}: cannot read the Jenkins API token: No such file or directory")
