"""A small HTTP endpoint that answers the few Jenkins URLs sa-tokens' publishing uses, the way
Jenkins documents and implements them. No Jenkins can be installed here (its
WAR is published only to repo.jenkins-ci.org, not Maven Central, and Debian ships no jenkins
package), so this is what the Jenkins tests run python-jenkins against: its real HTTP requests, over a real
socket (TLS too), with Jenkins' statuses.

What it enforces, each with its source (jenkinsci/jenkins core, jenkinsci/credentials-plugin, python-jenkins
1.8.3 ``jenkins/__init__.py``, jenkins.io docs):

- Authentication, jenkins core BasicHeaderProcessor: a Basic ``Authorization`` header whose user
  is unknown or whose password/API token is wrong is refused with 401 ("Invalid password/token for
  user"), whatever the URL. No header is the anonymous user, who here has no permission.
- Overall/Read, jenkins core Jenkins.getTarget(): every URL needs it, except the
  ALWAYS_READABLE_PATHS and the UnprotectedRootActions, of which ``whoAmI`` (hudson/security/
  WhoAmI.java: ``implements UnprotectedRootAction``) is the one used here; a user without it gets
  403 everywhere else, ``crumbIssuer`` included.
- whoAmI/api/json exports ``name``, ``authenticated`` and ``anonymous`` (WhoAmI.java @Exported).
- CSRF, jenkins core CrumbFilter: a POST without a valid crumb is 403 "No valid crumb was included
  in the request", unless a CrumbExclusion takes it: "Requests authenticating with an API token
  are exempt from CSRF protection" (jenkins.io/doc/book/security/csrf-protection/; ApiCrumbExclusion, jenkinsci/jenkins#3129).
  So a POST authenticated with an API token needs none; one authenticated with a password does.
  ``crumbIssuer/api/json`` always answers, since Jenkins 2.222 the crumb issuer always exists
  (jenkins-infra/jenkins.io#3265); ``crumb_issuer=False`` makes it 404, as older Jenkins without one did.
- createCredentials (credentials-plugin CredentialsStoreAction.doCreateCredentials):
  ``@RequirePOST`` (any other method: 405); checks Credentials/Create (403); no Content-Type is a
  Failure (400 here); ``application/xml`` or ``text/xml`` bodies are unmarshalled, anything else
  takes the form path, which our XML cannot satisfy (400 here); an unparsable body or an unknown
  class is 500 ("HTTP/50x Could not parse", user.adoc); an id that exists is 409 Conflict
  (``addCredentials`` returns false); success is 200.
- credential/<id>/config.xml (CredentialsWrapper.doConfigDotXml): GET needs
  Credentials/View and returns the XML with every secret replaced by ``<secret-redacted/>``
  (user.adoc:978); POST needs Credentials/Update and replaces it (``updateByXml``, no Content-Type
  check); DELETE needs Credentials/Delete; any other method is 400; an unknown id is 404.
- credential/<id>/api/json (what python-jenkins' get_credential_info and credential_exists read,
  python-jenkins ``jenkins/__init__.py``): Credentials/View; ``id``, ``description``, ``typeName``.
- Stores: ``system`` at the root only, ``folder`` under ``job/a/job/b/`` only (python-jenkins'
  URL templates, e.g. ``CREATE_CREDENTIAL``; credentials-plugin user.adoc "REST API"); the global domain is ``_``.
  The credential's URL segment is its id, percent-encoded (CredentialsWrapper.getUrlName:
  Util.rawEncode(id)).
- Items: ``job/a/job/b/api/json`` answers ``_class`` (python-jenkins' assert_folder needs exactly
  com.cloudbees.hudson.plugins.folder.Folder); an item the user may not read (Job/Read)
  is invisible, 404, as Jenkins hides items without Item.READ.
- secretBytes (credentials-plugin SecretBytes.fromString): read as unencrypted Base64;
  invalid Base64 silently becomes empty bytes. Stored here decoded, so tests can read the file back.
- ``plain_credentials=False``: Jenkins without the Plain Credentials plugin, whose classes XStream
  then cannot unmarshal (500).
- Secret text: ``<secret>`` is passed in the clear (user.adoc:943-953) and kept as such here.

Every request is recorded in ``log`` (method, path, user, how it authenticated, Content-Type,
crumb, status); ``on_write(action, folder, id)`` runs in the handler before a credential write is
applied, so a test can look at the world at that moment (or change it, to stage a race).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import secrets
import socket
import ssl
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

FILE_CLASS = "org.jenkinsci.plugins.plaincredentials.impl.FileCredentialsImpl"
STRING_CLASS = "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl"
FOLDER_CLASS = "com.cloudbees.hudson.plugins.folder.Folder"
MULTIBRANCH_CLASS = "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
CRUMB_FIELD = "Jenkins-Crumb"

OVERALL_READ = "Overall/Read"
JOB_READ = "Job/Read"
VIEW, CREATE, UPDATE, DELETE = "Credentials/View", "Credentials/Create", "Credentials/Update", "Credentials/Delete"
READ_ONLY = frozenset({OVERALL_READ, JOB_READ, VIEW})
ALL = READ_ONLY | {CREATE, UPDATE, DELETE}


@dataclass(frozen=True)
class User:
    api_token: str
    permissions: frozenset[str] = ALL
    password: str | None = None


@dataclass
class Credential:
    cls: str
    id: str
    scope: str
    description: str
    secret: str | None = None  # StringCredentialsImpl
    file_name: str | None = None  # FileCredentialsImpl
    secret_bytes: bytes | None = None  # FileCredentialsImpl, as SecretBytes.fromString decoded it
    xml: str = ""


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # under the context path, without the query
    query: str
    user: str | None  # None: anonymous or refused
    auth: str | None  # "token", "password" or None
    content_type: str | None
    crumb: str | None
    status: int


def _secret_bytes(text: str) -> bytes:
    """SecretBytes.fromString for unencrypted input: Base64, and invalid Base64 becomes b""."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _parse_credential(body: bytes, known: tuple[str, ...]) -> Credential | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag not in known:
        return None  # XStream cannot unmarshal a class it does not know: 500

    def text(tag: str) -> str:
        el = root.find(tag)
        return (el.text or "") if el is not None else ""

    cred = Credential(cls=root.tag, id=text("id") or str(uuid.uuid4()),  # IdCredentials.Helpers.fixEmptyId
                      scope=text("scope") or "GLOBAL", description=text("description"), xml=body.decode("utf-8"))
    if root.tag == FILE_CLASS:
        cred.file_name = text("fileName")
        cred.secret_bytes = _secret_bytes(text("secretBytes"))
    else:
        cred.secret = text("secret")
    return cred


def _redacted(cred: Credential) -> str:
    root = ET.Element(cred.cls)
    ET.SubElement(root, "scope").text = cred.scope
    ET.SubElement(root, "id").text = cred.id
    ET.SubElement(root, "description").text = cred.description
    if cred.cls == FILE_CLASS:
        ET.SubElement(root, "fileName").text = cred.file_name
        ET.SubElement(ET.SubElement(root, "secretBytes"), "secret-redacted")
    else:
        ET.SubElement(ET.SubElement(root, "secret"), "secret-redacted")
    return ET.tostring(root, encoding="unicode")


class JenkinsEndpoint:
    """``with JenkinsEndpoint(users={...}, items={"team": FOLDER_CLASS}) as jenkins: jenkins.url``."""

    def __init__(self, *, users: dict[str, User], items: dict[str, str] | None = None, context_path: str = "/",
                 tls: tuple[Path, Path] | None = None, crumb_issuer: bool = True, plain_credentials: bool = True) -> None:
        self.users = users
        # Without the Plain Credentials plugin its classes are unknown to XStream.
        self.known_classes: tuple[str, ...] = (FILE_CLASS, STRING_CLASS) if plain_credentials else ()
        self.items = dict(items or {})  # full name ('team/shop') -> _class
        self.context_path = "/" + context_path.strip("/") + "/" if context_path.strip("/") else "/"
        self.crumb_issuer = crumb_issuer
        self.crumb = secrets.token_hex(16)
        self.store: dict[tuple[str | None, str], Credential] = {}  # (folder or None for system, id)
        self.log: list[Recorded] = []
        self.on_write: Callable[[str, str | None, str], None] | None = None
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="jenkins-endpoint",
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{self.context_path}"

    def __enter__(self) -> JenkinsEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def requests(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.log if (method is None or r.method == method) and contains in r.path]


def _handler_for(endpoint: JenkinsEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        jenkins = endpoint

    return Handler


class _Handler(BaseHTTPRequestHandler):
    jenkins: JenkinsEndpoint
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' Session expects
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall per request

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # never onto stderr: the CLI tests capture it

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    # -- plumbing -------------------------------------------------------------------------------

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        self.user: str | None = None
        self.auth: str | None = None
        status, ctype, payload = self._route(parts.path)
        j = self.jenkins
        with j.lock:
            rel = parts.path[len(j.context_path):] if parts.path.startswith(j.context_path) else parts.path
            j.log.append(Recorded(self.command, rel, parts.query, self.user, self.auth, self.headers.get("Content-Type"),
                                  self.headers.get(CRUMB_FIELD), status))
        data = payload.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Jenkins", "2.555.2")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Jenkins"')
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _json(doc: object, status: int = 200) -> tuple[int, str, str]:
        return status, "application/json;charset=utf-8", json.dumps(doc)

    @staticmethod
    def _error(status: int, text: str) -> tuple[int, str, str]:
        return status, "text/html;charset=utf-8", f"<html><body><h2>HTTP ERROR {status}</h2><p>{text}</p></body></html>"

    def _authenticate(self) -> tuple[int, str, str] | None:
        header = self.headers.get("Authorization") or ""
        if not header.lower().startswith("basic "):
            return None  # anonymous
        try:
            name, sep, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if not sep:
            return self._error(401, "Malformed HTTP basic Authorization header")
        user = self.jenkins.users.get(name)
        if user is not None and secrets.compare_digest(secret, user.api_token):
            self.user, self.auth = name, "token"
        elif user is not None and user.password is not None and secrets.compare_digest(secret, user.password):
            self.user, self.auth = name, "password"
        else:
            return self._error(401, f"Invalid password/token for user: {name}")
        return None

    def _may(self, permission: str) -> bool:
        user = self.jenkins.users.get(self.user) if self.user else None
        return user is not None and permission in user.permissions

    # -- routing --------------------------------------------------------------------------------

    def _route(self, path: str) -> tuple[int, str, str]:
        j = self.jenkins
        refused = self._authenticate()
        if refused:
            return refused
        if not path.startswith(j.context_path):
            return self._error(404, "Not Found")
        rest = path[len(j.context_path):]
        # CrumbFilter is a servlet filter: it runs after authentication, before any routing.
        if self.command == "POST" and self.auth != "token" and self.headers.get(CRUMB_FIELD) != j.crumb:
            return self._error(403, "No valid crumb was included in the request")
        if rest == "whoAmI/api/json":  # an UnprotectedRootAction: no Overall/Read needed
            return self._json({"_class": "hudson.security.WhoAmI", "name": self.user or "anonymous",
                               "authenticated": True, "anonymous": self.user is None,
                               "authorities": ["authenticated"] if self.user else ["anonymous"]})
        if not self._may(OVERALL_READ):
            return self._error(403, f"{self.user or 'anonymous'} is missing the Overall/Read permission")
        if rest == "crumbIssuer/api/json":
            if not j.crumb_issuer:
                return self._error(404, "Not Found")
            return self._json({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": j.crumb, "crumbRequestField": CRUMB_FIELD})
        segments = rest.split("/")
        item_parts: list[str] = []
        while len(segments) >= 2 and segments[0] == "job":
            item_parts.append(unquote(segments[1]))
            segments = segments[2:]
        item = "/".join(item_parts) or None
        if item is not None and (item not in j.items or not self._may(JOB_READ)):
            return self._error(404, "Not Found")  # Jenkins hides items the user may not read
        tail = "/".join(segments)
        if item is not None and tail == "api/json":
            return self._json({"_class": j.items[item], "name": item_parts[-1], "fullName": item})
        if segments[:2] != ["credentials", "store"] or len(segments) < 6 or segments[3:5] != ["domain", "_"]:
            return self._error(404, "Not Found")
        if segments[2] != ("folder" if item else "system"):
            return self._error(404, "Not Found")
        action = segments[5:]
        if action == ["createCredentials"]:
            return self._create(item)
        if len(action) == 3 and action[0] == "credential" and action[2] == "config.xml":
            return self._config_xml(item, unquote(action[1]))
        if len(action) == 4 and action[0] == "credential" and action[2:] == ["api", "json"]:
            return self._credential_info(item, unquote(action[1]))
        return self._error(404, "Not Found")

    def _create(self, folder: str | None) -> tuple[int, str, str]:
        j = self.jenkins
        if self.command != "POST":
            return self._error(405, "This URL requires POST")  # @RequirePOST
        if not self._may(CREATE):
            return self._error(403, f"{self.user} is missing the {CREATE} permission")
        ctype = self.headers.get("Content-Type")
        if ctype is None:
            return self._error(400, "No Content-Type header set")
        if not (ctype.startswith("application/xml") or ctype.startswith("text/xml")):
            return self._error(400, "Nothing is submitted")  # the form/JSON path: our XML is no form
        cred = _parse_credential(self.body, self.jenkins.known_classes)
        if cred is None:
            return self._error(500, "Could not parse credential")
        if j.on_write is not None:
            j.on_write("create", folder, cred.id)
        with j.lock:
            if (folder, cred.id) in j.store:
                return self._error(409, "Conflict")
            j.store[(folder, cred.id)] = cred
        return 200, "text/html;charset=utf-8", ""

    def _config_xml(self, folder: str | None, cred_id: str) -> tuple[int, str, str]:
        j = self.jenkins
        with j.lock:
            current = j.store.get((folder, cred_id))
        if current is None:
            return self._error(404, "Not Found")
        if self.command == "GET":
            if not self._may(VIEW):
                return self._error(403, f"{self.user} is missing the {VIEW} permission")
            return 200, "application/xml", _redacted(current)
        if self.command == "POST":
            if not self._may(UPDATE):
                return self._error(403, f"{self.user} is missing the {UPDATE} permission")
            cred = _parse_credential(self.body, self.jenkins.known_classes)
            if cred is None:
                return self._error(500, "Failed to parse credential")
            if j.on_write is not None:
                j.on_write("update", folder, cred_id)
            with j.lock:  # updateCredentials replaces the one at the URL with what was sent
                j.store.pop((folder, cred_id), None)
                j.store[(folder, cred.id)] = cred
            return 200, "text/html;charset=utf-8", ""
        if self.command == "DELETE":
            if not self._may(DELETE):
                return self._error(403, f"{self.user} is missing the {DELETE} permission")
            if j.on_write is not None:
                j.on_write("delete", folder, cred_id)
            with j.lock:
                j.store.pop((folder, cred_id), None)
            return 200, "text/html;charset=utf-8", ""
        return self._error(400, "Bad Request")

    def _credential_info(self, folder: str | None, cred_id: str) -> tuple[int, str, str]:
        j = self.jenkins
        if not self._may(VIEW):
            return self._error(403, f"{self.user} is missing the {VIEW} permission")
        with j.lock:
            cred = j.store.get((folder, cred_id))
        if cred is None:
            return self._error(404, "Not Found")
        return self._json({"_class": "com.cloudbees.plugins.credentials.CredentialsStoreAction$CredentialsWrapper",
                           "id": cred.id, "description": cred.description,
                           "typeName": "Secret file" if cred.cls == FILE_CLASS else "Secret text"})


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """A URL whose server accepts connections and never answers (python-jenkins' own tests' NullServer)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, name="silent-endpoint", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # accept() returns (EINVAL) instead of waiting out its timeout
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def closed_port_url() -> str:
    """A URL on which nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
