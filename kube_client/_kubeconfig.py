"""Read kubeconfig files the way kubectl and Helm do, without talking to a cluster.

Loading follows client-go's ``ClientConfigLoadingRules.Load`` (tools/clientcmd/loader.go):
``--kubeconfig`` names one file that must exist; otherwise every file in ``KUBECONFIG``
(missing ones skipped) is merged, the first file to define a cluster, user, context or
``current-context`` winning; otherwise ``~/.kube/config``. File references are relative to
the file that defines them (``ResolveLocalPaths``); an exec command is resolved that way
only when it contains a path separator.

Credential fields are decoded when a context is *resolved*, not when the file is loaded, so a
broken user entry only matters to the contexts that use it. A reference that cannot be read
is kept as a ``Material`` with a ``problem`` (the audit reports it); ``require()`` turns it
into a ``ConfigError`` for commands that need the bytes.

What this module does not do: run exec plugins, open sockets, or print secrets. Token and key
bytes are excluded from ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._errors import ConfigError

__all__ = [
    "ClusterEntry",
    "ContextView",
    "Credentials",
    "ExecSpec",
    "KubeConfig",
    "Material",
    "decode_jwt_claims",
    "default_paths",
    "load_kubeconfig",
]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    """A client-go credential plugin (``users[].user.exec``)."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    api_version: str = "client.authentication.k8s.io/v1"
    install_hint: str = ""
    provide_cluster_info: bool = False


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """How a context authenticates. Several may be set; the API server sees all of them."""

    user: str
    client_cert: Material | None = None
    client_key: Material | None = None
    token: Material | None = None
    exec: ExecSpec | None = None
    auth_provider: str | None = None
    basic_auth: bool = False

    @property
    def kind(self) -> str:
        if self.client_cert is not None:
            return "client-certificate"
        if self.token is not None:
            return "token"
        if self.exec is not None:
            return "exec"
        if self.auth_provider is not None:
            return "auth-provider"
        if self.basic_auth:
            return "basic"
        return "none"


@dataclass(frozen=True, kw_only=True)
class ClusterEntry:
    name: str
    server: str
    ca: Material | None = None
    insecure: bool = False
    tls_server_name: str = ""
    proxy_url: str = ""


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
        cluster_name = _text(ctx.get("cluster"), entry.origin, f"contexts[{chosen}].context.cluster")
        user_name = _text(ctx.get("user"), entry.origin, f"contexts[{chosen}].context.user")
        if cluster_name not in self.clusters:
            raise ConfigError(
                f"context {chosen!r} names cluster {cluster_name!r}, which is not defined", source=where
            )
        return ContextView(
            name=chosen,
            cluster=_cluster(cluster_name, self.clusters[cluster_name]),
            credentials=_credentials(user_name, self.users.get(user_name)),
            namespace=_text(ctx.get("namespace"), entry.origin, f"contexts[{chosen}].context.namespace"),
            origin=entry.origin,
        )


def default_paths(explicit: str | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The files to load, in precedence order, as kubectl picks them."""
    env = os.environ if environ is None else environ
    if explicit:
        return [Path(explicit).expanduser()]
    if env.get("KUBECONFIG"):
        return [Path(p).expanduser() for p in env["KUBECONFIG"].split(os.pathsep) if p]
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
        current = current or _text(doc.get("current-context"), path, "current-context")
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
    return doc


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


# -- field helpers -------------------------------------------------------------------------


def _text(value: Any, origin: Path, field_path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{field_path} must be a string", source=str(origin))


def _named_list(
    doc: Mapping[str, Any], section: str, inner: str, origin: Path
) -> list[tuple[str, Mapping[str, Any]]]:
    items = doc.get(section) or []
    if not isinstance(items, list):
        raise ConfigError(f"{section} must be a list", source=str(origin))
    out: list[tuple[str, Mapping[str, Any]]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f"{section}[{i}] needs a name", source=str(origin))
        body = item.get(inner) or {}
        if not isinstance(body, dict):
            raise ConfigError(f"{section}[{item['name']}].{inner} must be a mapping", source=str(origin))
        out.append((item["name"], body))
    return out


def _material(body: Mapping[str, Any], origin: Path, where: str, data_key: str, file_key: str) -> Material | None:
    inline, ref = body.get(data_key), body.get(file_key)
    if inline and ref:
        return Material(
            source=f"{origin}: {where}",
            problem=f"both {data_key} and {file_key} are set; kubectl refuses this, keep one",
        )
    if inline:
        source = f"{origin}: {where}.{data_key}"
        if not isinstance(inline, str):
            return Material(source=source, problem="must be a base64 string")
        try:
            return Material(source=source, data=base64.b64decode(inline.strip(), validate=True))
        except (binascii.Error, ValueError):
            return Material(source=source, problem="is not valid base64")
    if ref:
        if not isinstance(ref, str):
            return Material(source=f"{origin}: {where}.{file_key}", problem="must be a path")
        path = Path(ref).expanduser()
        if not path.is_absolute():
            path = origin.parent / path
        return _read_reference(path, f"{origin}: {where}.{file_key}")
    return None


def _read_reference(path: Path, field_source: str) -> Material:
    try:
        return Material(source=str(path), data=path.read_bytes(), path=path)
    except FileNotFoundError:
        return Material(source=field_source, path=path, problem=f"refers to {path}, which does not exist")
    except OSError as exc:
        return Material(source=field_source, path=path, problem=f"refers to {path}, which cannot be read ({exc.strerror})")


def _cluster(name: str, entry: _Entry) -> ClusterEntry:
    body, origin = entry.body, entry.origin
    where = f"clusters[{name}].cluster"
    server = _text(body.get("server"), origin, f"{where}.server")
    if not server:
        raise ConfigError(f"{where}.server is empty", source=str(origin), fix="set the API server URL")
    return ClusterEntry(
        name=name,
        server=server,
        ca=_material(body, origin, where, "certificate-authority-data", "certificate-authority"),
        insecure=body.get("insecure-skip-tls-verify") is True,
        tls_server_name=_text(body.get("tls-server-name"), origin, f"{where}.tls-server-name"),
        proxy_url=_text(body.get("proxy-url"), origin, f"{where}.proxy-url"),
    )


def _credentials(name: str, entry: _Entry | None) -> Credentials:
    if entry is None:  # kubectl treats an undefined user as anonymous
        return Credentials(user=name)
    body, origin = entry.body, entry.origin
    where = f"users[{name}].user"
    token: Material | None = None
    if body.get("token"):
        token = Material(source=f"{origin}: {where}.token", data=str(body["token"]).strip().encode())
    elif body.get("tokenFile"):
        ref = Path(str(body["tokenFile"])).expanduser()
        token = _read_reference(ref if ref.is_absolute() else origin.parent / ref, f"{origin}: {where}.tokenFile")
    provider = body.get("auth-provider")
    return Credentials(
        user=name,
        client_cert=_material(body, origin, where, "client-certificate-data", "client-certificate"),
        client_key=_material(body, origin, where, "client-key-data", "client-key"),
        token=token,
        exec=_exec(body.get("exec"), origin, where),
        auth_provider=str(provider.get("name", "unnamed")) if isinstance(provider, dict) else None,
        basic_auth=bool(body.get("username") or body.get("password")),
    )


def _exec(raw: Any, origin: Path, where: str) -> ExecSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("command"), str) or not raw["command"]:
        raise ConfigError(f"{where}.exec needs a command", source=str(origin))
    command = raw["command"]
    if os.sep in command and not os.path.isabs(command):
        command = str(origin.parent / command)
    args = raw.get("args") or []
    env = raw.get("env") or []
    if not isinstance(args, list) or not isinstance(env, list):
        raise ConfigError(f"{where}.exec args and env must be lists", source=str(origin))
    return ExecSpec(
        command=command,
        args=tuple(str(a) for a in args),
        env=tuple((str(e.get("name", "")), str(e.get("value", ""))) for e in env if isinstance(e, dict)),
        api_version=str(raw.get("apiVersion") or "client.authentication.k8s.io/v1"),
        install_hint=str(raw.get("installHint") or ""),
        provide_cluster_info=raw.get("provideClusterInfo") is True,
    )
