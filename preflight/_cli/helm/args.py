"""Split a ``helm upgrade|install`` command line into what the gate needs and what helm gets.

Helm's own arguments are forwarded unchanged; this module only reads them, the way pflag
would, to find the release, the namespace and the kube flags the gate must use too. The one
thing it removes is ``--preflight-<option>``: an option for the gate (``--preflight-timeout
30s`` is ``preflight check --timeout 30s``), which helm would refuse as unknown.

To read a command line as pflag does one must know which flags take a separate value
(``-f values.yaml``). The table below is the union over helm v3.21.4 and v4.3.2 (a cluster
test compares it with both binaries' ``--help``). A flag it does not know (a newer helm) makes
the positions after it uncertain; then the release is not guessed, and ``why_no_release`` says
so, rather than checking the wrong release.

What it does not do: validate helm's arguments (helm does that), or run anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kube_client._errors import ConfigError

__all__ = ["GATE_PREFIX", "DeployArgs", "split_deploy_args", "split_gate_options"]

# Long flags of `helm install` and `helm upgrade` (and helm's global flags) that take a
# separate value, from `--help` of v3.21.4 and v4.3.2: pflag prints a type word after a value
# flag. Flags printed as `type[=default]` (--dry-run, v4's --wait) take a value only as
# --flag=value, so they are listed with the booleans.
VALUE_FLAGS = frozenset({
    "burst-limit", "ca-file", "cert-file", "color", "colour", "content-cache", "description", "history-max",
    "key-file", "keyring", "kube-apiserver", "kube-as-group", "kube-as-user", "kube-ca-file", "kube-context",
    "kube-tls-server-name", "kube-token", "kubeconfig", "labels", "name-template", "namespace", "output",
    "password", "post-renderer", "post-renderer-args", "qps", "registry-config", "repo", "repository-cache",
    "repository-config", "set", "set-file", "set-json", "set-literal", "set-string", "timeout", "username",
    "values", "version",
})
# v4's `upgrade --server-side` is a string ("auto"); v4's `install --server-side` is a bool.
VALUE_FLAGS_OF = {"upgrade": frozenset({"server-side"}), "install": frozenset()}
BOOL_FLAGS = frozenset({
    "atomic", "cleanup-on-fail", "create-namespace", "debug", "dependency-update", "devel",
    "disable-openapi-validation", "dry-run", "enable-dns", "force", "force-conflicts", "force-replace",
    "generate-name", "help", "hide-notes", "hide-secret", "insecure-skip-tls-verify", "install",
    "kube-insecure-skip-tls-verify", "no-hooks", "pass-credentials", "plain-http", "recreate-pods",
    "render-subchart-notes", "replace", "reset-then-reuse-values", "reset-values", "reuse-values",
    "rollback-on-failure", "server-side", "skip-crds", "skip-schema-validation", "take-ownership", "verify",
    "wait", "wait-for-jobs",
})
SHORT_VALUE = {"f": "values", "l": "labels", "n": "namespace", "o": "output"}
SHORT_BOOL = {"g": "generate-name", "h": "help", "i": "install"}
# Helm's global flags the gate must follow; via `helm preflight ...` helm has already moved
# them into HELM_* variables (helm/helm v3 cmd/helm/load_plugins.go manuallyProcessArgs), so they appear here only when
# `preflight helm upgrade` is run directly.
KUBE_FLAGS = ("namespace", "kube-context", "kubeconfig", "kube-token", "kube-apiserver", "kube-ca-file",
              "kube-tls-server-name", "kube-insecure-skip-tls-verify", "kube-as-user", "kube-as-group")
GATE_PREFIX = "--preflight-"
# The flags that give the chart its values: the gate renders the chart with them too.
VALUES_FLAGS = ("values", "set", "set-string", "set-file", "set-json", "set-literal")
# Helm's release-name rule (pkg/chartutil ValidateReleaseName: a DNS-1123 subdomain, at most 53).
_RELEASE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True, kw_only=True)
class DeployArgs:
    command: str  # "upgrade" or "install"
    helm_args: tuple[str, ...] = field(repr=False)  # forwarded to helm as given, minus --preflight-* (a direct run may hold --kube-token)
    gate_args: tuple[str, ...]  # `preflight check` options from --preflight-*
    release: str | None
    why_no_release: str  # "" when there is none to find (install --generate-name)
    kube: Mapping[str, str] = field(default_factory=dict, repr=False)  # KUBE_FLAGS seen (may hold a token)
    create_namespace: bool = False
    timeout: str | None = None
    chart: str | None = None  # the chart argument as given (a path, repo/name or oci:// reference)
    # -f/--values and the --set family, as (long flag, value) in the order given: helm applies
    # files first, then each --set kind in its own fixed order (pkg/cli/values/options.go MergeValues)
    values: tuple[tuple[str, str], ...] = field(default=(), repr=False)


def split_gate_options(args: Sequence[str], gate_flags: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(the other args, the gate's options) for ``--preflight-X[=V]``. ``gate_flags`` maps each
    ``preflight check`` long option (without dashes) to "flag", "value" or "optional" (a value
    only as ``=V``, like ``--node``)."""
    rest: list[str] = []
    gate: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            rest.extend(args[i - 1:])
            break
        if not arg.startswith(GATE_PREFIX):
            rest.append(arg)
            continue
        name, eq, value = arg[len(GATE_PREFIX):].partition("=")
        kind = gate_flags.get(name)
        if kind is None:
            known = ", ".join(GATE_PREFIX + n for n in sorted(gate_flags))
            raise ConfigError(f"{GATE_PREFIX}{name} is not a preflight check option", fix=f"use one of {known}")
        if kind == "flag" and eq:
            raise ConfigError(f"{GATE_PREFIX}{name} takes no value", fix=f"write {GATE_PREFIX}{name} alone")
        if kind == "value" and not eq:
            if i >= len(args):
                raise ConfigError(f"{GATE_PREFIX}{name} needs a value", fix=f"{GATE_PREFIX}{name} VALUE")
            value, i = args[i], i + 1
            eq = "="
        gate.extend([f"--{name}", value] if eq else [f"--{name}"])
    return rest, gate


def split_deploy_args(command: str, args: Sequence[str], gate_flags: Mapping[str, str]) -> DeployArgs:
    """Read ``helm <command> ARGS`` as pflag would; see the module docstring."""
    helm_args, gate_args = split_gate_options(args, gate_flags)
    value_flags = VALUE_FLAGS | VALUE_FLAGS_OF.get(command, frozenset())
    seen: dict[str, list[str]] = {}  # long flag -> values, in order
    values: list[tuple[str, str]] = []  # (flag, value) of the value flags, across kinds, in order
    positional: list[str] = []
    uncertain = ""  # the first unknown flag: positions after it are guesses
    i = 0
    while i < len(helm_args):
        arg = helm_args[i]
        i += 1
        if arg == "--":
            positional.extend(helm_args[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in value_flags and not eq and i < len(helm_args):
                value, i = helm_args[i], i + 1
            elif name not in value_flags and name not in BOOL_FLAGS and not eq:
                uncertain = uncertain or arg
            seen.setdefault(name, []).append(value if (eq or name in value_flags) else "true")
            if name in VALUES_FLAGS:
                values.append((name, value))
        elif arg.startswith("-") and len(arg) > 1:
            # pflag shorthands: -i, -n shop, -nshop, -n=shop, and bools run together (-ig)
            for pos, letter in enumerate(arg[1:], start=1):
                if letter in SHORT_VALUE:
                    value = arg[pos + 1:].removeprefix("=")
                    if not value and i < len(helm_args):
                        value, i = helm_args[i], i + 1
                    seen.setdefault(SHORT_VALUE[letter], []).append(value)
                    if SHORT_VALUE[letter] in VALUES_FLAGS:
                        values.append((SHORT_VALUE[letter], value))
                    break
                if letter in SHORT_BOOL:
                    seen.setdefault(SHORT_BOOL[letter], []).append("true")
                else:
                    uncertain = uncertain or arg
                    break
        else:
            positional.append(arg)
    release, why = _release(command, positional, seen, uncertain)
    timeout = seen["timeout"][-1] if seen.get("timeout") else None
    return DeployArgs(
        command=command,
        helm_args=tuple(helm_args),
        gate_args=tuple(gate_args),
        release=release,
        why_no_release=why,
        # a repeated --kube-as-group adds a group; any other flag's last value wins, as in pflag
        kube={name: ",".join(seen[name]) if name == "kube-as-group" else seen[name][-1] for name in KUBE_FLAGS if name in seen},
        create_namespace=_truthy(seen.get("create-namespace")),
        timeout=timeout,
        chart=_chart(command, positional, seen, uncertain),
        values=tuple(values),
    )


def _truthy(values: list[str] | None) -> bool:
    return bool(values) and values[-1].lower() in ("true", "1", "t")  # type: ignore[index]


def _chart(command: str, positional: list[str], seen: Mapping[str, list[str]], uncertain: str) -> str | None:
    """``upgrade RELEASE CHART``, ``install NAME CHART`` or ``install CHART --generate-name``."""
    index = 0 if command == "install" and _truthy(seen.get("generate-name")) else 1
    return positional[index] if len(positional) > index and not uncertain else None


def _release(command: str, positional: list[str], seen: Mapping[str, list[str]], uncertain: str) -> tuple[str | None, str]:
    if command == "install" and (_truthy(seen.get("generate-name")) or len(positional) < 2):
        return None, ""  # `install CHART --generate-name`: helm picks the name
    if not positional:
        return None, "no release name in the helm arguments"
    if uncertain:
        return None, f"cannot tell the release name: helm flag {uncertain} is unknown to preflight"
    name = positional[0]
    if len(name) > 53 or not _RELEASE.fullmatch(name):
        return None, f"{name!r} is not a valid release name"
    return name, ""
