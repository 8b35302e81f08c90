"""The ``sa-tokens`` command line: ensure, status, rotate.

Exit codes: 0 done, 1 the token could not be ensured (the message says why), 2 usage or
configuration error. The token itself is written only where asked (a 0600 file, or stdout
with ``--token-out -``), never into logs, JSON or a child process's argv.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from kube_client._boundary import console_script, invoke

from . import __version__
from ._names import check_namespace, check_subdomain

_ctx = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _timeout(raw: str | None, wait: float) -> float:
    """--timeout in seconds: the deadline of the whole run, as for preflight check."""
    from kube_client._durations import parse_duration

    from ._api import REQUEST_BUDGET

    return wait + REQUEST_BUDGET if raw is None else parse_duration(raw, name="--timeout").total_seconds()


def _timeout_option(default: str) -> Callable[[Any], Any]:
    option: Callable[[Any], Any] = click.option(
        "--timeout", metavar="DURATION", default=None,
        help=f"Deadline for the whole run; requests and waits end there, as for preflight check.  [default: {default}]")
    return option


def _target_options(fn: Any) -> Any:
    fn = click.option("--context", help="The kubeconfig context to use.")(fn)
    fn = click.option("--kubeconfig", help="Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")(fn)
    return fn


def _namespace(kubeconfig: str | None, context: str | None, namespace: str | None) -> str:
    from kube_client._target import resolve_target

    return namespace or resolve_target(kubeconfig=kubeconfig, context=context).namespace


def _outputs(result: Any, kubeconfig_out: Path | None, token_out: str | None, server: str | None, ca_file: Path | None,
             kubeconfig: str | None, context: str | None) -> None:
    from kube_client._errors import ConfigError

    try:
        _write_outputs(result, kubeconfig_out, token_out, server, ca_file, kubeconfig, context)
    except ConfigError as exc:
        # The Secret exists and works: say so, or the user deletes and recreates it for nothing.
        raise ConfigError(f"{exc}; the token Secret {result.namespace}/{result.secret} is in place",
                          fix="fix the path and run the same command again: it reuses the Secret") from None


def _kubeconfig_text(result: Any, server: str | None, ca_file: Path | None, kubeconfig: str | None, context: str | None) -> str:
    """The ServiceAccount's kubeconfig, for --kubeconfig-out and the Jenkins file credential alike."""
    from kube_client._target import resolve_target

    from ._kubeconfig_out import kubeconfig_for

    target = resolve_target(kubeconfig=kubeconfig, context=context)
    ca = ca_file.read_bytes() if ca_file else (target.cluster.ca.data if target.cluster.ca and target.cluster.ca.data else result.ca_pem)
    return kubeconfig_for(
        server=server or target.cluster.server, ca_pem=ca, namespace=result.namespace,
        account=result.service_account, token=result.token, cluster=target.cluster.name,
        **({} if server else {"tls_server_name": target.cluster.tls_server_name, "proxy_url": target.cluster.proxy_url}),
    )


def _write_outputs(result: Any, kubeconfig_out: Path | None, token_out: str | None, server: str | None, ca_file: Path | None,
                   kubeconfig: str | None, context: str | None) -> None:
    from ._kubeconfig_out import write_secret_file

    if kubeconfig_out is not None:
        write_secret_file(kubeconfig_out, _kubeconfig_text(result, server, ca_file, kubeconfig, context))
        click.echo(f"sa-tokens: wrote kubeconfig for {result.identity} to {kubeconfig_out} (mode 0600)", err=True)
    if token_out == "-":
        click.echo(result.token)
    elif token_out:
        write_secret_file(Path(token_out), result.token + "\n")
        click.echo(f"sa-tokens: wrote the token to {token_out} (mode 0600)", err=True)


def _check_paths(*paths: Path | str | None) -> None:
    """Checked before any request, so a bad path costs no orphaned Secret: each is proven by
    creating (and removing) the temporary file its write will rename."""
    from kube_client._files import prove_writable

    for p in paths:
        if p not in (None, "-"):
            prove_writable(Path(p))


def _jenkins_options(fn: Any) -> Any:
    """Publishing to a Jenkins credential. The user and API token come from the environment or a
    0600 file, never from argv (there is deliberately no --jenkins-token)."""
    from ._jenkins import KINDS, TOKEN_ENV, USER_ENVS

    for option in reversed([
        click.option("--jenkins-url", metavar="URL", help="Also publish to this Jenkins (its root URL, with any context path)."),
        click.option("--jenkins-credential", metavar="ID", help="Id of the Jenkins credential to create, or update in place."),
        click.option("--jenkins-folder", metavar="PATH", help="The folder whose credential store gets it, e.g. team/shop "
                     "(default: the system store)."),
        click.option("--jenkins-kind", type=click.Choice(KINDS), help="file: a Secret file holding a kubeconfig for the "
                     "ServiceAccount (fileName kubeconfig); secret-text: the token alone.  [default: file]"),
        click.option("--jenkins-description", metavar="TEXT", help="The credential's description (default: names the ServiceAccount)."),
        click.option("--jenkins-token-file", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                     help=f"Read the Jenkins API token from FILE (mode 0600; looser is refused) instead of ${TOKEN_ENV}. "
                          f"The user is ${USER_ENVS[0]} (or ${USER_ENVS[1]})."),
        click.option("--jenkins-timeout", default="30s", show_default=True, metavar="DURATION",
                     help="Timeout of each request to Jenkins."),
    ]):
        fn = option(fn)
    return fn


def _jenkins_publisher(opts: dict[str, Any], namespace: str, account: str) -> Any:
    """Check the Jenkins options and authenticate, before anything is created in Kubernetes:
    a wrong URL, user, token or folder costs no Secret. None when not publishing."""
    from kube_client._durations import parse_duration

    from ._jenkins import JenkinsPublisher, Kind, jenkins_target

    if not opts["jenkins_credential"]:
        given = [f"--{name.replace('_', '-')}" for name in ("jenkins_url", "jenkins_folder", "jenkins_kind", "jenkins_description",
                                                            "jenkins_token_file") if opts[name] is not None]
        if given:
            raise click.UsageError(f"{', '.join(given)} need(s) --jenkins-credential")
        return None
    if not opts["jenkins_url"]:
        raise click.UsageError("--jenkins-credential needs --jenkins-url")
    kind: Kind = "secret-text" if opts["jenkins_kind"] == "secret-text" else "file"
    target = jenkins_target(
        url=opts["jenkins_url"], credential_id=opts["jenkins_credential"], folder=opts["jenkins_folder"], kind=kind,
        token_file=opts["jenkins_token_file"], environ=os.environ,
        timeout=parse_duration(opts["jenkins_timeout"], name="--jenkins-timeout").total_seconds(),
        description=opts["jenkins_description"] if opts["jenkins_description"] is not None else
        f"{'kubeconfig' if kind == 'file' else 'token'} for ServiceAccount {namespace}/{account} (managed by sa-tokens)",
    )
    publisher = JenkinsPublisher(target)
    publisher.authenticate()
    return publisher


def _publish(publisher: Any, result: Any, kubeconfig_text: Any, *, rotating: bool) -> dict[str, Any]:
    """Publish ``result``'s token; on failure say that the token Secret exists and how to re-run."""
    from kube_client._errors import PreflightError

    from ._jenkins import JenkinsError

    target = publisher.target
    try:
        action = publisher.publish(kubeconfig_text() if target.kind == "file" else result.token)
    except PreflightError as exc:
        kept = "; the old tokens were kept" if rotating else ""
        again = ("run sa-tokens rotate again (every older token is deleted after --grace), or sa-tokens ensure to publish "
                 "the newest token" if rotating else "run the same command again: it reuses the Secret and updates the credential")
        raise JenkinsError(f"{exc.message}; the token Secret {result.namespace}/{result.secret} is in place{kept}",
                           fix=f"{exc.fix + ', then ' if exc.fix else ''}{again}") from None
    what = "Secret file 'kubeconfig'" if target.kind == "file" else "Secret text"
    click.echo(f"sa-tokens: {action} {target.where} ({what}) for {result.identity}", err=True)
    return {"url": target.url, "credential": target.credential_id, "folder": target.folder, "kind": target.kind, "action": action}


@click.group(context_settings=_ctx)
@click.version_option(__version__, "--version", prog_name="sa-tokens", message="%(prog)s %(version)s")
def cli() -> None:
    """Create, verify and audit long-lived ServiceAccount tokens (Kubernetes 1.24+ and older)."""


@cli.command()
@click.argument("service_account", metavar="SERVICEACCOUNT")
@click.option("-n", "--namespace", help="Namespace (default: the context's).")
@click.option("--create-sa", is_flag=True, help="Create the ServiceAccount if it does not exist.")
@click.option("--secret-name", help="Name of the token Secret (default: <serviceaccount>-token).")
@click.option("--wait", "wait_for", default="60s", show_default=True, help="How long to wait for the controller to fill it.")
@click.option("--force-create", is_flag=True, help="Before 1.24: create a Secret even though the control plane should have.")
@click.option("--kubeconfig-out", type=click.Path(path_type=Path, dir_okay=False), help="Write a kubeconfig for the ServiceAccount (0600).")
@click.option("--token-out", metavar="FILE|-", help="Write the token to FILE (0600), or to stdout with '-'.")
@click.option("--server", help="Server URL for --kubeconfig-out (default: the current context's).")
@click.option("--certificate-authority", "ca_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="CA file for --kubeconfig-out (default: the current context's CA).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_timeout_option("--wait + 20s")
@_jenkins_options
@_target_options
def ensure(service_account: str, namespace: str | None, create_sa: bool, secret_name: str | None, wait_for: str, force_create: bool,
           kubeconfig_out: Path | None, token_out: str | None, server: str | None, ca_file: Path | None, output: str, timeout: str | None,
           kubeconfig: str | None, context: str | None, **jenkins_opts: Any) -> int:
    """Make sure SERVICEACCOUNT has a filled, working long-lived token Secret (idempotent).

    With --jenkins-credential, also create or update a Jenkins credential with it."""
    from kube_client._durations import parse_duration

    from ._api import ensure as do_ensure

    check_subdomain(service_account, "ServiceAccount")
    if namespace:
        check_namespace(namespace)
    _check_paths(kubeconfig_out, token_out)
    wait = parse_duration(wait_for, name="--wait").total_seconds()
    deadline = _timeout(timeout, wait)
    ns = _namespace(kubeconfig, context, namespace)
    publisher = _jenkins_publisher(jenkins_opts, ns, service_account)
    result = do_ensure(ns, service_account, kubeconfig=kubeconfig, context=context, create_sa=create_sa,
                       secret_name=secret_name, wait=wait, force_create=force_create, timeout=deadline)
    _outputs(result, kubeconfig_out, token_out, server, ca_file, kubeconfig, context)
    published = (_publish(publisher, result, lambda: _kubeconfig_text(result, server, ca_file, kubeconfig, context), rotating=False)
                 if publisher else None)
    line = (f"{result.identity}: token Secret {result.namespace}/{result.secret} "
            f"{'created' if result.created else 'reused'} and verified in {result.elapsed_seconds:.2f}s")
    if output == "json":
        click.echo(json.dumps(result.summary() | ({"jenkins": published} if published else {}), indent=2), err=token_out == "-")
    else:
        click.echo(line, err=token_out == "-")
    return 0


@cli.command()
@click.option("-n", "--namespace", help="Namespace (default: the context's).")
@click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_timeout_option("20s")
@_target_options
def status(namespace: str | None, all_namespaces: bool, output: str, timeout: str | None, kubeconfig: str | None, context: str | None) -> int:
    """Every ServiceAccount's token: manual, auto (listed, subject to the cleaner) or none."""
    from ._api import status as do_status

    if namespace and all_namespaces:
        raise click.UsageError("-n and -A exclude each other")
    scope = None if all_namespaces else _namespace(kubeconfig, context, namespace)
    report = do_status(scope, kubeconfig=kubeconfig, context=context, timeout=_timeout(timeout, 0.0))
    if output == "json":
        click.echo(json.dumps({"accounts": [a.as_dict() for a in report.accounts], "requests": report.requests}, indent=2))
        return 0
    rows = [("NAMESPACE", "SERVICEACCOUNT", "TOKEN", "SECRET", "FILLED", "LAST-USED", "INVALID-SINCE", "CLEANUP")]
    for a in report.accounts:
        for s in a.secrets or (None,):
            rows.append((a.namespace, a.name, a.kind, s.name if s else "-", ("yes" if s.filled else "no") if s else "-",
                         (s.last_used or "-") if s else "-", (s.invalid_since or "-") if s else "-", (s.projected_cleanup or "-") if s else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    click.echo(f"{len(report.accounts)} ServiceAccounts, {report.requests} requests", err=True)
    return 0


@cli.command()
@click.argument("service_account", metavar="SERVICEACCOUNT")
@click.option("-n", "--namespace", help="Namespace (default: the context's).")
@click.option("--grace", default="10m", show_default=True, help="Keep the old tokens this long before deleting them.")
@click.option("--wait", "wait_for", default="60s", show_default=True, help="How long to wait for the new Secret to be filled.")
@click.option("--kubeconfig-out", type=click.Path(path_type=Path, dir_okay=False), help="Write a kubeconfig for the new token (0600).")
@click.option("--token-out", metavar="FILE|-", help="Write the new token to FILE (0600), or to stdout with '-'.")
@_timeout_option("--wait + 20s, plus --grace")
@_jenkins_options
@_target_options
def rotate(service_account: str, namespace: str | None, grace: str, wait_for: str, kubeconfig_out: Path | None,
           token_out: str | None, timeout: str | None, kubeconfig: str | None, context: str | None, **jenkins_opts: Any) -> int:
    """Create and verify a new token Secret, then delete the old ones after --grace.

    With --jenkins-credential, the credential is updated with the new token before the grace
    period starts, so no old token is deleted while Jenkins still holds it."""
    from kube_client._durations import parse_duration

    from ._api import rotate as do_rotate

    check_subdomain(service_account, "ServiceAccount")
    if namespace:
        check_namespace(namespace)
    _check_paths(kubeconfig_out, token_out)
    ns = _namespace(kubeconfig, context, namespace)
    grace_s = parse_duration(grace, name="--grace").total_seconds()
    publisher = _jenkins_publisher(jenkins_opts, ns, service_account)

    def published(result: Any) -> None:
        _outputs(result, kubeconfig_out, token_out, None, None, kubeconfig, context)
        if publisher:  # raising here keeps the old tokens: rotate_token deletes only after this returns
            _publish(publisher, result, lambda: _kubeconfig_text(result, None, None, kubeconfig, context), rotating=True)
        click.echo(f"sa-tokens: new token {result.namespace}/{result.secret} verified; old tokens deleted in {grace}", err=True)

    wait = parse_duration(wait_for, name="--wait").total_seconds()
    result = do_rotate(ns, service_account, grace=grace_s, kubeconfig=kubeconfig, context=context,
                       wait=wait, before_delete=published, timeout=_timeout(timeout, wait))
    click.echo(f"{result.new.identity}: now {result.new.namespace}/{result.new.secret}; deleted {', '.join(result.deleted) or 'nothing'}",
               err=token_out == "-")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return invoke(cli, "sa-tokens", argv)


def run() -> None:
    console_script(main)
