"""A small Kubernetes REST client, and the boundary for network errors.

Why not the ``kubernetes`` package: measured on this project's benchmark machine, importing
it and touching ``CoreV1Api`` costs ~0.5 s before the first request (its pydantic models),
more than the whole manual kubectl sequence we must beat by 3x; and its exec-plugin loader
swallows failures. We only need a handful of GET/POST/DELETE/watch calls on JSON, so payloads
are plain dicts, typed by the TypedDicts in ``_shapes`` where we read them, and the standard
library's ``http.client`` carries them (``_transport``: why not urllib3).

Error boundary: ``socket``, ``ssl`` and ``http.client`` exceptions and HTTP error statuses become
``ClusterError`` subclasses here and nowhere else (see ``_errors``). Response bodies are never
logged; a Status message from the server is kept, trimmed, because the server writes it.

Secrets: the bearer token goes only into the Authorization header; a client key given inline
is written to a 0600 file in a 0700 folder only for ``load_cert_chain`` and removed at once.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from ._deadline import Deadline
from ._network import NeverAnswered, network_error
from ._errors import ClusterError, ConfigError, UnauthorizedError, UnreachableError, error_for_status, not_kubernetes, scrub_secrets
from ._headers import header_value, impersonation_headers
from ._kubeconfig import ExecSpec
from ._pem import load_certificates
from ._retry import Breaker, with_retries
from ._target import Target
from ._transport import Connection, Lane, body_chunks, open_socket

__all__ = ["KubeClient", "Response", "exec_info", "ssl_context_for"]

CONNECT_TIMEOUT = 5.0  # a TCP+TLS connect that takes longer is "no answer"
# The largest answer we read, decoded (a gzip answer is inflated as it is read, so a
# decompression bomb stops here). Generous: the biggest real answers are LISTs of Helm release
# Secrets, each at most 1 MiB (etcd's object limit), a few dozen revisions at most.
MAX_RESPONSE_BYTES = 128 * 1024 * 1024
_READ_CHUNK = 64 * 1024
USER_AGENT = "kube-preflight/0.1"


@dataclass(frozen=True, kw_only=True)
class Response:
    """A decoded answer: status, headers and the parsed JSON body."""

    status: int
    headers: Mapping[str, str]
    data: Any = None

    @property
    def date(self) -> datetime | None:
        """The API server's clock, from its Date header (RFC 7231)."""
        raw = self.headers.get("date")
        try:
            return parsedate_to_datetime(raw) if raw else None
        except (TypeError, ValueError):
            return None


@dataclass
class Stats:
    """What a client did on the wire, for the report's meta and the benchmarks."""

    requests: int = 0
    handshakes: int = 0  # completed TLS handshakes (connection attempts that failed do not count)
    connects: int = 0  # connection attempts, failed ones included (a tripped breaker makes none)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def _pem(data: bytes, source: str) -> str:
    """CA data as PEM text (kubeconfigs may hold DER)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return "".join(c.public_bytes(Encoding.PEM).decode() for c in load_certificates(data, source=source))


def ssl_context_for(target: Target, *, client_cert: bytes | None = None, client_key: bytes | None = None) -> ssl.SSLContext:
    """A verifying client context: the kubeconfig's CA (or system CAs), its client pair."""
    cluster = target.cluster
    if cluster.ca is not None:  # never the system store in place of a CA the kubeconfig names
        ctx = ssl.create_default_context(cadata=_pem(cluster.ca.require(), cluster.ca.source))
    else:
        ctx = ssl.create_default_context()
    # Private PKIs (kubeadm) are not web-PKI: do not require its extra extension rules.
    ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    if cluster.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert is not None and client_key is not None:
        _load_client_pair(ctx, client_cert, client_key)
    return ctx


def _load_client_pair(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl can only load a key pair from files; keep them on disk for the duration of one call.
    with tempfile.TemporaryDirectory(prefix="preflight-") as folder:
        cert_path, key_path = Path(folder, "client.crt"), Path(folder, "client.key")
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError("the client certificate and key cannot be used together", fix="re-export them from the same source") from exc


# -- the error boundary -----------------------------------------------------------------------

def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds, as client-go reads it (an integer; dates are ignored)."""
    raw = str(headers.get("retry-after") or headers.get("Retry-After") or "").strip()
    return float(raw) if raw.isdigit() else None


def _status_error(status: int, body: bytes, path: str, *, where: str, headers: Mapping[str, str]) -> ClusterError:
    reason, message, is_status = "", "", False
    try:
        doc = json.loads(body)
        if isinstance(doc, dict):
            reason, message = str(doc.get("reason") or ""), str(doc.get("message") or "")
            is_status = doc.get("kind") == "Status"
    except ValueError:
        pass
    bare = path.split("?")[0]
    if status == 403 and not is_status:
        # kube-apiserver writes every refusal as a Status (responsewriters.Forbidden); a bare 403
        # comes from something in front of it, or in its place, and says nothing about our rights.
        return not_kubernetes(where, f"{bare} with HTTP 403 and no Kubernetes Status")
    text = message or f"HTTP {status} for {bare}"
    err = error_for_status(status, text, reason=reason)
    err.kubernetes = is_status
    if status == 429 or status >= 500:
        err.retry_after = _retry_after(headers)
    if status == 401:
        err.fix = "the credential was rejected; see kubeconfig.credentials and auth.identity"
    return err


# -- credentials: what client-go's round trippers add --------------------------------------

def _interactive(spec: ExecSpec) -> bool:
    """Whether the plugin may talk to the user (plugin/pkg/client/auth/exec/exec.go isInteractive):
    Never; IfAvailable when stdin is a terminal; Always refuses to run without one."""
    try:
        tty = os.isatty(0)
    except OSError:
        tty = False
    if spec.interactive_mode == "Always" and not tty:
        raise ConfigError(f"exec credential plugin {spec.command!r} cannot support interactive mode: standard input is not a terminal",
                          fix="run it in a terminal, or set interactiveMode: IfAvailable if the plugin can do without one")
    return tty and spec.interactive_mode != "Never"


def exec_info(spec: ExecSpec, target: Target, *, interactive: bool) -> dict[str, Any]:
    """KUBERNETES_EXEC_INFO as client-go writes it (exec.go refreshCredsLocked). With
    provideClusterInfo, spec.cluster carries what rest/exec.go ConfigToExecCluster copies, in the
    field names of clientauthentication/v1 Cluster; ``config`` is the cluster's
    client.authentication.k8s.io/exec extension (null without one)."""
    body: dict[str, Any] = {"interactive": interactive}
    if spec.provide_cluster_info:
        cluster = target.cluster
        info: dict[str, Any] = {"server": cluster.server}
        if cluster.tls_server_name:
            info["tls-server-name"] = cluster.tls_server_name
        if cluster.insecure:
            info["insecure-skip-tls-verify"] = True
        if cluster.ca is not None and cluster.ca.data:
            info["certificate-authority-data"] = base64.b64encode(cluster.ca.data).decode()
        if cluster.proxy_url:
            info["proxy-url"] = cluster.proxy_url
        info["config"] = cluster.exec_config
        body = {"cluster": info, **body}
    return {"kind": "ExecCredential", "apiVersion": spec.api_version, "spec": body}


def _run_exec_plugin(spec: ExecSpec, target: Target, timeout: float) -> Mapping[str, Any]:
    """Run a client-go credential plugin and return its ExecCredential status, checked as
    exec.go checks it. The plugin gets our environment, its ``env`` and KUBERNETES_EXEC_INFO;
    stdin and stderr only when it may be interactive (otherwise stderr is kept for the message)."""
    interactive = _interactive(spec)
    env = {**os.environ, **dict(spec.env), "KUBERNETES_EXEC_INFO": json.dumps(exec_info(spec, target, interactive=interactive))}
    name = f"exec credential plugin {spec.command!r}"
    try:
        done = subprocess.run(
            [spec.command, *spec.args], env=env, stdin=None if interactive else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=None if interactive else subprocess.PIPE, timeout=timeout, check=False,
        )
    except FileNotFoundError:
        raise ConfigError(f"{name} is not on PATH", fix=spec.install_hint or "install it") from None
    except subprocess.TimeoutExpired:
        raise UnauthorizedError(f"{name} did not finish in {timeout:.0f}s") from None
    except OSError as exc:  # ENOEXEC: a script without #!; EACCES: not executable
        raise ConfigError(f"{name} cannot be started: {exc.strerror}", fix="a script needs a #! line and the executable bit") from None
    if done.returncode != 0:
        # Its last line, scrubbed of token-shaped text: a plugin may print the very token it failed to hand over.
        last = ((done.stderr or b"").decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise UnauthorizedError(f"{name} failed (exit {done.returncode}): {scrub_secrets(last)[:200]}")
    try:
        reply = json.loads(done.stdout)
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or reply.get("kind") != "ExecCredential":
        raise UnauthorizedError(f"{name} printed no ExecCredential")
    if reply.get("apiVersion") != spec.api_version:
        # exec.go: "exec plugin is configured to use API version X, plugin returned version Y"
        got = reply.get("apiVersion") or "no apiVersion"
        raise UnauthorizedError(f"{name} is configured to use API version {spec.api_version}, plugin returned {str(got)[:80]}",
                                fix="set users[].user.exec.apiVersion to the version the plugin speaks")
    status = reply.get("status")
    if not isinstance(status, dict):
        raise UnauthorizedError(f"{name} didn't return a status field")
    cert, key = status.get("clientCertificateData") or "", status.get("clientKeyData") or ""
    if not (status.get("token") or cert or key):
        raise UnauthorizedError(f"{name} didn't return a token or cert/key pair")
    if bool(cert) != bool(key):
        raise UnauthorizedError(f"{name} returned only certificate or key, not both")
    return status


# -- the client -------------------------------------------------------------------------------

class KubeClient:
    """GET/POST/DELETE/watch JSON against one API server, within one deadline."""

    def __init__(self, target: Target, deadline: Deadline, *, max_connections: int = 4) -> None:
        self.target = target
        self.deadline = deadline
        self.stats = Stats()
        self.breaker = Breaker()
        self.where = target.cluster.display  # the server as messages show it: never a password in its URL
        creds = target.credentials
        cert = creds.client_cert.require() if creds.client_cert is not None else None
        key = creds.client_key.require() if creds.client_key is not None else None
        token = creds.token.require().decode(errors="replace").strip() if creds.token is not None else None
        token_source = creds.token.source if creds.token is not None else ""
        # client-go skips the exec plugin when a token, basic auth or a client certificate is set
        # (exec.go UpdateTransportConfig).
        if creds.exec is not None and token is None and creds.basic is None and cert is None:
            status = _run_exec_plugin(creds.exec, target, timeout=max(1.0, deadline.remaining()))
            token = status.get("token")
            token_source = f"the token from exec credential plugin {creds.exec.command!r}"
            if status.get("clientCertificateData"):
                cert, key = str(status["clientCertificateData"]).encode(), str(status.get("clientKeyData", "")).encode()
        # A list, not a dict: Impersonate-Group and Impersonate-Extra-* repeat.
        self._headers: list[tuple[str, str]] = [("User-Agent", USER_AGENT)]
        if token:
            self._headers.append(("Authorization", f"Bearer {header_value(str(token), what='the token', source=token_source)}"))
        elif creds.basic is not None:  # never both: the kubeconfig layer refuses token + basic, as kubectl does
            pair = base64.b64encode(":".join(creds.basic).encode()).decode()
            self._headers.append(("Authorization", f"Basic {header_value(pair, what='the username/password', source=creds.user)}"))
        self._headers += impersonation_headers(creds.impersonate, source=f"users[{creds.user}]")
        # A server URL with a path (Rancher's https://host/k8s/clusters/c-x) keeps it in front of
        # every request path, as client-go's rest client does (rest/request.go NewRequest, AbsPath).
        self._prefix = urlsplit(target.cluster.server).path.rstrip("/")
        ssl_context = ssl_context_for(target, client_cert=cert, client_key=key) if target.cluster.server.startswith("https://") else None
        # Two lanes, each with a slot per connection. A request takes a slot *before* its
        # timeouts are computed, so one queued behind hung requests still ends at the deadline.
        # Health probes (/version, /livez, /readyz) have their own lane: with etcd down every
        # data read hangs, and the probes that would say "etcd failed" must not queue behind them.
        self._lanes = {"api": self._lane(max_connections, ssl_context), "health": self._lane(1, ssl_context)}

    def _lane(self, size: int, ssl_context: ssl.SSLContext | None) -> Lane:
        target = self.target

        def opener(timeout: float) -> socket.socket:
            return self._connect(timeout, ssl_context)

        return Lane(size, lambda: Connection(target.host, target.port, opener, tls=ssl_context is not None))

    def _connect(self, timeout: float, ssl_context: ssl.SSLContext | None) -> socket.socket:
        """A new connection to the server, through the circuit breaker, counted in the stats
        (attempts, and completed TLS handshakes)."""
        target = self.target

        def waited_too_long() -> BaseException:
            return TimeoutError("another connection attempt to this host is still unanswered")

        with self.breaker.attempt(self._network_error, timeout, waited_too_long):
            with self.stats.lock:
                self.stats.connects += 1
            sock = open_socket(target.host, target.port, timeout, proxy=target.proxy, ssl_context=ssl_context,
                               tls_name=target.tls_name)
        if ssl_context is not None:
            with self.stats.lock:
                self.stats.handshakes += 1
        return sock

    def _network_error(self, exc: BaseException) -> UnreachableError:
        """The step that failed (dns, connect, timeout, tls), named by the table in ``_network``."""
        return network_error(exc, self.where) or UnreachableError(f"cannot reach {self.where}: {type(exc).__name__}",
                                                                  step="connect", transient=True)

    def _unreachable(self, exc: BaseException) -> UnreachableError:
        """A failure on an open connection, in our words, recorded by the circuit breaker."""
        err = self._network_error(exc)
        self.breaker.record(err)
        return err

    @property
    def tls_handshakes(self) -> int:
        return self.stats.handshakes

    def _send(self, lane: Lane, method: str, url: str, body: bytes | None, headers: list[tuple[str, str]], *,
              read: float | None, deadline: Deadline) -> tuple[Connection, http.client.HTTPResponse]:
        """Send on a connection of ``lane`` (its slot already taken) and read the answer's head;
        a network failure becomes our error, recorded by the breaker."""
        left = max(0.05, deadline.remaining())
        with self.stats.lock:
            self.stats.requests += 1
        conn: Connection | None = None
        try:
            conn = lane.take()
            return conn, conn.send_request(method, self._prefix + url, body, headers, connect_timeout=min(CONNECT_TIMEOUT, left),
                                           read_timeout=min(read or left, left))
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, OSError):
                raise self._unreachable(exc) from None
            if isinstance(exc, (ValueError, TypeError, UnicodeError, http.client.HTTPException)):
                # http.client's own refusals quote the request (headers included): keep only the type.
                raise UnreachableError(f"the request {method} {url.split('?')[0]} could not be sent ({type(exc).__name__})",
                                       step="connect", transient=False) from None
            raise

    def _once(self, method: str, url: str, body: bytes | None, read: float | None, *,
              deadline: Deadline, answers: frozenset[int] = frozenset(), lane: str = "api", accept: str | None = None,
              content_type: str = "application/json") -> Response:
        self.breaker.check()  # a host that refused, does not resolve or failed TLS: the same error, at once
        if deadline.expired():
            raise UnreachableError(f"deadline reached before {method} {url.split('?')[0]}", step="timeout", transient=False)
        headers = [*self._headers, ("Accept", accept or "application/json")]
        if body is not None:
            headers.append(("Content-Type", content_type))
        chosen = self._lanes[lane]
        if not chosen.slots.acquire(timeout=deadline.remaining()):
            raise UnreachableError(
                f"no answer from {self.where} before the deadline: earlier requests to it are still unanswered",
                step="timeout", transient=False)
        try:
            conn, raw = self._send(chosen, method, url, body, headers, read=read, deadline=deadline)
            try:
                content = self._read_capped(raw, f"{method} {url.split('?')[0]}")
            except OSError as exc:
                conn.close()
                raise self._unreachable(exc) from None
            except BaseException:
                conn.close()
                raise
            chosen.give_back(conn, raw)
        finally:
            chosen.slots.release()
        headers_in = {k.lower(): v for k, v in raw.getheaders()}
        if raw.status >= 400 and raw.status not in answers:
            raise _status_error(raw.status, content, url, where=self.where, headers=headers_in)
        data: Any = None
        if content:
            try:
                data = json.loads(content)
            except ValueError:
                data = content.decode(errors="replace")
        return Response(status=raw.status, headers=headers_in, data=data)

    def _read_capped(self, raw: http.client.HTTPResponse, what: str) -> bytes:
        """The decoded body, read in chunks (gzip is inflated at most a chunk at a time) and
        refused past MAX_RESPONSE_BYTES: a decompression bomb costs the cap, not the bomb."""
        chunks, size = [], 0
        for chunk in body_chunks(raw, _READ_CHUNK):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise ClusterError(
                    f"{self.where} answered {what} with more than {MAX_RESPONSE_BYTES >> 20} MiB (decoded); preflight reads no more",
                    fix="this is not a normal API answer (a compressed bomb, or a proxy streaming something else): check the server URL")
            chunks.append(chunk)
        return b"".join(chunks)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        read_timeout: float | None = None,
        deadline: Deadline | None = None,
        lane: str = "api",
        accept: str | None = None,
        content_type: str = "application/json",
        retry: bool = True,
    ) -> Response:
        """One request, retried while transient within ``deadline`` (default: the client's;
        clean-ups pass their own, since they run when the run's deadline may be spent).
        ``accept`` replaces ``application/json``, e.g. to ask for aggregated discovery;
        ``content_type`` names a patch's type; ``retry=False`` leaves retrying to the caller
        (a dry-run's 500 may be a webhook's refusal, not a transient error)."""
        url = path + ("?" + urlencode({k: v for k, v in query.items() if v is not None}) if query else "")
        payload = json.dumps(body).encode() if body is not None else None
        budget = deadline or self.deadline
        def attempt() -> Response:
            return self._once(method, url, payload, read_timeout, deadline=budget, lane=lane, accept=accept, content_type=content_type)

        resp = with_retries(budget, attempt) if retry else attempt()
        if resp.data is not None and not isinstance(resp.data, dict):
            # The API answers JSON objects only; an HTML 200 is an SSO login page or a proxy's.
            got = "non-JSON text" if isinstance(resp.data, str) else "JSON that is not an object"
            raise not_kubernetes(self.where, f"{method} {path} with {got} (HTTP {resp.status})")
        return resp

    def wait_until_reachable(self, seconds: float, *, pause: float = 0.5) -> bool:
        """``--wait-for-api``: ask for /version until the API server answers, for up to
        ``seconds`` (as cert-manager's ``cmctl check api --wait``): a restarting API server
        refuses, resets, does not answer or answers 5xx/429 for a while. Only those are waited
        out; a TLS failure, a 401/403 or something that is not the Kubernetes API answers at
        once. Each try starts with a fresh circuit breaker. True when it answered."""
        until = Deadline(seconds)
        stop = threading.Event()
        while True:
            self.breaker = Breaker()
            try:
                self.request("GET", "/version", lane="health", deadline=Deadline(max(0.05, min(CONNECT_TIMEOUT, until.remaining()))))
                return True
            except UnreachableError as exc:
                if exc.step not in ("connect", "dns", "timeout"):
                    return False
            except ClusterError as exc:
                if not exc.transient:  # 429 and 5xx are; 401, 403, 404 are answers
                    return False
            if until.remaining() <= pause:
                return False
            stop.wait(pause)

    def get(self, path: str, **query: Any) -> Response:
        return self.request("GET", path, query=query or None)

    def get_text(self, path: str, **query: Any) -> tuple[int, str]:
        """Health endpoints answer text, and 500 with the failing checks listed: a 500 is an
        answer here, not an error to retry."""
        url = path + ("?" + urlencode(query) if query else "")
        resp = with_retries(self.deadline, lambda: self._once("GET", url, None, None, deadline=self.deadline,
                                                              answers=frozenset({500}), lane="health"))
        return resp.status, str(resp.data or "")

    def post(self, path: str, body: Any) -> Response:
        return self.request("POST", path, body=body)

    def delete(self, path: str, *, deadline: Deadline | None = None) -> Response:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        return self.request("DELETE", path, body=body, deadline=deadline)

    def list_all(self, path: str, *, limit: int = 500, **query: Any) -> Iterator[dict[str, Any]]:
        """Every item of a LIST, page by page (``limit`` + ``continue``)."""
        token: str | None = None
        while True:
            page = self.get(path, limit=limit, **{"continue": token} if token else {}, **query).data or {}
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def watch(self, path: str, *, resource_version: str, timeout: float, **query: Any) -> Iterator[dict[str, Any]]:
        """Watch events (``{"type", "object"}``) until ``timeout`` or the deadline."""
        seconds = max(1, int(min(timeout, self.deadline.remaining())))
        params = {"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": seconds, "allowWatchBookmarks": "false", **query}
        url = path + "?" + urlencode(params)
        api = self._lanes["api"]
        self.breaker.check()
        if not api.slots.acquire(timeout=self.deadline.remaining()):
            raise UnreachableError(f"no connection to {self.where} free before the deadline", step="timeout", transient=False)
        conn: Connection | None = None
        ended = False  # the server ended the watch: the connection is clean for the next request
        try:
            conn, raw = self._send(api, "GET", url, None, [*self._headers, ("Accept", "application/json")], read=seconds + 5,
                                   deadline=self.deadline)
            if raw.status >= 400:
                raise _status_error(raw.status, self._read_capped(raw, f"the watch of {path}"), url, where=self.where,
                                    headers={k.lower(): v for k, v in raw.getheaders()})
            buffer = b""
            for chunk in body_chunks(raw, 4096):
                buffer += chunk
                if len(buffer) > MAX_RESPONSE_BYTES:
                    raise ClusterError(f"{self.where} sent a watch event of more than {MAX_RESPONSE_BYTES >> 20} MiB (decoded) "
                                       f"for {path}; preflight reads no more", fix="check the server URL")
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
            ended = True
        except NeverAnswered:
            return  # the watch's time is up with nothing more to say
        except OSError as exc:
            raise self._unreachable(exc) from None
        finally:
            if conn is not None:
                if ended:
                    api.give_back(conn, raw)
                else:
                    conn.close()  # left mid-stream (by us, a timeout or an error): never reused
            api.slots.release()

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.close()


def b64decode_field(value: str | None) -> bytes:
    """A Secret's ``data`` field, decoded; empty when absent or invalid."""
    try:
        return base64.b64decode(value or "", validate=True)
    except ValueError:
        return b""
