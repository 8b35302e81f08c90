"""The ``preflight`` command line: parse flags, run checks, render, exit 0 / 1 / 2.

``main(argv) -> int`` is the one boundary where errors become exit codes: a
``PreflightError`` or a usage error prints one line on stderr and returns 2; nothing else
is caught, so a bug still shows its traceback. Heavy modules (cryptography, the HTTP client)
are imported inside the commands that need them, so ``--version`` and ``--help`` stay fast.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from kube_client._boundary import console_script, invoke

from .. import __version__
from .._engine.model import Report

Clock = Callable[[], datetime]

_OUTPUTS = ("table", "json")


@dataclass(frozen=True, kw_only=True)
class OutputOptions:
    """How and where the report goes: the stdout format, the JUnit and Markdown files, --strict."""

    output: str
    junit: Path | None
    markdown: Path | None
    strict: bool

    def validate(self, **more: Path | None) -> None:
        """Refuse unwritable report paths before any work, so nothing is half done: each is
        proven by creating (and removing) the temporary file its write will rename. ``more``
        are other report flags (``prometheus=path`` for --prometheus)."""
        from kube_client._files import prove_writable

        flags = [("--junit", self.junit), ("--markdown", self.markdown), *((f"--{k}", v) for k, v in more.items())]
        for flag, path in flags:
            if path is not None:
                prove_writable(path, what=flag)


def output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The report flags every checking command shares."""
    decorators = [
        click.option("-o", "--output", type=click.Choice(_OUTPUTS), default="table", show_default=True, help="Format on stdout."),
        click.option("--junit", type=click.Path(path_type=Path, dir_okay=False), help="Also write a JUnit XML report to FILE."),
        click.option("--markdown", type=click.Path(path_type=Path, dir_okay=False), help="Also write a Markdown report to FILE."),
        click.option("--strict", is_flag=True, help="Exit 1 on warnings too."),
    ]
    for decorate in reversed(decorators):
        fn = decorate(fn)
    return fn


def prometheus_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--prometheus", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                        help="Also write Prometheus metrics (text format, atomically, no timestamps: for node_exporter's "
                             "textfile collector) to FILE.")(fn)


def threshold_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--fail-within", default="7d", show_default=True, help="Fail when a certificate expires within this.")(fn)
    fn = click.option("--warn-within", default="30d", show_default=True, help="Warn when a certificate expires within this.")(fn)
    return fn


def _expiry(warn_within: str, fail_within: str) -> Any:
    from kube_client._durations import parse_duration

    from .._facts.policy import ExpiryPolicy

    return ExpiryPolicy(
        warn_within=parse_duration(warn_within, name="--warn-within"),
        fail_within=parse_duration(fail_within, name="--fail-within"),
    )


def emit(report: Report, opts: OutputOptions, *, prometheus: Path | None = None, cluster: str = "", now: datetime | None = None) -> int:
    """Write the requested reports and return the exit code."""
    from kube_client._files import write_atomic

    from .._engine.render import render_json, render_junit, render_markdown, render_table, use_color

    if prometheus is not None:
        from .._engine.fleet import ClusterResult
        from .._engine.metrics import render_prometheus

        server = str((report.meta.get("target") or {}).get("server") or "")
        result = ClusterResult(context=cluster, server=server, report=report, strict=opts.strict)
        write_atomic(prometheus, render_prometheus([result], now=now or datetime.now(UTC)))
    if opts.junit is not None:
        write_atomic(opts.junit, render_junit(report, strict=opts.strict))
    if opts.markdown is not None:
        write_atomic(opts.markdown, render_markdown(report, strict=opts.strict))
    if opts.output == "json":
        click.echo(render_json(report, strict=opts.strict), nl=False)
    else:
        click.echo(render_table(report, color=use_color(sys.stdout), strict=opts.strict), nl=False)
    return report.exit_code(strict=opts.strict)


def _now(ctx: click.Context) -> datetime:
    clock: Clock = ctx.obj or (lambda: datetime.now(UTC))
    return clock()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="preflight", message="%(prog)s %(version)s")
def cli() -> None:
    """Tell, before a Helm deploy, whether it can succeed and if not, why.

    \b
    Exit codes: 0 ready (warnings allowed), 1 a check failed (or warned, with --strict),
    2 preflight could not run (usage or configuration error).
    """


@cli.command()
@click.option("--pki-dir", type=click.Path(path_type=Path), default=Path("/etc/kubernetes"), show_default=True,
              help="The kubeadm folder holding pki/ and the *.conf kubeconfigs.")
@click.option("--kubelet-dir", type=click.Path(path_type=Path), default=Path("/var/lib/kubelet"), show_default=True,
              help="The kubelet's folder (pki/kubelet-client-current.pem, the serving certificate).")
@click.option("--compare-served", is_flag=True,
              help="Also compare what kube-apiserver and etcd serve, and when each component started, with the files on disk.")
@click.option("--timeout", default="20s", show_default=True, help="Deadline for --compare-served.")
@threshold_options
@prometheus_option
@output_options
@click.pass_context
def certs(ctx: click.Context, /, pki_dir: Path, kubelet_dir: Path, compare_served: bool, timeout: str,
          warn_within: str, fail_within: str, prometheus: Path | None, **out: Any) -> int:
    """Audit a kubeadm node's certificates and kubeconfigs, offline.

    One row per certificate, id pki.<name>: everything 'kubeadm certs check-expiration'
    lists, plus kubelet.conf, the kubelet's client and serving certificates and sa.key/sa.pub.
    """
    from .offline import certs_report

    opts = OutputOptions(**out)
    opts.validate(prometheus=prometheus)
    from kube_client._durations import parse_duration

    now = _now(ctx)
    report = certs_report(
        pki_dir=pki_dir,
        kubelet_dir=kubelet_dir,
        expiry=_expiry(warn_within, fail_within),
        now=now,
        compare_served=compare_served,
        timeout=parse_duration(timeout, name="--timeout").total_seconds(),
    )
    return emit(report, opts, prometheus=prometheus, now=now)


@cli.command()
@click.option("--kubeconfig", "kubeconfig", type=str, help="Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
@click.option("--context", "context", type=str, help="The context to audit (default: current-context).")
@click.option("--all-contexts", is_flag=True, help="Audit every context.")
@threshold_options
@output_options
@click.pass_context
def kubeconfig(
    ctx: click.Context, /, kubeconfig: str | None, context: str | None, all_contexts: bool, warn_within: str, fail_within: str, **out: Any
) -> int:
    """Audit a kubeconfig offline: credentials, TLS settings and file permissions."""
    from .offline import kubeconfig_report

    if context and all_contexts:
        raise click.UsageError("--context and --all-contexts exclude each other")
    opts = OutputOptions(**out)
    opts.validate()
    report = kubeconfig_report(
        kubeconfig=kubeconfig,
        context=context,
        all_contexts=all_contexts,
        expiry=_expiry(warn_within, fail_within),
        now=_now(ctx),
    )
    return emit(report, opts)


def _kubeadm_dir(value: Path | None) -> Path | None:
    if value is None:  # the usual case: not node mode, and none of the PKI reader's imports
        return None
    from .._collect.pki import kubeadm_dir

    return kubeadm_dir(Path(value))


def _service_account(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    ns, sep, name = value.partition("/")
    if not sep or not ns or not name:
        raise click.BadParameter("use NAMESPACE/NAME", param_hint="--service-account")
    return ns, name


@cli.command()
@click.option("--kubeconfig", type=str, help="Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
@click.option("--context", type=str, help="The kubeconfig context to use (default: current-context).")
@click.option("-n", "--namespace", type=str, help="The namespace the deploy goes to (default: the context's, else default).")
@click.option("--timeout", default="20s", show_default=True, help="Deadline for the whole run.")
@click.option("--wait-for-api", "wait_for_api", metavar="DURATION", default="0s", show_default=True,
              help="First wait up to DURATION for the API server to answer (a restarting one refuses or answers 503), "
                   "then check with the full --timeout; as cmctl check api --wait.")
@click.option("--release", default="", help="The Helm release to check for a stuck pending-* state.")
@click.option("--helm-timeout", default="5m", show_default=True, help="Your helm --timeout: a pending release younger than this is a deploy in progress.")
@click.option("--manifests", metavar="FILE", help="Rendered manifests (helm template ... > FILE, or - for stdin): check "
              "permissions for exactly the chart's kinds, and that the server serves them.")
@click.option("--from-release", "from_release", metavar="REVISION", type=click.IntRange(1), default=None,
              help="With --release: simulate the manifest of this revision of the release, read from Helm's storage (one GET of "
                   "its record); a pre-install/pre-upgrade hook reads its own pending revision so. No record: a note, no simulation.")
@click.option("--hook", is_flag=True, help="Run as a Helm hook (charts/preflight-hook): the identity is the hook's own ServiceAccount, "
              "not the deployer's, so auth.permissions, serviceaccount.token and helm.release are left out.")
@click.option("--chart", metavar="PATH", help="A chart folder or .tgz: render it with helm (offline, with the server's version and "
              "APIs; helm from $HELM_BIN or PATH) and check as with --manifests.")
@click.option("-f", "--values", "values_files", metavar="FILE", multiple=True, help="With --chart: a values file, as for helm (repeatable).")
@click.option("--set", "set_values", metavar="KEY=VALUE", multiple=True,
              help="With --chart: a value, as for helm (repeatable; visible in ps, as it is for helm: put secrets in -f files).")
@click.option("--set-string", "set_strings", metavar="KEY=VALUE", multiple=True, help="With --chart: a string value, as for helm.")
@click.option("--set-file", "set_files", metavar="KEY=FILE", multiple=True, help="With --chart: a value read from FILE, as for helm.")
@click.option("--set-json", "set_jsons", metavar="KEY=JSON", multiple=True, help="With --chart: a JSON value, as for helm.")
@click.option("--set-literal", "set_literals", metavar="KEY=VALUE", multiple=True, help="With --chart: a literal string, as for helm.")
@click.option("--no-simulate", "no_simulate", is_flag=True,
              help="With --manifests/--chart: skip the admission simulation (the admission.* checks and their dry-runs).")
@click.option("--helm-major", type=click.Choice(["3", "4"]), default=None,
              help="How the deploy sends objects, for the admission simulation: 3 creates or patches, 4 applies server-side "
                   "(field manager helm). Default: the major version of $HELM_BIN when set, else 3.")
@click.option("--service-account", "service_account", metavar="NS/NAME", help="Check this ServiceAccount's token (default: the identity, when it is one).")
@click.option("--ensure-token", is_flag=True,
              help="Create the ServiceAccount's long-lived token Secret if it has none (as 'sa-tokens ensure'), then check it.")
@click.option("--deep", is_flag=True, help="Also create a throwaway token Secret and wait for the token controller to fill it.")
@click.option("--create-namespace", is_flag=True, help="The namespace may not exist yet (helm --create-namespace).")
@click.option("--node", "node_dir", type=click.Path(path_type=Path), is_flag=False, flag_value="/etc/kubernetes", default=None,
              help="Node mode, on a control-plane node: compare served and on-disk certificates and process start times "
                   "(value: the kubeadm folder, default /etc/kubernetes).")
@click.option("-q", "--quiet", is_flag=True, help="No progress line on stderr.")
@threshold_options
@prometheus_option
@output_options
@click.pass_context
def check(
    ctx: click.Context, /, kubeconfig: str | None, context: str | None, namespace: str | None, timeout: str, wait_for_api: str, release: str,
    helm_timeout: str, manifests: str | None, from_release: int | None, hook: bool, chart: str | None, values_files: tuple[str, ...], set_values: tuple[str, ...],
    set_strings: tuple[str, ...], set_files: tuple[str, ...], set_jsons: tuple[str, ...], set_literals: tuple[str, ...],
    no_simulate: bool, helm_major: str | None, service_account: str | None, ensure_token: bool, deep: bool, create_namespace: bool, node_dir: Path | None, quiet: bool,
    warn_within: str, fail_within: str, prometheus: Path | None, **out: Any,
) -> int:
    """Can a Helm deploy succeed on this cluster right now? If not, the root cause.

    Checks, root causes first: api.reachable, tls.serving-cert, kubeconfig.credentials,
    auth.identity, node.served-certs and node.restarts (--node), controlplane.leases,
    controlplane.apiservices, controlplane.token-controller (--deep), auth.permissions,
    serviceaccount.token, rbac.subjects, helm.release (--release), and with --manifests or
    --chart the admission simulation (server-side dry-runs, nothing changed): admission.webhooks,
    admission.ownership, admission.dry-run, admission.references, admission.pods,
    admission.capacity.

    
    Exit codes: 0 ready (warnings allowed), 1 a check failed or could not look (or warned,
    with --strict), 2 preflight could not run (usage or configuration error).
    """
    from kube_client._durations import parse_duration
    from kube_client._target import resolve_target

    from .._collect.manifests import read_manifest_objects
    from .._facts.manifests import kinds_of
    from .check import CheckRequest, run_check

    opts = OutputOptions(**out)
    opts.validate(prometheus=prometheus)
    if chart and manifests:
        raise click.UsageError("--chart and --manifests exclude each other")
    set_args = tuple((flag, item) for flag, items in (("set", set_values), ("set-string", set_strings), ("set-file", set_files),
                                                      ("set-json", set_jsons), ("set-literal", set_literals)) for item in items)
    if (values_files or set_args) and not chart:
        raise click.UsageError("-f/--values and --set* need --chart")
    if from_release is not None and (not release or chart or manifests):
        raise click.UsageError("--from-release needs --release and excludes --manifests and --chart")
    target = resolve_target(kubeconfig=kubeconfig, context=context, namespace=namespace)
    manifest_objects = read_manifest_objects(manifests) if manifests else []
    if from_release is not None:
        manifest_objects, manifests = _release_objects(target, release, from_release, timeout, quiet, hook)
    chart_source = None
    if chart:
        from .._collect.chart import ChartSource, helm_executable

        chart_source = ChartSource(path=chart, values_files=values_files, set_args=set_args,
                                   release=release or "release-name", namespace=target.namespace)
        chart_source.validate()  # a missing chart, values file or helm: exit 2 before any request
        chart_source = dataclasses.replace(chart_source, helm=helm_executable())
    request = CheckRequest(
        target=target,
        timeout=parse_duration(timeout, name="--timeout").total_seconds(),
        wait_for_api=parse_duration(wait_for_api, name="--wait-for-api").total_seconds(),
        expiry=_expiry(warn_within, fail_within),
        now=_now(ctx),
        deep=deep,
        service_account=_service_account(service_account),
        release=release,
        hook=hook,
        helm_driver=os.environ.get("HELM_DRIVER", "secret"),
        helm_timeout=parse_duration(helm_timeout, name="--helm-timeout").total_seconds(),
        create_namespace=create_namespace,
        node_dir=_kubeadm_dir(node_dir),
        ensure_token=ensure_token,
        manifest_kinds=kinds_of(manifest_objects, source="stdin" if manifests == "-" else str(manifests)) if manifests else (),
        manifest_objects=tuple(manifest_objects),
        chart=chart_source,
        simulate=not no_simulate,
        helm_major=int(helm_major) if helm_major else None,  # None: $HELM_BIN's, asked while the other facts are collected
    )
    if not quiet:
        click.echo(f"preflight: checking {request.target.describe()}", err=True)
    if request.wait_for_api > 0:
        from .check import wait_for_api as wait

        answered = wait(request)
        if not quiet:
            click.echo(f"preflight: the API server {'answers' if answered else f'did not answer within {wait_for_api}'}", err=True)
    return emit(run_check(request), opts, prometheus=prometheus, cluster=target.context, now=request.now)


@cli.command()
@click.option("--kubeconfig", type=str, help="Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
@click.option("--context", "pattern", metavar="REGEX", help="Only the contexts whose name this regular expression matches "
              "(searched: anchor it with ^...$ for whole names). Default: every context.")
@click.option("-n", "--namespace", type=str, help="The namespace to check in every context (default: each context's, else default).")
@click.option("--timeout", default="30s", show_default=True, help="Deadline for the whole fleet (not per cluster).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=10, show_default=True, help="Contexts checked at once.")
@click.option("--calendar", "calendar_size", type=click.IntRange(1, 10_000), default=20, show_default=True, metavar="N",
              help="How many of the next expiries the --markdown calendar (and the JSON) lists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line on stderr.")
@threshold_options
@prometheus_option
@output_options
@click.pass_context
def fleet(ctx: click.Context, /, kubeconfig: str | None, pattern: str | None, namespace: str | None, timeout: str, concurrency: int,
          calendar_size: int, quiet: bool, warn_within: str, fail_within: str, prometheus: Path | None, **out: Any) -> int:
    """Run check against every context of the kubeconfig, concurrently, under one deadline.

    One row per context: verdict, root cause, nearest expiry. An unreachable cluster is
    reported with its root cause (api.reachable), never skipped. --markdown adds the
    calendar: the next expiries across the fleet (served API certificates, kubeconfig client
    credentials, token Secrets), each with what renews it.

    \b
    Exit codes: 0 every context is ready, 1 any is not or could not be checked (or warned,
    with --strict), 2 preflight could not run (usage or configuration error).
    """
    from kube_client._durations import parse_duration
    from kube_client._files import write_atomic

    from .._engine.fleet import FleetView, fleet_exit_code, render_fleet_json, render_fleet_junit, render_fleet_markdown, render_fleet_table
    from .._engine.metrics import render_prometheus
    from .fleet import FleetRequest, describe_selection, run_fleet, select_contexts

    opts = OutputOptions(**out)
    opts.validate(prometheus=prometheus)
    expiry = _expiry(warn_within, fail_within)
    request = FleetRequest(kubeconfig=kubeconfig, contexts=select_contexts(kubeconfig, pattern), namespace=namespace,
                           timeout=parse_duration(timeout, name="--timeout").total_seconds(), concurrency=concurrency,
                           expiry=expiry, now=_now(ctx), strict=opts.strict)
    if not quiet:
        click.echo(describe_selection(request.contexts, request), err=True)
    results, took = run_fleet(request)
    view = FleetView(results=results, now=request.now, warn_within=expiry.warn_within, duration_ms=took, calendar_size=calendar_size,
                     meta={"timeout_seconds": request.timeout, "concurrency": concurrency})
    if prometheus is not None:
        write_atomic(prometheus, render_prometheus(results, now=request.now))
    if opts.junit is not None:
        write_atomic(opts.junit, render_fleet_junit(view))
    if opts.markdown is not None:
        write_atomic(opts.markdown, render_fleet_markdown(view))
    click.echo(render_fleet_json(view) if opts.output == "json" else render_fleet_table(view), nl=False)
    return fleet_exit_code(results)


from .helm.commands import helm_group  # noqa: E402  (registered after the commands it runs)

cli.add_command(helm_group)


@cli.command()
@click.option("--kubeconfig", type=str, help="Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
@click.option("--context", type=str, help="The kubeconfig context to use (default: current-context).")
@click.option("-n", "--namespace", type=str, help="The release's namespace (default: the context's, else default).")
@click.option("--release", required=True, help="The Helm release whose last deploy failed or timed out.")
@click.option("--timeout", default="20s", show_default=True, help="Deadline for the whole run.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line on stderr.")
@output_options
@click.pass_context
def explain(ctx: click.Context, /, kubeconfig: str | None, context: str | None, namespace: str | None, release: str, timeout: str,
            quiet: bool, **out: Any) -> int:
    """After a failed or timed-out deploy: why each object of the release is not ready.

    Reads the release's latest revision from Helm's storage (HELM_DRIVER=configmap for
    ConfigMaps), then one finding per object, id release.<kind>.<name>, each saying whose
    fault it is: "the control plane is broken", "no node can take it", "no volume for it" or
    "the app is broken". Before them api.reachable, controlplane.leases and cluster.nodes;
    after them release.status.

    \b
    Exit codes: 0 every object is ready (warnings allowed), 1 something is not ready, 2 there
    is nothing to explain (no such release or namespace) or preflight could not run.
    """
    from kube_client._durations import parse_duration
    from kube_client._target import resolve_target

    from .explain import ExplainRequest, run_explain

    opts = OutputOptions(**out)
    opts.validate()
    request = ExplainRequest(
        target=resolve_target(kubeconfig=kubeconfig, context=context, namespace=namespace),
        release=release,
        timeout=parse_duration(timeout, name="--timeout").total_seconds(),
        now=_now(ctx),
        helm_driver=os.environ.get("HELM_DRIVER", "secret"),
    )
    if not quiet:
        click.echo(f"preflight: explaining release {release} on {request.target.describe()}", err=True)
    return emit(run_explain(request), opts)


# A hook's Role is namespaced and cannot grant RBAC it does not hold: these kinds are not simulated by a hook.
_NOT_FOR_A_HOOK = frozenset({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Namespace", "CustomResourceDefinition",
                             "StorageClass", "PriorityClass", "PersistentVolume", "IngressClass", "RuntimeClass", "APIService",
                             "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
                             "ValidatingAdmissionPolicyBinding"})


def _release_objects(target: Any, release: str, revision: int, timeout: str, quiet: bool, hook: bool) -> tuple[list[Any], str | None]:
    """--from-release: the revision's manifest objects ([] when there is no record) and their source name (None then).
    With --hook, RBAC, cluster-scoped kinds and other namespaces' objects are left out (said on stderr)."""
    from kube_client._durations import parse_duration

    from .._collect.release import revision_manifest

    # a third of --timeout at most: an unreachable server is the checks' to report, within their own --timeout
    seconds = min(10.0, parse_duration(timeout, name="--timeout").total_seconds() / 3)
    objects, note = revision_manifest(target, release, revision, os.environ.get("HELM_DRIVER", "secret"), seconds)
    if not quiet or objects is None:
        click.echo(f"preflight: {note}", err=True)
    if hook and objects:
        kept = [o for o in objects if str(o.get("kind")) not in _NOT_FOR_A_HOOK
                and ((o.get("metadata") or {}).get("namespace") or target.namespace) == target.namespace]
        if len(kept) < len(objects):
            left = sorted({f"{o.get('kind')} {(o.get('metadata') or {}).get('name')}" for o in objects if o not in kept})
            click.echo(f"preflight: not simulated by a hook (RBAC, cluster-scoped or another namespace): {', '.join(left)}", err=True)
        objects = kept
    return (objects, f"release {release} revision {revision}") if objects else ([], None)


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    """Run the CLI and return its exit code (0 ready, 1 not ready, 2 could not run)."""
    return invoke(cli, "preflight", argv, obj=clock)


def run() -> None:
    """Console-script entry point."""
    console_script(main)


def post_render_run() -> None:
    """Console script ``preflight-post-render``: an executable for Helm 3's --post-renderer."""
    console_script(lambda: invoke(cli, "preflight-post-render", ["helm", "post-render", *sys.argv[1:]]))
