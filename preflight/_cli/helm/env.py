"""Helm's context, as a Helm CLI plugin receives it, turned into ``preflight check`` options.

A plugin gets helm's global flags only as environment variables: helm removes ``-n``,
``--kube-context``, ``--kubeconfig``, ``--kube-token`` ... from the plugin's argv and sets
HELM_NAMESPACE, HELM_KUBECONTEXT, KUBECONFIG, HELM_KUBETOKEN ... instead (helm/helm v3.21.4
``cmd/helm/load_plugins.go`` ``manuallyProcessArgs``, ``pkg/cli/environment.go`` ``EnvSettings.EnvVars``).
HELM_NAMESPACE is always the resolved one (``-n``, else the context's, else ``default``).

The connection overrides (``--kube-token``, ``--kube-apiserver``, ``--kube-ca-file``,
``--kube-insecure-skip-tls-verify``, ``--kube-tls-server-name``) are honoured as client-go
merges them over the kubeconfig: they replace the fields they name in the chosen context's
cluster and user. preflight reads only kubeconfig files, so the merged context is written to a
private kubeconfig (0600, in a 0700 folder, removed afterwards) and passed by path: the token
is never in an argv. Impersonation (``--kube-as-user``/``--kube-as-group``) is refused: the
gate would check the caller's permissions, not the impersonated user's.

What it does not do: read a kubeconfig's credentials (kube_client does), or talk to a cluster.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from kube_client._errors import ConfigError

__all__ = ["GateTarget", "HelmEnv", "gate_kubeconfig", "merged_kubeconfig"]

# strconv.ParseBool, which helm's envBoolOr uses (pkg/cli/environment.go); anything else is false
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_OVERLAY_CONTEXT = "helm-flags"


@dataclass(frozen=True, kw_only=True)
class HelmEnv:
    """The HELM_* variables that decide where a deploy goes. Empty means "not given"."""

    namespace: str = ""
    context: str = ""
    kubeconfig: str = ""  # an explicit --kubeconfig (direct runs only); KUBECONFIG stays in the env
    token: str = field(default="", repr=False)
    apiserver: str = ""
    ca_file: str = ""
    insecure: bool = False
    tls_server_name: str = ""
    as_user: str = ""
    as_groups: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HelmEnv:
        return cls(
            namespace=environ.get("HELM_NAMESPACE", ""),
            context=environ.get("HELM_KUBECONTEXT", ""),
            token=environ.get("HELM_KUBETOKEN", ""),
            apiserver=environ.get("HELM_KUBEAPISERVER", ""),
            ca_file=environ.get("HELM_KUBECAFILE", ""),
            insecure=environ.get("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "") in _TRUE,
            tls_server_name=environ.get("HELM_KUBETLS_SERVER_NAME", ""),
            as_user=environ.get("HELM_KUBEASUSER", ""),
            as_groups=environ.get("HELM_KUBEASGROUPS", ""),
        )

    def with_flags(self, flags: Mapping[str, str]) -> HelmEnv:
        """These values overridden by helm flags given on the command line (a direct run of
        ``preflight helm upgrade -n shop ...``): a flag wins over the variable, as in helm."""
        names = {"namespace": "namespace", "kube-context": "context", "kubeconfig": "kubeconfig",
                 "kube-token": "token", "kube-apiserver": "apiserver", "kube-ca-file": "ca_file",
                 "kube-tls-server-name": "tls_server_name", "kube-as-user": "as_user", "kube-as-group": "as_groups"}
        changes: dict[str, Any] = {names[k]: v for k, v in flags.items() if k in names}
        if "kube-insecure-skip-tls-verify" in flags:
            changes["insecure"] = flags["kube-insecure-skip-tls-verify"] in _TRUE
        return replace(self, **changes)

    @property
    def overrides_connection(self) -> bool:
        return bool(self.token or self.apiserver or self.ca_file or self.insecure or self.tls_server_name)

    def refuse_unsupported(self) -> None:
        if self.as_user or self.as_groups:
            flag = "--kube-as-user" if self.as_user else "--kube-as-group"
            raise ConfigError(f"helm {flag} (impersonation) is not supported by preflight: it would check your own "
                              "permissions, not the impersonated user's",
                              fix=f"run without {flag}, or gate with a kubeconfig of that user (preflight check --kubeconfig FILE)")


@dataclass(frozen=True, kw_only=True)
class GateTarget:
    """What to pass to ``preflight check`` for the connection: never a secret."""

    kubeconfig: str | None
    context: str | None

    def argv(self) -> list[str]:
        return [*(["--kubeconfig", self.kubeconfig] if self.kubeconfig else []), *(["--context", self.context] if self.context else [])]


@contextlib.contextmanager
def gate_kubeconfig(helm: HelmEnv, environ: Mapping[str, str]) -> Iterator[GateTarget]:
    """The kubeconfig and context the gate uses; with connection overrides, a private merged
    kubeconfig that exists only inside this block."""
    helm.refuse_unsupported()
    if not helm.overrides_connection:
        yield GateTarget(kubeconfig=helm.kubeconfig or None, context=helm.context or None)
        return
    doc = merged_kubeconfig(helm, environ)
    folder = Path(tempfile.mkdtemp(prefix="kube-preflight-helm-"))  # 0700
    try:
        path = folder / "kubeconfig"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(doc, fh)
        yield GateTarget(kubeconfig=str(path), context=doc["current-context"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def merged_kubeconfig(helm: HelmEnv, environ: Mapping[str, str]) -> dict[str, Any]:
    """One self-contained kubeconfig: the chosen context's cluster and user with helm's
    overrides applied the way client-go's DirectClientConfig merges ConfigOverrides."""
    from kube_client._kubeconfig import default_paths, load_kubeconfig

    paths = default_paths(helm.kubeconfig or None, environ)
    cluster: dict[str, Any]
    user: dict[str, Any]
    if not helm.kubeconfig and not any(p.exists() for p in paths):
        if not helm.apiserver:
            raise ConfigError("helm --kube-token (or another --kube-* override) without a kubeconfig needs --kube-apiserver too",
                              fix="pass --kube-apiserver https://HOST:PORT, or a kubeconfig with --kubeconfig")
        name, cluster, user = _OVERLAY_CONTEXT, {"server": helm.apiserver}, {}
    else:
        config = load_kubeconfig(paths, explicit=bool(helm.kubeconfig))
        view = config.context(helm.context or None)
        name = view.name
        cluster_entry = config.clusters[view.cluster.name]
        cluster = _absolute(dict(cluster_entry.body), cluster_entry.origin, ("certificate-authority",))
        user_entry = config.users.get(view.credentials.user)
        user = _absolute(dict(user_entry.body), user_entry.origin, ("client-certificate", "client-key", "tokenFile")) if user_entry else {}
        if isinstance(user.get("exec"), dict):
            user["exec"] = _absolute_exec(dict(user["exec"]), user_entry.origin if user_entry else Path("."))
    if helm.apiserver:
        cluster["server"] = helm.apiserver
    if helm.ca_file:  # an explicit CA also turns verification back on (client-go getCluster)
        cluster["certificate-authority"] = str(Path(helm.ca_file).expanduser().resolve())
        cluster.pop("certificate-authority-data", None)
        cluster.pop("insecure-skip-tls-verify", None)
    elif helm.insecure:  # --insecure with no CA of its own clears the kubeconfig's CA (client-go getCluster)
        cluster.pop("certificate-authority", None)
        cluster.pop("certificate-authority-data", None)
        cluster["insecure-skip-tls-verify"] = True
    if helm.tls_server_name:
        cluster["tls-server-name"] = helm.tls_server_name
    if helm.token:  # the flag's token, not a tokenFile the kubeconfig may name
        user.pop("tokenFile", None)
        user["token"] = helm.token
    context: dict[str, Any] = {"cluster": _OVERLAY_CONTEXT, "user": _OVERLAY_CONTEXT}
    if helm.namespace:
        context["namespace"] = helm.namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "clusters": [{"name": _OVERLAY_CONTEXT, "cluster": cluster}],
        "users": [{"name": _OVERLAY_CONTEXT, "user": user}],
        "contexts": [{"name": name, "context": context}],
    }


def _absolute(body: dict[str, Any], origin: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    # client-go resolves file references against the kubeconfig that names them
    # (ResolveLocalPaths); the copy lives elsewhere, so they are made absolute here.
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value:
            ref = Path(value).expanduser()
            body[key] = str(ref if ref.is_absolute() else (origin.parent / ref).resolve())
    return body


def _absolute_exec(spec: dict[str, Any], origin: Path) -> dict[str, Any]:
    command = spec.get("command")
    if isinstance(command, str) and os.sep in command and not os.path.isabs(command):
        spec["command"] = str((origin.parent / command).resolve())  # only a path is relative; a bare name is PATH's
    return spec
