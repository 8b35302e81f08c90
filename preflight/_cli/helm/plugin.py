"""``helm preflight check|upgrade|install``: the gate with Helm's context, then helm itself.

``check`` is ``preflight check`` with the namespace, context and kubeconfig helm would use,
its report on stdout like the command's. ``upgrade``/``install`` run the same gate for the
release's namespace with the report on stderr (stdout belongs to helm: ``-o json`` must stay
parseable). When it is ready (exit 0) the process becomes ``$HELM_BIN <command> ARGS...``
(``exec``), so helm's output, signals and exit code are helm's own. When it is not, helm is
never started and the exit code is preflight's (1 not ready, 2 could not run); helm passes a
plugin's exit code on (helm/helm ``cmd/helm/helm.go`` ``main``, v3 and v4: a plugin error
exits with the plugin's code).

Forwarding needs nothing but the environment: helm moved its global flags into HELM_*
variables for the plugin (helm v3 ``cmd/helm/load_plugins.go`` ``manuallyProcessArgs``,
``callPluginExecutable``), and a new helm reads the same variables back as the flags' defaults
(helm v3.21.4 and v4.3.2 ``pkg/cli/environment.go`` ``New()``: HELM_NAMESPACE,
HELM_KUBECONTEXT, HELM_KUBETOKEN, HELM_KUBEAPISERVER, ... via os.Getenv). So a token given as
``--kube-token`` reaches the child helm without ever being in an argv.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import click

from kube_client._errors import ConfigError

from .args import DeployArgs, split_deploy_args
from .env import HelmEnv, gate_kubeconfig

__all__ = ["Gate", "gate_flags", "run_check", "run_deploy"]

Exec = Callable[[str, list[str], Mapping[str, str]], object]
# ``preflight ARGV`` in-process, returning its exit code. The CLI hands itself in (cli/main.py
# is the composition root), so nothing under helm/ imports the CLI that registers it.
Gate = Callable[[list[str]], int]


def gate_flags(check: click.Command) -> dict[str, str]:
    """``preflight check``'s long options: "flag", "value" or "optional" (``--node[=DIR]``, an
    option that is not a flag but has a value when given bare)."""
    flags: dict[str, str] = {}
    for param in check.params:
        if not isinstance(param, click.Option):
            continue
        kind = "flag" if param.is_flag else ("optional" if isinstance(param.flag_value, str) else "value")
        for opt in (*param.opts, *param.secondary_opts):
            if opt.startswith("--"):
                flags[opt[2:]] = kind
    return flags


def run_check(args: Sequence[str], environ: Mapping[str, str], gate: Gate) -> int:
    """``helm preflight check [preflight check options]``; the caller's options come last, so
    they win over what helm's context says."""
    helm = HelmEnv.from_environ(environ)
    with gate_kubeconfig(helm, environ) as target:
        namespace = ["--namespace", helm.namespace] if helm.namespace else []
        return gate(["check", *target.argv(), *namespace, *args])


def run_deploy(command: str, args: Sequence[str], environ: Mapping[str, str], *, gate: Gate, check: click.Command,
               exec_helm: Exec = os.execvpe) -> int:
    """``helm preflight upgrade|install ARGS``: gate, then exec helm with ARGS unchanged."""
    deploy = split_deploy_args(command, args, gate_flags(check))
    helm = HelmEnv.from_environ(environ).with_flags(deploy.kube)
    gate_args = [*(["--namespace", helm.namespace] if helm.namespace else [])]
    if deploy.release:
        gate_args += ["--release", deploy.release]
    elif deploy.why_no_release:
        click.echo(f"preflight: helm.release not checked: {deploy.why_no_release}", err=True)
    if deploy.create_namespace:
        gate_args.append("--create-namespace")
    if deploy.timeout and _is_duration(deploy.timeout):
        gate_args += ["--helm-timeout", deploy.timeout]  # a pending release younger than helm's --timeout is in progress
    gate_args += _chart_args(deploy)
    with gate_kubeconfig(helm, environ) as target, contextlib.redirect_stdout(sys.stderr):
        code = gate(["check", *target.argv(), *gate_args, *deploy.gate_args])
    if code != 0:
        click.echo(f"preflight: helm {command} was not run: the gate exited {code} "
                   f"({'not ready' if code == 1 else 'could not check'})", err=True)
        return code
    helm_bin = environ.get("HELM_BIN") or "helm"
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        exec_helm(helm_bin, [helm_bin, command, *deploy.helm_args], environ)
    except OSError as exc:
        raise ConfigError(f"cannot run helm ({helm_bin}): {exc.strerror}",
                          fix="put helm on PATH, or set HELM_BIN to its path") from None
    return 0  # only a stand-in exec returns


def _chart_args(deploy: DeployArgs) -> list[str]:
    """``--chart CHART`` with helm's own values flags, so the gate renders what helm will deploy
    (its kinds, the admission simulation). Only a local chart: a repository or OCI reference
    would need a download with the user's registry credentials, which the gate does not make."""
    if deploy.chart is None:
        return []
    if not Path(deploy.chart).exists():
        click.echo(f"preflight: the chart {deploy.chart} is not a local folder or .tgz: the gate checks the default "
                   "deploy permissions, not the chart's own objects (helm pull it, or use --post-renderer preflight-post-render)",
                   err=True)
        return []
    args = ["--chart", deploy.chart]
    for flag, value in deploy.values:
        args += ["--values" if flag == "values" else f"--{flag}", value]
    return args


def _is_duration(text: str) -> bool:
    from kube_client._durations import parse_duration

    try:
        parse_duration(text)
    except ConfigError:
        return False  # a Go duration preflight cannot read (1us): the default applies
    return True
