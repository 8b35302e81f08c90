"""``check --chart``: render a Helm chart offline, as the live cluster would see it, with ``helm template``.

``helm install`` renders with the cluster's ``.Capabilities``: its version and every served
``group/version`` and ``group/version/Kind`` (helm v3 ``pkg/action/action.go`` GetVersionSet,
from client-go's ``ServerGroupsAndResources``). ``helm template`` renders client-only with a
built-in default unless it is given ``--kube-version`` and ``--api-versions``
(``cmd/helm/template.go``; ``pkg/action/install.go`` ClientOnly). We pass both, built from facts
``preflight check`` collects anyway (``/version`` and discovery), so the render is the
cluster's without helm ever connecting to it.

What it deliberately does not do:

- give helm a credential: helm template needs no cluster, so the child gets no kubeconfig, no
  context, no token, and ``KUBECONFIG`` points at an empty file;
- run helm through a shell or without a bound: helm is exec'd with a hard timeout that kills
  its whole process group;
- merge values itself: ``-f`` and ``--set`` go to helm as given, so helm's own merge rules and
  ``--set`` syntax apply. A ``--set`` value is in helm's argv exactly as it is in ours; pass
  secret values with ``-f``;
- use pyhelm3. It did this until its import was measured: 250 ms (pydantic, asyncio), more than
  a whole check, for an argv of six words and a YAML load we do ourselves; and its
  ``Command.run`` had to be replaced anyway (a shell, no timeout, ``--kube-token`` in argv and in
  its log: pyhelm3 0.5.8 ``pyhelm3/command.py``). README, "Design choices".

A limit of helm's, not ours: client-only, helm *adds* ``--api-versions`` to its built-in list
of known versions (``install.go``: ``append(DefaultCapabilities.APIVersions, ...)``), so a
chart testing for an API the cluster no longer serves still sees it; ``auth.permissions``
then reports the kind as not served.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kube_client._errors import ConfigError

from .._facts.manifests import ManifestKind, kinds_of, load_objects

__all__ = [
    "AGGREGATED_DISCOVERY",
    "ApiCatalog",
    "ChartSource",
    "catalog_from_aggregated",
    "catalog_from_legacy",
    "helm_executable",
    "helm_major_of_env",
    "render_kinds",
    "render_objects",
]

# client-go asks for aggregated discovery first, plain JSON as the fallback
# (discovery/discovery_client.go, acceptDiscoveryFormats = AcceptV2 + "," + AcceptV1).
AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

# Environment variables through which helm would find a cluster or a credential
# (pkg/cli/environment.go): none of them is needed to render, so the child gets none.
_CLUSTER_ENV = ("KUBECONFIG", "HELM_KUBECONTEXT", "HELM_KUBETOKEN", "HELM_KUBEASUSER", "HELM_KUBEASGROUPS",
                "HELM_KUBEAPISERVER", "HELM_KUBECAFILE", "HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "HELM_KUBETLS_SERVER_NAME")
_MAX_ERROR = 240
# However little of the run's deadline is left, helm template gets this long before it is killed.
# A module constant so the unit test of the kill can use a shorter one than a real run would.
HELM_MIN_SECONDS = 1.0


@dataclass(frozen=True, kw_only=True)
class ChartSource:
    """What to render: a local chart (folder or .tgz), values files and --set overrides."""

    path: str
    values_files: tuple[str, ...] = ()
    # ("set" | "set-string" | "set-file" | "set-json" | "set-literal", "KEY=VALUE"): helm applies
    # each kind in its own fixed order after the files (pkg/cli/values/options.go MergeValues)
    set_args: tuple[tuple[str, str], ...] = ()
    release: str = "release-name"  # helm template's own default name
    namespace: str = "default"
    helm: str = ""  # the helm executable; "" = look it up when rendering

    def validate(self) -> None:
        """Refuse a missing chart or values file before any network work (exit 2)."""
        if not Path(self.path).exists():
            raise ConfigError(f"chart {self.path} does not exist", source="--chart", fix="pass a chart folder or .tgz")
        for values in self.values_files:
            if not Path(values).exists() or Path(values).is_dir() or not os.access(values, os.R_OK):  # /dev/null is fine, as for helm
                raise ConfigError(f"values file {values} cannot be read", source="-f")
        for flag, item in self.set_args:
            if "=" not in item.lstrip("="):
                raise ConfigError(f"{item.split('=')[0]!r} has no value: use KEY=VALUE", source=f"--{flag}")

    def helm_args(self) -> list[str]:
        """The user's values for helm, in their order (helm applies files, then --set)."""
        args: list[str] = []
        for values in self.values_files:
            args += ["--values", values]
        for flag, item in self.set_args:
            args += [f"--{flag}", item]
        return args


@dataclass(frozen=True, kw_only=True)
class ApiCatalog:
    """What the server serves, as helm's Capabilities.APIVersions and as REST resources."""

    version_set: tuple[str, ...]  # "apps/v1" and "apps/v1/Deployment", sorted
    resources: Mapping[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)  # (apiVersion, Kind) -> (resource, namespaced)
    aggregated: bool = True


def _gv(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def catalog_from_aggregated(*lists: Mapping[str, Any]) -> ApiCatalog:
    """From APIGroupDiscoveryList documents (``/api`` and ``/apis``), the way client-go's
    SplitGroupsAndResources reads them (discovery/aggregated_discovery.go): stale versions are
    left out, subresources count with their own Kind (``apps/v1/Scale``), and helm's
    GetVersionSet joins the listing's group/version with each Kind."""
    versions: set[str] = set()
    resources: dict[tuple[str, str], tuple[str, bool]] = {}
    for doc in lists:
        for group in doc.get("items") or []:
            name = str((group.get("metadata") or {}).get("name") or "")
            for version in group.get("versions") or []:
                if version.get("freshness") == "Stale":
                    continue
                gv = _gv(name, str(version.get("version") or ""))
                versions.add(gv)
                for res in version.get("resources") or []:
                    kind = (res.get("responseKind") or {}).get("kind")
                    if kind:
                        versions.add(f"{gv}/{kind}")
                        resources.setdefault((gv, str(kind)), (str(res.get("resource") or ""), res.get("scope") != "Cluster"))
                    for sub in res.get("subresources") or []:
                        sub_kind = (sub.get("responseKind") or {}).get("kind")
                        if sub_kind:
                            versions.add(f"{gv}/{sub_kind}")
    return ApiCatalog(version_set=tuple(sorted(versions)), resources=resources, aggregated=True)


def catalog_from_legacy(resource_lists: Iterable[Mapping[str, Any]], group_versions: Iterable[str] = ()) -> ApiCatalog:
    """From APIResourceList documents (one per group/version; servers before aggregated
    discovery, GA in 1.30): the same set, built as GetVersionSet builds it."""
    versions: set[str] = set(group_versions)
    resources: dict[tuple[str, str], tuple[str, bool]] = {}
    for doc in resource_lists:
        gv = str(doc.get("groupVersion") or "")
        if not gv:
            continue
        versions.add(gv)
        for res in doc.get("resources") or []:
            kind, name = res.get("kind"), str(res.get("name") or "")
            if not kind:
                continue
            versions.add(f"{gv}/{kind}")
            if "/" not in name:
                resources.setdefault((gv, str(kind)), (name, bool(res.get("namespaced", True))))
    return ApiCatalog(version_set=tuple(sorted(versions)), resources=resources, aggregated=False)


def helm_executable(environ: Mapping[str, str] | None = None) -> str:
    """``$HELM_BIN`` (what helm itself exports to plugins), else ``helm`` on PATH."""
    env = os.environ if environ is None else environ
    wanted = env.get("HELM_BIN") or "helm"
    found = shutil.which(wanted, path=env.get("PATH"))
    if found is None:
        where = "HELM_BIN" if env.get("HELM_BIN") else "PATH"
        raise ConfigError(f"helm not found ({wanted!r} from {where})", source="--chart",
                          fix="install helm, or set HELM_BIN to its path")
    return found


def helm_major_of_env() -> int:
    """The major version of ``$HELM_BIN``, else 3 (also when it cannot be asked)."""
    helm = os.environ.get("HELM_BIN")
    if not helm:
        return 3
    try:
        out = subprocess.run([helm, "version", "--template", "{{.Version}}"], capture_output=True, text=True, timeout=5,
                             check=False, env=_child_env()).stdout
    except (OSError, subprocess.SubprocessError):
        return 3
    return 4 if out.strip().startswith("v4.") else 3


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLUSTER_ENV}
    env["KUBECONFIG"] = os.devnull  # nothing to find: the render must not depend on a cluster
    return env


def helm_error_line(stderr: bytes, *, secrets: Sequence[str] = ()) -> str:
    """helm's own ``Error: ...`` line, trimmed, with the user's --set values masked."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    line = next((x for x in lines if x.startswith("Error:")), lines[-1] if lines else "no error message")
    line = line.removeprefix("Error:").strip()
    for value in secrets:
        if len(value) >= 3:
            line = line.replace(value, "***")
    flat = " ".join(line.split())
    return flat if len(flat) <= _MAX_ERROR else flat[: _MAX_ERROR - 3] + "..."


class HelmFailed(Exception):
    """helm template exited non-zero; ``line`` is safe to print."""

    def __init__(self, line: str) -> None:
        self.line = line
        super().__init__(line)


class HelmTimedOut(HelmFailed):
    """helm template did not finish in time (it was killed)."""


def _helm_template(argv: list[str], *, timeout: float, secrets: list[str]) -> str:
    """helm's stdout: exec'd without a shell, in its own session so a timeout kills helm and
    anything it started, with no cluster in its environment."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(),
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise HelmTimedOut(f"did not finish within {timeout:g}s") from None
    if proc.returncode != 0:
        raise HelmFailed(helm_error_line(stderr, secrets=secrets))
    return stdout.decode(errors="replace")


def render_kinds(source: ChartSource, *, kube_version: str, catalog: ApiCatalog, timeout: float) -> tuple[ManifestKind, ...]:
    """Render ``source`` and return its distinct kinds (see ``render_objects``)."""
    objects = render_objects(source, kube_version=kube_version, catalog=catalog, timeout=timeout)
    return kinds_of(objects, source=f"helm template {source.path}")


def render_objects(source: ChartSource, *, kube_version: str, catalog: ApiCatalog, timeout: float) -> list[Mapping[str, Any]]:
    """Render ``source`` with helm template (hooks included, ``crds/`` left out, as plain
    ``helm template`` does) and return its objects. ConfigError (exit 2) when helm is
    missing, the chart does not render, or helm overruns ``timeout``."""
    helm = source.helm or helm_executable()
    argv = [helm, "template", source.release, source.path, "--skip-crds", "--namespace", source.namespace, "--kube-version", kube_version]
    if catalog.version_set:
        argv += ["--api-versions", ",".join(catalog.version_set)]
    argv += source.helm_args()  # last, in the user's order: helm applies the files, then --set
    secrets = [item.partition("=")[2] for _, item in source.set_args]
    label = f"helm template {source.path}"
    try:
        text = _helm_template(argv, timeout=max(HELM_MIN_SECONDS, timeout), secrets=secrets)
    except HelmTimedOut as exc:
        raise ConfigError(f"helm {exc.line} and was stopped", source=label, fix="raise --timeout, or check what the chart's helm does") from None
    except HelmFailed as exc:
        raise ConfigError(f"the chart does not render: {exc.line}", source=label,
                          fix="fix the chart or its values; helm template shows the same error") from None
    except OSError as exc:
        raise ConfigError(f"cannot run {helm}: {exc.strerror}", source="--chart", fix="check HELM_BIN") from None
    objects = load_objects(text, source=label)
    kinds_of(objects, source=label)  # the same refusals as --manifests (no objects, bad metadata)
    return objects
