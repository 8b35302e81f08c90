"""Read kubeconfig files the way kubectl and Helm do, without talking to a cluster.

Loading follows client-go's ``ClientConfigLoadingRules.Load`` (tools/clientcmd/loader.go):
``--kubeconfig`` names one file that must exist; otherwise every file in ``KUBECONFIG``
(missing ones skipped, repeats dropped) is merged, the first file to define a cluster, user,
context or ``current-context`` winning; otherwise ``$HOME/.kube/config``. File references are
relative to the file that defines them (``ResolvePaths``); an exec command is resolved that way
only when it contains a path separator. ``~`` is expanded nowhere, as in kubectl.

Each file is checked as client-go decodes it: a field of the wrong type anywhere, or a name
defined twice in one list, makes kubectl refuse the whole file, so it is refused here too.
The README's "kubeconfig semantics (as kubectl)" table lists every rule with its client-go file.

Credential fields are decoded when a context is *resolved*, not when the file is loaded, so a
broken certificate or token only matters to the contexts that use it. A reference that cannot
be read is kept as a ``Material`` with a ``problem`` (the audit reports it); ``require()`` turns
it into a ``ConfigError`` for commands that need the bytes.

What this module does not do: run exec plugins, open sockets, or print secrets. Token, key,
password and auth-provider bytes are excluded from ``repr``, and no message quotes them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from ._errors import ConfigError
from ._urls import redact_url
from ._yamlsafe import check_aliases

__all__ = [
    "EXEC_API_VERSIONS",
    "AuthProvider",
    "ClusterEntry",
    "ContextView",
    "Credentials",
    "ExecSpec",
    "Impersonation",
    "KubeConfig",
    "Material",
    "decode_jwt_claims",
    "default_paths",
    "load_kubeconfig",
    "provider_token",
]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """YAML 1.1 as kubectl reads it: sigs.k8s.io/yaml (a go-yaml v2 fork) also takes y/Y/n/N
    for booleans, where PyYAML keeps strings; kubectl refuses ``password: y`` as a bool."""

    bool_values = {**yaml.SafeLoader.bool_values, "y": True, "n": False}


yaml.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"), Loader=_Loader)

# The versions client-go's exec authenticator speaks (plugin/pkg/client/auth/exec/exec.go, apiVersions).
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
_INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
# The cluster extension whose object client-go hands to exec plugins as spec.cluster.config
# (tools/clientcmd/client_config.go, clusterExtensionKey).
EXEC_EXTENSION = "client.authentication.k8s.io/exec"


# -- the Go types of the v1 kubeconfig -------------------------------------------------------

@dataclass(frozen=True)
class _MapOf:
    """A Go map in the type table: every value of the mapping has this type."""

    value: Any


# tools/clientcmd/api/v1/types.go, for the fields we read. client-go decodes the YAML as JSON
# and encoding/json refuses a value of the wrong type anywhere in the file ("json: cannot
# unmarshal number into Go struct field Cluster.clusters.cluster.server of type string");
# unknown fields are ignored, as there. A dict is a struct, [x] a list of x.
_EXTENSIONS: Any = [{"name": str}]
_SPECS: dict[str, Any] = {
    "clusters": {"server": str, "tls-server-name": str, "insecure-skip-tls-verify": bool, "certificate-authority": str,
                 "certificate-authority-data": str, "proxy-url": str, "disable-compression": bool, "extensions": _EXTENSIONS},
    "users": {"client-certificate": str, "client-certificate-data": str, "client-key": str, "client-key-data": str,
              "token": str, "tokenFile": str, "as": str, "as-uid": str, "as-groups": [str], "as-user-extra": _MapOf([str]),
              "username": str, "password": str, "auth-provider": {"name": str, "config": _MapOf(str)},
              "exec": {"command": str, "args": [str], "env": [{"name": str, "value": str}], "apiVersion": str,
                       "installHint": str, "provideClusterInfo": bool, "interactiveMode": str},
              "extensions": _EXTENSIONS},
    "contexts": {"cluster": str, "user": str, "namespace": str, "extensions": _EXTENSIONS},
}
_TOP: Any = {"current-context": str, "preferences": {"colors": bool, "extensions": _EXTENSIONS}}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__}")


def _check(value: Any, spec: Any, where: str, origin: Path) -> None:
    """Refuse ``value`` unless it has the Go type ``spec`` (null is every type's zero value)."""
    if value is None:
        return
    if spec is str or spec is bool:
        if type(value) is not spec:
            want = "a string" if spec is str else "true or false"
            raise ConfigError(f"{where} must be {want}, not {_kind(value)} (kubectl refuses the file)", source=str(origin))
    elif isinstance(spec, list):
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, not {_kind(value)} (kubectl refuses the file)", source=str(origin))
        for i, item in enumerate(value):
            _check(item, spec[0], f"{where}[{i}]", origin)
    else:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, not {_kind(value)} (kubectl refuses the file)", source=str(origin))
        if isinstance(spec, _MapOf):
            for key, item in value.items():
                _check(item, spec.value, f"{where}.{key}", origin)
        else:
            for key, inner in spec.items():
                _check(value.get(key), inner, f"{where}.{key}" if where else key, origin)


# -- what a context resolves to ---------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Material:
    """Bytes a kubeconfig gives inline (``*-data``) or by file reference.

    ``source`` names where they come from, for messages: a file path, or
    ``<kubeconfig>: users[<name>].client-certificate-data``.
    """

    source: str
    data: bytes | None = field(default=None, repr=False)
    path: Path | None = None
    problem: str = ""

    def require(self) -> bytes:
        if self.data is None:
            raise ConfigError(self.problem or "no data", source=self.source)
        return self.data


@dataclass(frozen=True, kw_only=True)
class ExecSpec:
    """A client-go credential plugin (``users[].user.exec``), checked as client-go checks it."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    api_version: str = "client.authentication.k8s.io/v1"
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = "Never"  # Never, IfAvailable or Always


@dataclass(frozen=True, kw_only=True)
class Impersonation:
    """``as``, ``as-uid``, ``as-groups``, ``as-user-extra``: who the API server should treat the
    request as (client-go rest.ImpersonationConfig); authorization is then that identity's."""

    user: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, kw_only=True)
class AuthProvider:
    """``users[].user.auth-provider``; ``source`` names it for messages."""

    name: str
    source: str
    config: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """How a context authenticates. Several may be set; the API server sees all of them."""

    user: str
    client_cert: Material | None = None
    client_key: Material | None = None
    token: Material | None = None
    exec: ExecSpec | None = None
    provider: AuthProvider | None = None
    basic: tuple[str, str] | None = field(default=None, repr=False)  # username, password
    impersonate: Impersonation | None = None

    @property
    def auth_provider(self) -> str | None:
        return self.provider.name if self.provider is not None else None

    @property
    def basic_auth(self) -> bool:
        return self.basic is not None

    @property
    def kind(self) -> str:
        if self.client_cert is not None:
            return "client-certificate"
        if self.token is not None:
            return "token"
        if self.exec is not None:
            return "exec"
        if self.provider is not None:
            return "auth-provider"
        if self.basic is not None:
            return "basic"
        return "none"


@dataclass(frozen=True, kw_only=True)
class ClusterEntry:
    """One ``clusters[]`` entry: where the API server is and how its certificate is verified."""

    name: str
    server: str
    ca: Material | None = None
    insecure: bool = False
    tls_server_name: str = ""
    proxy_url: str = field(default="", repr=False)  # may carry user:password
    exec_config: Any = field(default=None, repr=False)  # the client.authentication.k8s.io/exec extension

    @property
    def display(self) -> str:
        """``server`` as messages and reports show it: without a ``user:password@`` part."""
        return redact_url(self.server)


@dataclass(frozen=True, kw_only=True)
class ContextView:
    """One context with its cluster and user resolved."""

    name: str
    cluster: ClusterEntry
    credentials: Credentials
    namespace: str
    origin: Path  # the file that defined the context


@dataclass(frozen=True, kw_only=True)
class _Entry:
    """A named entry as read, and the file it came from (the first file that names it wins)."""

    body: Mapping[str, Any]
    origin: Path


@dataclass(frozen=True, kw_only=True)
class KubeConfig:
    """The merged view of one or more kubeconfig files."""

    paths: tuple[Path, ...]
    current_context: str
    contexts: Mapping[str, _Entry]
    clusters: Mapping[str, _Entry]
    users: Mapping[str, _Entry]

    @property
    def context_names(self) -> list[str]:
        return list(self.contexts)

    def context(self, name: str | None = None) -> ContextView:
        """Resolve ``name`` (default: the current context)."""
        where = ", ".join(str(p) for p in self.paths)
        chosen = name or self.current_context
        if not chosen:
            raise ConfigError(
                "no current-context is set",
                source=where,
                fix="pass --context NAME or run 'kubectl config use-context NAME'",
            )
        if chosen not in self.contexts:
            known = ", ".join(sorted(self.contexts)) or "none"
            raise ConfigError(f"context {chosen!r} does not exist (contexts: {known})", source=where)
        entry = self.contexts[chosen]
        ctx = entry.body
        cluster_name, user_name = _str(ctx.get("cluster")), _str(ctx.get("user"))
        if cluster_name not in self.clusters:
            raise ConfigError(
                f"context {chosen!r} names cluster {cluster_name!r}, which is not defined", source=where
            )
        return ContextView(
            name=chosen,
            cluster=_cluster(cluster_name, self.clusters[cluster_name]),
            credentials=_credentials(user_name, self.users.get(user_name)),
            namespace=_str(ctx.get("namespace")),
            origin=entry.origin,
        )


def default_paths(explicit: str | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The files to load, in precedence order, as kubectl picks them. kubectl expands no ``~``
    in ``--kubeconfig`` or ``KUBECONFIG`` (the shell does, unquoted), and drops repeats in
    ``KUBECONFIG`` (loader.go NewDefaultClientConfigLoadingRules, deduplicate)."""
    env = os.environ if environ is None else environ
    if explicit:
        return [Path(explicit)]
    if env.get("KUBECONFIG"):
        return [Path(p) for p in dict.fromkeys(env["KUBECONFIG"].split(os.pathsep)) if p]
    return [Path(env.get("HOME", "~")).expanduser() / ".kube" / "config"]


def load_kubeconfig(paths: Sequence[Path], *, explicit: bool = False) -> KubeConfig:
    """Load and merge ``paths``. With ``explicit`` the single path must exist."""
    loaded: list[tuple[Path, Mapping[str, Any]]] = []
    for path in paths:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if explicit:
                raise ConfigError("kubeconfig file does not exist", source=str(path)) from None
            continue  # client-go skips missing files in KUBECONFIG
        except OSError as exc:
            raise ConfigError(f"cannot read kubeconfig: {exc.strerror}", source=str(path)) from None
        loaded.append((path, parse_document(raw, source=str(path))))
    if not loaded:
        listed = ", ".join(str(p) for p in paths) or "(none)"
        raise ConfigError(
            f"no kubeconfig found (looked at {listed})",
            fix="pass --kubeconfig FILE or set KUBECONFIG",
        )

    current = ""
    maps: dict[str, dict[str, _Entry]] = {"contexts": {}, "clusters": {}, "users": {}}
    for path, doc in loaded:
        _check(doc, _TOP, "", path)
        current = current or _str(doc.get("current-context"))
        for section, inner in (("contexts", "context"), ("clusters", "cluster"), ("users", "user")):
            for name, body in _named_list(doc, section, inner, path):
                maps[section].setdefault(name, _Entry(body=body, origin=path))
    return KubeConfig(
        paths=tuple(p for p, _ in loaded),
        current_context=current,
        contexts=maps["contexts"],
        clusters=maps["clusters"],
        users=maps["users"],
    )


def parse_document(raw: bytes, *, source: str) -> Mapping[str, Any]:
    """The YAML (or JSON) document of one kubeconfig file, checked to be a mapping."""
    try:
        doc = yaml.load(raw, Loader=_Loader)  # noqa: S506 - a SafeLoader variant
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"not valid YAML{where}", source=source, fix="fix the file or point to another") from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise ConfigError(f"not a readable kubeconfig ({type(exc).__name__})", source=source) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError("is not a kubeconfig (expected a mapping at the top level)", source=source)
    return check_aliases(doc, source=source)  # type: ignore[no-any-return]


def file_mode_problem(path: Path) -> str:
    """A sentence when ``path`` is readable by group or others, else ''."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return ""
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"mode {stat.S_IMODE(mode):04o} lets group or others read it"
    return ""


def decode_jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, decoded but NOT verified; None for an opaque token."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


# The in-tree auth providers client-go removed in 1.26, with the exec plugins kubectl names instead.
_REMOVED_PROVIDERS = {"gcp": "gke-gcloud-auth-plugin", "azure": "kubelogin (https://github.com/Azure/kubelogin)"}
# client-go's oidc plugin treats an id-token as expired this long before its exp (oidc.go, expiryDelta).
_OIDC_EXPIRY_DELTA = 10.0


def provider_token(provider: AuthProvider, now: datetime, *, needed: bool = True) -> Material | None:
    """The bearer token kubectl's auth-provider would send, or a ConfigError where kubectl stops.

    Only ``oidc`` is left in client-go. Its plugin (plugin/pkg/client/auth/oidc/oidc.go) needs
    ``idp-issuer-url`` and ``client-id`` when it is built, and at request time sends ``id-token``
    while the JWT's exp is more than 10 s away; otherwise it refreshes at the issuer with the
    ``refresh-token`` and writes the new tokens into the kubeconfig. preflight writes no
    kubeconfig, so it refuses instead. Not ``needed`` (a token or basic auth set Authorization
    first): only the build-time checks apply, and None is returned."""
    if provider.name in _REMOVED_PROVIDERS:
        raise ConfigError(f"the {provider.name} auth plugin has been removed from kubectl and client-go", source=provider.source,
                          fix=f"use the {_REMOVED_PROVIDERS[provider.name]} exec credential plugin")
    if provider.name != "oidc":
        raise ConfigError(f"kubectl has no auth provider named {provider.name!r}", source=provider.source,
                          fix="use an exec credential plugin")
    config = provider.config
    for key in ("idp-issuer-url", "client-id"):
        if not config.get(key):
            raise ConfigError(f"the oidc auth provider needs config.{key}", source=provider.source)
    if not needed:
        return None
    token = config.get("id-token") or ""
    if token and len(token.split(".")) != 3:
        raise ConfigError("config.id-token is not a valid JWT", source=provider.source)
    exp = (decode_jwt_claims(token) or {}).get("exp") if token else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or now.timestamp() + _OIDC_EXPIRY_DELTA >= exp:
        state = "has expired" if token else "is missing"
        how = ("run 'kubectl version' once so kubectl refreshes it with the refresh-token"
               if config.get("refresh-token") else "log in to the identity provider again")
        raise ConfigError(f"the oidc id-token {state}, and preflight does not refresh tokens", source=provider.source,
                          fix=f"{how}, or switch to the kubelogin exec plugin (kubectl oidc-login, https://github.com/int128/kubelogin)")
    return Material(source=f"{provider.source}.config.id-token", data=token.encode())


# -- field helpers -------------------------------------------------------------------------


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""  # types were checked when the file was loaded


def _named_list(
    doc: Mapping[str, Any], section: str, inner: str, origin: Path
) -> list[tuple[str, Mapping[str, Any]]]:
    items = doc.get(section)
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError(f"{section} must be a list", source=str(origin))
    out: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f"{section}[{i}] needs a name", source=str(origin))
        name = item["name"]
        if name in seen:
            # client-go refuses the file (tools/clientcmd/api/v1/conversion.go: 'duplicate name
            # "x" in list'); its message prints the whole list, credentials included: ours does not.
            raise ConfigError(f"{section} defines {name!r} twice; kubectl refuses the file", source=str(origin),
                              fix="keep one of them")
        seen.add(name)
        body = {} if item.get(inner) is None else item[inner]
        _check(body, _SPECS[section], f"{section}[{name}].{inner}", origin)
        out.append((name, body))
    return out


def _resolve(origin: Path, ref: str) -> Path:
    """``ref`` as client-go resolves it (loader.go ResolvePaths): an absolute path as it is, a
    relative one joined to the folder of the file that holds it. No ``~`` expansion: kubectl
    looks for a folder named ``~`` there, and so do we."""
    if os.path.isabs(ref):
        return Path(ref)
    return Path(os.path.normpath(os.path.join(os.path.abspath(origin.parent), ref)))


def _material(body: Mapping[str, Any], origin: Path, where: str, data_key: str, file_key: str) -> Material | None:
    inline, ref = body.get(data_key), body.get(file_key)
    if inline and ref:
        return Material(
            source=f"{origin}: {where}",
            problem=f"both {data_key} and {file_key} are set; kubectl refuses this, keep one",
        )
    if inline:
        source = f"{origin}: {where}.{data_key}"
        try:
            return Material(source=source, data=base64.b64decode(inline.strip(), validate=True))
        except (binascii.Error, ValueError):
            return Material(source=source, problem="is not valid base64")
    if ref:
        return _read_reference(_resolve(origin, ref), f"{origin}: {where}.{file_key}")
    return None


def _read_reference(path: Path, field_source: str) -> Material:
    try:
        return Material(source=str(path), data=path.read_bytes(), path=path)
    except FileNotFoundError:
        return Material(source=field_source, path=path, problem=f"refers to {path}, which does not exist")
    except OSError as exc:
        return Material(source=field_source, path=path, problem=f"refers to {path}, which cannot be read ({exc.strerror})")


def _check_server(server: str, origin: Path, where: str) -> None:
    """kubectl turns ``server`` into a URL before any request (rest.DefaultServerURL: "host must
    be a URL or a host:port pair"); a bad port fails its dial. Both are one ConfigError here."""
    from ._urls import split_url

    if not server.startswith(("https://", "http://")):
        raise ConfigError(f"server {redact_url(server)!r} is not an http(s) URL", source=str(origin))
    if split_url(server) is None:
        raise ConfigError(f"server {redact_url(server)!r} is not a valid URL (scheme://host[:port], port 1-65535)",
                          source=f"{origin}: {where}.server",
                          fix="fix the address; an IPv6 host goes in brackets: https://[::1]:6443")


def _check_proxy_url(proxy_url: str, origin: Path, where: str) -> None:
    """kubectl refuses a proxy-url it cannot parse or whose scheme is not http, https or socks5
    (tools/clientcmd/validation.go validateClusterInfo: "invalid 'proxy-url'"). Never quoted:
    it may carry a password."""
    from ._urls import split_url

    try:
        scheme = urlsplit(proxy_url).scheme
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https", "socks5") or split_url(proxy_url) is None:
        raise ConfigError("is not a valid proxy URL (kubectl needs http://, https:// or socks5:// HOST[:PORT])",
                          source=f"{origin}: {where}.proxy-url")


def _cluster(name: str, entry: _Entry) -> ClusterEntry:
    body, origin = entry.body, entry.origin
    where = f"clusters[{name}].cluster"
    server = _str(body.get("server"))
    if not server:
        raise ConfigError(f"{where}.server is empty", source=str(origin), fix="set the API server URL")
    _check_server(server, origin, where)
    proxy_url = _str(body.get("proxy-url"))
    if proxy_url:
        _check_proxy_url(proxy_url, origin, where)
    extensions = {e.get("name"): e.get("extension") for e in body.get("extensions") or [] if isinstance(e, dict)}
    return ClusterEntry(
        name=name,
        server=server,
        ca=_material(body, origin, where, "certificate-authority-data", "certificate-authority"),
        insecure=body.get("insecure-skip-tls-verify") is True,
        tls_server_name=_str(body.get("tls-server-name")),
        proxy_url=proxy_url,
        exec_config=extensions.get(EXEC_EXTENSION),
    )


def _token(body: Mapping[str, Any], origin: Path, where: str) -> Material | None:
    """``tokenFile`` wins over ``token`` when it can be read and is not empty: client-go keeps
    both (tools/clientcmd/client_config.go getUserIdentificationPartialConfig) and its bearer
    round tripper re-reads the file for every request, falling back to ``token`` only when that
    fails (transport/round_trippers.go NewBearerAuthWithRefreshRoundTripper, file content trimmed)."""
    inline, ref = _str(body.get("token")), _str(body.get("tokenFile"))
    from_inline = Material(source=f"{origin}: {where}.token", data=inline.strip().encode()) if inline else None
    if not ref:
        return from_inline
    read = _read_reference(_resolve(origin, ref), f"{origin}: {where}.tokenFile")
    if read.data is not None and read.data.strip():
        return Material(source=read.source, data=read.data.strip(), path=read.path)
    if from_inline is not None:
        return from_inline
    if read.data is not None:
        return Material(source=f"{origin}: {where}.tokenFile", path=read.path, problem=f"refers to {read.path}, which is empty")
    return read


def _impersonation(body: Mapping[str, Any], user: str, origin: Path, where: str) -> Impersonation | None:
    name, uid = _str(body.get("as")), _str(body.get("as-uid"))
    groups = tuple(_str(g) for g in body.get("as-groups") or ())
    extra = tuple((str(k), tuple(_str(v) for v in values or ())) for k, values in (body.get("as-user-extra") or {}).items())
    if name:
        return Impersonation(user=name, uid=uid, groups=groups, extra=extra)
    if uid or groups or extra:  # tools/clientcmd/validation.go validateAuthInfo, in its words
        raise ConfigError(f"requesting uid, groups or user-extra for {user} without impersonating a user",
                          source=f"{origin}: {where}", fix="add 'as: USER', or drop as-uid, as-groups and as-user-extra")
    return None


def _credentials(name: str, entry: _Entry | None) -> Credentials:
    if entry is None:  # kubectl treats an undefined user as anonymous
        return Credentials(user=name)
    body, origin = entry.body, entry.origin
    where = f"users[{name}].user"
    username, password = _str(body.get("username")), _str(body.get("password"))
    if (username or password) and (body.get("token") or body.get("tokenFile")):
        # validation.go validateAuthInfo (and, for tokenFile, transport/round_trippers.go
        # HTTPWrappersForConfig: "username/password or bearer token may be set, but not both")
        raise ConfigError(f"more than one authentication method found for {name}; found [token basicAuth], only one is allowed",
                          source=f"{origin}: {where}", fix="keep either the token or username/password")
    provider = body.get("auth-provider")
    if provider is not None and body.get("exec") is not None:
        raise ConfigError(f"authProvider cannot be provided in combination with an exec plugin for {name}", source=f"{origin}: {where}")
    return Credentials(
        user=name,
        client_cert=_material(body, origin, where, "client-certificate-data", "client-certificate"),
        client_key=_material(body, origin, where, "client-key-data", "client-key"),
        token=_token(body, origin, where),
        exec=_exec(body.get("exec"), name, origin, where),
        provider=AuthProvider(name=_str(provider.get("name")), source=f"{origin}: {where}.auth-provider",
                              config=dict(provider.get("config") or {})) if provider is not None else None,
        basic=(username, password) if username or password else None,
        impersonate=_impersonation(body, name, origin, where),
    )


def _exec(raw: Mapping[str, Any] | None, user: str, origin: Path, where: str) -> ExecSpec | None:
    """client-go's checks in its words (tools/clientcmd/validation.go validateAuthInfo); the
    interactiveMode default is IfAvailable for v1beta1 only (tools/clientcmd/api/v1/defaults.go)."""
    if raw is None:
        return None
    command, api_version = _str(raw.get("command")), _str(raw.get("apiVersion"))
    mode = _str(raw.get("interactiveMode")) or ("IfAvailable" if api_version == EXEC_API_VERSIONS[1] else "")
    env = raw.get("env") or []
    problems = []
    if not command:
        problems.append(f"command must be specified for {user} to use exec authentication plugin")
    if not api_version:
        problems.append(f"apiVersion must be specified for {user} to use exec authentication plugin")
    if not mode:
        problems.append(f"interactiveMode must be specified for {user} to use exec authentication plugin")
    elif mode not in _INTERACTIVE_MODES:
        problems.append(f"invalid interactiveMode for {user}: {mode!r}")
    if any(not (isinstance(e, dict) and e.get("name")) for e in env):
        problems.append(f"env variable name must be specified for {user} to use exec authentication plugin")
    if problems:
        raise ConfigError("; ".join(problems), source=f"{origin}: {where}.exec",
                          fix="see https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins")
    if api_version not in EXEC_API_VERSIONS:  # plugin/pkg/client/auth/exec/exec.go newAuthenticator
        raise ConfigError(f"exec plugin: invalid apiVersion {api_version!r}", source=f"{origin}: {where}.exec",
                          fix=f"use {EXEC_API_VERSIONS[0]} (or v1beta1) if the plugin speaks it")
    if os.sep in command:
        command = str(_resolve(origin, command))
    return ExecSpec(
        command=command,
        args=tuple(_str(a) for a in raw.get("args") or ()),
        env=tuple((_str(e["name"]), _str(e.get("value"))) for e in env),
        api_version=api_version,
        install_hint=_str(raw.get("installHint")),
        provide_cluster_info=raw.get("provideClusterInfo") is True,
        interactive_mode=mode,
    )
