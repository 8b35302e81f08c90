"""``preflight helm ...``: the commands the Helm plugins run, and ``preflight-post-render``.

The plugin scripts (plugins/*/) only find ``preflight`` and run ``preflight helm "$@"``; all
logic is here and in the modules beside it. The commands take their arguments raw (helm's
arguments must reach helm untouched), so click parses nothing after the command name except
``--help``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

__all__ = ["PLUGINS", "helm_group"]

PLUGINS = Path(__file__).resolve().parent / "plugins"
_RAW = {"ignore_unknown_options": True, "allow_interspersed_args": False}
_ARGS = click.argument("args", nargs=-1, type=click.UNPROCESSED)


@click.group("helm")
def helm_group() -> None:
    """Gate Helm deploys (the entry of the Helm plugins; see README "Helm").

    \b
    helm preflight check [preflight check options]     the gate, with helm's namespace and context
    helm preflight upgrade|install ARGS...            the gate, then helm with ARGS unchanged
    helm upgrade ... --post-renderer preflight-post-render [--post-renderer-args=--namespace=NS]
    helm plugin install "$(preflight helm plugin-dir)"                      Helm 3 and Helm 4
    helm plugin install "$(preflight helm plugin-dir --post-render)"        Helm 4 only
    """


def _root() -> click.Group:
    """The ``preflight`` group this group is registered under (cli/main.py)."""
    root = click.get_current_context().find_root().command
    assert isinstance(root, click.Group)
    return root


def _gate(argv: list[str]) -> int:
    """``preflight ARGV`` in-process, through the same error boundary as the console script."""
    from kube_client._boundary import invoke

    return invoke(_root(), "preflight", argv)


@helm_group.command("check", context_settings=_RAW)
@_ARGS
def check_command(args: tuple[str, ...]) -> int:
    """preflight check with helm's namespace (HELM_NAMESPACE), context and kubeconfig."""
    from .plugin import run_check

    return run_check(args, os.environ, _gate)


def _deploy(command: str) -> click.Command:
    @click.command(command, context_settings=_RAW, help=(
        f"Run the gate for the release's namespace; when it is ready, exec $HELM_BIN {command} ARGS (unchanged). "
        "Gate options go in as --preflight-OPTION (e.g. --preflight-timeout 30s). "
        "Exit: helm's exit code, or preflight's (1 not ready, 2 could not run) when helm was not run."))
    @_ARGS
    def deploy(args: tuple[str, ...]) -> int:
        from .plugin import run_deploy

        return run_deploy(command, args, os.environ, gate=_gate, check=_root().commands["check"])

    return deploy


helm_group.add_command(_deploy("upgrade"))
helm_group.add_command(_deploy("install"))


@helm_group.command("post-render", context_settings=_RAW)
@_ARGS
def post_render_command(args: tuple[str, ...]) -> int:
    """Post-renderer: pass the manifests on stdin through to stdout only when the gate is ready.

    ARGS are preflight check options (--context, --namespace, --release, ...) plus
    --report FILE (default $PREFLIGHT_REPORT_FILE, else $TMPDIR/kube-preflight-<uid>/post-render-report.txt).
    """
    from .postrender import run_post_render

    return run_post_render(args, gate=_gate, stdin=sys.stdin.buffer, stdout=sys.stdout.buffer, stderr=sys.stderr, environ=os.environ)


@helm_group.command("plugin-dir")
@click.option("--post-render", is_flag=True, help="The Helm 4 postrenderer/v1 plugin (never install it into Helm 3).")
def plugin_dir(post_render: bool) -> int:
    """Print the folder to give to 'helm plugin install'."""
    click.echo(PLUGINS / ("preflight-post-render" if post_render else "preflight"))
    return 0
