"""Publishing a ServiceAccount token as a Jenkins credential, with python-jenkins.

What Jenkins and python-jenkins 1.8.3 do, and what follows for us (python-jenkins 1.8.3
``jenkins/__init__.py``, opendev.org/jjb/python-jenkins; jenkinsci/credentials-plugin
``docs/user.adoc`` "REST API" and ``CredentialsStoreAction.java``):

- The credentials REST API: ``POST <context>/credentials/store/<store>/domain/_/createCredentials``
  with an XML body (``application/xml`` or ``text/xml``) creates, 409 if the id exists;
  ``.../credential/<id>/config.xml`` POST updates in place. A folder's store is ``folder`` under
  ``job/a/job/b/``; Jenkins' own is ``system`` at the root.
- python-jenkins' credential calls know only folder stores; the system store goes through its
  public ``jenkins_open``, which keeps its authentication, crumb and error mapping.
- ``credential_exists`` swallows 401 and 403 ("absent"), so we authenticate first (whoAmI, which
  Jenkins serves to anyone: a 401 there is the credential, not a permission) and fetch the crumb
  (the first request that needs Overall/Read) before any credential call.
- python-jenkins sets no timeout by default: we always pass one. It turns 401/403/500 into a
  ``JenkinsException`` whose text carries the status and the response body, 404 into
  ``NotFoundException``, a timeout into ``TimeoutException``; every other status (409 Conflict)
  arrives as a raw ``requests.HTTPError``, and connection errors (refused, DNS, TLS) as raw
  ``requests.ConnectionError``. All of them become one ``JenkinsError`` line here; no foreign
  text reaches it unless it is python-jenkins' own wording and holds neither secret.
- ``FileCredentialsImpl.secretBytes`` is read as unencrypted Base64, and invalid Base64 silently
  becomes an empty file (credentials-plugin ``SecretBytes.fromString``): we send standard, padded Base64 of the kubeconfig's UTF-8 bytes.

The Jenkins API token comes from ``JENKINS_API_TOKEN`` or a 0600 file, never from argv.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

from kube_client._errors import ConfigError, PreflightError

if TYPE_CHECKING:
    import requests

__all__ = [
    "KINDS",
    "TOKEN_ENV",
    "USER_ENVS",
    "JenkinsError",
    "JenkinsPublisher",
    "JenkinsTarget",
    "Kind",
    "credential_xml",
    "jenkins_target",
    "read_token_file",
]

Kind = Literal["file", "secret-text"]
KINDS: tuple[Kind, ...] = ("file", "secret-text")
# The Jenkins CLI's own names (JENKINS-53792), which the Shared Library step binds; JENKINS_USER as a fallback.
USER_ENVS = ("JENKINS_USER_ID", "JENKINS_USER")
TOKEN_ENV = "JENKINS_API_TOKEN"

FILE_CLASS = "org.jenkinsci.plugins.plaincredentials.impl.FileCredentialsImpl"
STRING_CLASS = "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl"
FOLDER_CLASS = "com.cloudbees.hudson.plugins.folder.Folder"  # python-jenkins' assert_folder accepts exactly this
FILE_NAME = "kubeconfig"
SYSTEM_STORE = "credentials/store/system/domain/_/"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"  # createCredentials takes application/xml or text/xml

# The credentials plugin's id check (BaseStandardCredentials.doCheckId): also keeps the id one URL segment.
_ID = re.compile(r"[A-Za-z0-9_.-]+")
# Jenkins.checkGoodName refuses these in item names; they would also change the folder's URL.
_BAD_ITEM_CHARS = set("?*/\\%!@#$^&|<>[]:;")
# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_STATUS = re.compile(r"\[(\d{3})\]")  # python-jenkins: 'Error in request. Possibly authentication failed [403]: ...'

T = TypeVar("T")


class JenkinsError(PreflightError):
    """Jenkins refused or could not be reached (exit 2): the message names the problem and the fix."""


@dataclass(frozen=True, kw_only=True)
class JenkinsTarget:
    """Where and what to publish; built and checked before anything is created."""

    url: str  # the Jenkins root, ending in '/'
    credential_id: str
    folder: str | None  # 'team/shop', or None for the system store
    kind: Kind
    user: str
    api_token: str = field(repr=False)
    timeout: float
    description: str

    @property
    def store(self) -> str:
        return f"folder {self.folder}" if self.folder else "the system store"

    @property
    def where(self) -> str:
        return f"Jenkins credential {self.credential_id!r} in {self.store} of {self.url}"


def _check_xml_text(text: str, what: str) -> str:
    if _NOT_XML.search(text):
        raise ConfigError(f"{what} holds a control character that XML cannot carry", fix="remove it")
    return text


def _check_folder(folder: str) -> str:
    parts = folder.strip("/").split("/")
    for part in parts:
        if not part or part in (".", "..") or part != part.strip() or _BAD_ITEM_CHARS & set(part):
            raise ConfigError(f"--jenkins-folder: {folder!r} is not a Jenkins folder path",
                              fix="give the folder's full name, its item names joined by '/', e.g. team/shop")
        _check_xml_text(part, "--jenkins-folder")
    return "/".join(parts)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        # A token in the URL would be in argv and in every message that names the URL.
        raise ConfigError("--jenkins-url must not carry a user or token",
                          fix=f"put them in {USER_ENVS[0]} and {TOKEN_ENV} (or --jenkins-token-file)")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"--jenkins-url: {url!r} is not a Jenkins URL",
                          fix="give the Jenkins root, e.g. https://ci.example.com/ or https://ci.example.com/jenkins/")
    return url if url.endswith("/") else url + "/"


def read_token_file(path: Path) -> str:
    """The API token from ``path``, which only its owner may read: we refuse a looser file, as
    ssh refuses a private key, rather than warn: a warning in a build log is read too late."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            raise ConfigError(f"is readable by others (mode {mode:04o}); an API token file must be 0600",
                              source=str(path), fix=f"chmod 600 {path}")
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the Jenkins API token: {exc.strerror}", source=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("is not a text file holding a Jenkins API token", source=str(path)) from None
    if not text or any(c.isspace() for c in text):
        raise ConfigError("must hold the Jenkins API token alone, on one line", source=str(path))
    return text


def jenkins_target(*, url: str, credential_id: str, folder: str | None, kind: Kind, token_file: Path | None, timeout: float,
                   description: str, environ: Mapping[str, str]) -> JenkinsTarget:
    """Check every Jenkins option and find the user and API token (never from argv)."""
    base = _check_url(url)
    if not _ID.fullmatch(credential_id):
        raise ConfigError(f"--jenkins-credential: {credential_id!r} is not a Jenkins credential id",
                          fix="use letters, digits, '_', '.' and '-' (what Jenkins' credential form accepts)")
    user = next((environ[name] for name in USER_ENVS if environ.get(name)), "")
    if not user:
        raise ConfigError("publishing to Jenkins needs a Jenkins user", fix=f"set {USER_ENVS[0]} (or {USER_ENVS[1]})")
    if ":" in user:
        raise ConfigError(f"Jenkins user {user!r} holds ':', which HTTP Basic authentication cannot carry")
    if token_file is not None:
        api_token = read_token_file(token_file)
    else:
        api_token = environ.get(TOKEN_ENV, "").strip()
        if not api_token:
            raise ConfigError(f"publishing to Jenkins needs user {user}'s API token",
                              fix=f"set {TOKEN_ENV}, or pass --jenkins-token-file FILE (mode 0600)")
    if timeout <= 0:
        raise ConfigError("--jenkins-timeout must be more than 0")
    return JenkinsTarget(url=base, credential_id=credential_id, folder=_check_folder(folder) if folder else None, kind=kind,
                         user=user, api_token=api_token, timeout=timeout,
                         description=_check_xml_text(description, "--jenkins-description"))


def credential_xml(target: JenkinsTarget, secret: str) -> str:
    """The credential as the credentials plugin's XML API takes it (user.adoc, "REST API").

    ``secret`` is the kubeconfig (kind ``file``) or the token (kind ``secret-text``). ElementTree
    escapes the text of every element, so ids and descriptions cannot change the document."""
    _check_xml_text(secret, "the secret")  # names the field only: the message must not quote it
    root = ET.Element(FILE_CLASS if target.kind == "file" else STRING_CLASS)
    ET.SubElement(root, "scope").text = "GLOBAL"
    ET.SubElement(root, "id").text = target.credential_id
    ET.SubElement(root, "description").text = target.description
    if target.kind == "file":
        ET.SubElement(root, "fileName").text = FILE_NAME
        # Standard alphabet with padding: SecretBytes.fromString turns anything else into an empty file.
        ET.SubElement(root, "secretBytes").text = base64.b64encode(secret.encode("utf-8")).decode("ascii")
    else:
        ET.SubElement(root, "secret").text = secret
    return ET.tostring(root, encoding="unicode")


@dataclass(frozen=True)
class _Step:
    """One request, as the error message names it: what we tried, what a 403 and a 404 mean there."""

    what: str
    permission: str
    not_found: str = ""
    not_found_fix: str = ""


class JenkinsPublisher:
    """``authenticate()`` (before anything is created in Kubernetes), then ``publish(secret)``."""

    def __init__(self, target: JenkinsTarget) -> None:
        import jenkins  # python-jenkins and requests cost ~0.2 s to import: only when publishing

        self.target = target
        self._jenkins: Any = jenkins
        self._server: Any = jenkins.Jenkins(target.url, username=target.user, password=target.api_token, timeout=target.timeout)
        self._secrets: tuple[str, ...] = (target.api_token,)

    # -- URLs ---------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        """``path`` (already quoted) under the Jenkins root. Built here rather than with
        python-jenkins' ``_build_url``: that is private (it may change in any release), and its
        ``urljoin`` would let a path starting with '/' drop a context path such as /jenkins/."""
        return self.target.url + path

    def _folder_path(self) -> str:
        assert self.target.folder is not None
        return "".join(f"job/{quote(part, safe='')}/" for part in self.target.folder.split("/"))

    def _credential_path(self) -> str:
        # quote with safe='': the id is one path segment (Jenkins' own URL for it is Util.rawEncode(id)).
        return f"credential/{quote(self.target.credential_id, safe='')}/config.xml"

    # -- requests -----------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, xml: str | None = None, add_crumb: bool = True) -> str:
        import requests

        # A fresh dict each time, not python-jenkins' DEFAULT_HEADERS: requests.Request keeps the
        # dict it is given and maybe_add_crumb writes the crumb into it, so python-jenkins' own
        # calls leave their server's crumb in that module-wide dict.
        headers = {"Content-Type": XML_CONTENT_TYPE} if xml is not None else {}
        req = requests.Request(method, self._url(path), data=xml.encode("utf-8") if xml is not None else None, headers=headers)
        return str(self._server.jenkins_open(req, add_crumb=add_crumb))

    def _call(self, step: _Step, fn: Callable[[], T]) -> T:
        """Run one python-jenkins call; every failure becomes one JenkinsError line."""
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - translated below, or re-raised untouched
            raise self._translate(exc, step) from None

    def _translate(self, exc: Exception, step: _Step) -> Exception:
        import requests

        jenkins = self._jenkins
        host = urlsplit(self.target.url).netloc
        if isinstance(exc, jenkins.TimeoutException | requests.Timeout) or _caused_by(exc, "ReadTimeoutError"):
            return JenkinsError(f"Jenkins at {host} did not answer within {self.target.timeout:g}s while trying to {step.what}",
                                fix="check --jenkins-url and that Jenkins is up, or raise --jenkins-timeout")
        if isinstance(exc, requests.exceptions.SSLError):
            return JenkinsError(f"TLS with Jenkins at {host} failed: its certificate is not trusted or does not name the host",
                                fix="give its CA bundle with REQUESTS_CA_BUNDLE=FILE, or fix --jenkins-url's host name")
        if isinstance(exc, requests.exceptions.ProxyError):
            return JenkinsError(f"the proxy to Jenkins at {host} failed", fix="check HTTPS_PROXY, HTTP_PROXY and NO_PROXY")
        if isinstance(exc, requests.ConnectionError):
            if _caused_by(exc, "NameResolutionError"):
                return JenkinsError(f"cannot resolve Jenkins host {urlsplit(self.target.url).hostname}", fix="check --jenkins-url")
            refused = _caused_by(exc, "ConnectionRefusedError")
            return JenkinsError(f"cannot connect to Jenkins at {host}: {'connection refused' if refused else 'the connection failed'}",
                                fix="check --jenkins-url (scheme, host and port) and that Jenkins is up")
        if isinstance(exc, requests.HTTPError):
            return self._for_status(exc.response.status_code if exc.response is not None else 0, step)
        if isinstance(exc, jenkins.NotFoundException):
            return self._for_status(404, step)
        if isinstance(exc, jenkins.JenkinsException):
            found = _STATUS.search(str(exc).split("\n", 1)[0])
            if found:
                return self._for_status(int(found.group(1)), step)
            return JenkinsError(f"could not {step.what}: python-jenkins: {self._quotable(str(exc))}")
        return exc  # a bug: the CLI boundary reports its type and line, never its text

    def _quotable(self, text: str) -> str:
        line = text.strip().split("\n", 1)[0][:200]
        return "(message withheld)" if any(s and s in line for s in self._secrets) else line

    def _for_status(self, status: int, step: _Step) -> JenkinsError:
        t = self.target
        if status == 401:
            return JenkinsError(f"Jenkins at {t.url} rejected user {t.user}'s API token (401 Unauthorized)",
                                fix=f"set {USER_ENVS[0]} and {TOKEN_ENV} (or --jenkins-token-file) to a user and one of its API tokens")
        if status == 403:
            return JenkinsError(f"Jenkins user {t.user} may not {step.what} (403 Forbidden)", fix=f"grant it {step.permission}")
        if status == 404 and step.not_found:
            return JenkinsError(step.not_found, fix=step.not_found_fix)
        return JenkinsError(f"Jenkins answered {status} when asked to {step.what}",
                            fix="check that the Credentials and Plain Credentials plugins are installed; see the Jenkins log")

    # -- the steps ----------------------------------------------------------------------------

    def authenticate(self) -> str:
        """Prove the user and token work and the store exists; returns Jenkins' name for the user."""
        t = self.target
        who = _Step("authenticate", "Overall/Read",
                    not_found=f"no Jenkins at {t.url} (404 for whoAmI/api/json)",
                    not_found_fix="give the Jenkins root in --jenkins-url, with its context path (e.g. https://ci.example.com/jenkins/)")
        # whoAmI is an UnprotectedRootAction: no permission needed, so a refusal here is the credential.
        # No crumb yet: fetching one already needs Overall/Read, which is the next step's question.
        body = self._call(who, lambda: self._request("GET", "whoAmI/api/json", add_crumb=False))
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or "authenticated" not in doc:
            raise JenkinsError(f"{t.url} did not answer whoAmI/api/json like Jenkins does", fix="check --jenkins-url")
        if doc.get("anonymous") or not doc.get("authenticated"):
            raise JenkinsError(f"Jenkins at {t.url} treated user {t.user} as anonymous: the Authorization header did not arrive",
                               fix="a proxy in front of Jenkins may strip it; check --jenkins-url")
        # The crumb is fetched once and sent with every POST. Requests authenticated with an API
        # token are exempt from CSRF checks, but python-jenkins fetches one anyway; doing it here
        # names the permission a refusal means.
        read = _Step("read Jenkins", "Overall/Read")
        self._call(read, lambda: self._server.maybe_add_crumb(_blank_request()))
        if t.folder:
            self._check_folder()
        return str(doc.get("name") or t.user)

    def _check_folder(self) -> None:
        t = self.target
        step = _Step(f"read folder {t.folder}", f"Job/Read on folder {t.folder}",
                     not_found=f"Jenkins folder {t.folder} does not exist at {t.url} (or user {t.user} may not see it)",
                     not_found_fix="create it, fix --jenkins-folder (its full name, e.g. team/shop), or grant Job/Read on it")
        doc = json.loads(self._call(step, lambda: self._request("GET", self._folder_path() + "api/json?tree=_class,fullName")))
        kind = str(doc.get("_class") or "unknown") if isinstance(doc, dict) else "unknown"
        if kind != FOLDER_CLASS:
            raise JenkinsError(f"Jenkins item {t.folder} is a {kind}, not a folder: python-jenkins' folder credential API "
                               f"works with {FOLDER_CLASS} only",
                               fix="give a plain folder, or leave out --jenkins-folder for the system store")

    def publish(self, secret: str) -> Literal["created", "updated"]:
        """Create the credential, or update it in place when it exists (idempotent)."""
        self._secrets = (self.target.api_token, secret)
        xml = credential_xml(self.target, secret)
        return self._publish_folder(xml) if self.target.folder else self._publish_system(xml)

    def _steps(self) -> tuple[_Step, _Step]:
        t = self.target
        missing = (f"Jenkins has no credentials store at {t.store} (404)",
                   "is the Credentials plugin installed? (the system store needs it; a folder's store needs the Folders plugin too)")
        create = _Step(f"create {t.where}", f"Credentials/Create on {t.store}", *missing)
        update = _Step(f"update {t.where}", f"Credentials/Update on {t.store}", *missing)
        return create, update

    def _publish_system(self, xml: str) -> Literal["created", "updated"]:
        create, update = self._steps()
        # Create first and update on 409: no existence check to race with, and python-jenkins'
        # own check (credential_exists) knows only folder stores.
        try:
            self._request("POST", SYSTEM_STORE + "createCredentials", xml=xml)
            return "created"
        except Exception as exc:  # noqa: BLE001 - a conflict goes on to the update, anything else is translated
            if not self._conflict(exc):
                raise self._translate(exc, create) from None
        self._call(update, lambda: self._request("POST", SYSTEM_STORE + self._credential_path(), xml=xml))
        return "updated"

    def _conflict(self, exc: Exception) -> bool:
        """A 409 on create, which python-jenkins passes through as a raw HTTPError, or its own
        "already exists" when the credential appeared between its check and ours."""
        import requests

        if isinstance(exc, requests.HTTPError):
            return exc.response is not None and exc.response.status_code == 409
        return isinstance(exc, self._jenkins.JenkinsException) and "already exists" in str(exc).split("\n", 1)[0]

    def _scrubbed(self, fn: Callable[[], T]) -> T:
        """Run a python-jenkins write call, then take the crumb it left in its module-wide
        DEFAULT_HEADERS out again, so it is never sent to another Jenkins from this process."""
        try:
            return fn()
        finally:
            headers = self._jenkins.DEFAULT_HEADERS
            for name in [k for k in headers if k.lower() != "content-type"]:
                headers.pop(name, None)

    def _publish_folder(self, xml: str) -> Literal["created", "updated"]:
        t = self.target
        create, update = self._steps()
        view = _Step(f"read {t.where}", f"Credentials/View on {t.store}")
        # credential_exists swallows 401/403; authenticate() has ruled out the first.
        if self._call(view, lambda: bool(self._server.credential_exists(t.credential_id, t.folder))):
            self._call(update, lambda: self._scrubbed(lambda: self._server.reconfig_credential(t.folder, xml)))
            return "updated"
        try:
            self._scrubbed(lambda: self._server.create_credential(t.folder, xml))
            return "created"
        except Exception as exc:  # noqa: BLE001 - a conflict goes on to the update, anything else is translated
            if not self._conflict(exc):
                raise self._translate(exc, create) from None
        # 409: it exists after all: created by a concurrent run, or invisible to this user.
        if not self._call(view, lambda: bool(self._server.credential_exists(t.credential_id, t.folder))):
            raise JenkinsError(f"{t.where} exists (409 Conflict on create) but user {t.user} cannot see it",
                               fix=f"grant it Credentials/View on {t.store}, or choose another --jenkins-credential")
        self._call(update, lambda: self._scrubbed(lambda: self._server.reconfig_credential(t.folder, xml)))
        return "updated"


def _blank_request() -> requests.Request:
    import requests

    return requests.Request("GET", "http://crumb.invalid/")  # only its headers are touched


def _caused_by(exc: BaseException, name: str) -> bool:
    """Whether an exception of class ``name`` is in ``exc``'s chain or its arguments: requests wraps
    urllib3's MaxRetryError, whose ``reason`` is the NewConnectionError or NameResolutionError."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        if any(cls.__name__ == name for cls in type(item).__mro__):
            return True
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return False
