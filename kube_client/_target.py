"""Which cluster, credential and namespace a command talks to, resolved as kubectl does.

Precedence, as in kubectl and Helm: ``--kubeconfig`` (one file), else ``KUBECONFIG`` (a list),
else ``~/.kube/config``; when none exists and we run in a pod, the in-cluster ServiceAccount
(``KUBERNETES_SERVICE_HOST`` + /var/run/secrets/kubernetes.io/serviceaccount). The namespace
is ``-n``, else the context's, else ``default`` (in a pod: the pod's namespace). The proxy is
the cluster's ``proxy-url``, else ``HTTPS_PROXY``/``NO_PROXY`` as Go reads them (``_proxy``).

No network I/O here: resolution reads files and refuses bad input (exit 2) before any request.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from ._errors import ConfigError
from ._headers import header_value, impersonation_headers
from ._names import check_namespace
from ._kubeconfig import ClusterEntry, ContextView, Credentials, Material, default_paths, load_kubeconfig, provider_token
from ._pem import key_matches, load_certificates, load_private_key
from ._proxy import Proxy, choose_proxy
from ._urls import split_url

__all__ = ["IN_CLUSTER_DIR", "Target", "resolve_target"]

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True, kw_only=True)
class Target:
    """Everything needed to reach one API server as one identity."""

    context: str  # the context name, or "in-cluster"
    cluster: ClusterEntry
    credentials: Credentials
    namespace: str
    namespace_source: str  # "flag", "context", "in-cluster" or "default"
    kubeconfig: tuple[Path, ...] = ()
    proxy: Proxy | None = None  # as kubectl would choose it (see _proxy)

    @property
    def host(self) -> str:
        return urlsplit(self.cluster.server).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.cluster.server)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def tls_name(self) -> str:
        """The name the serving certificate must carry (tls-server-name overrides the host)."""
        return self.cluster.tls_server_name or self.host

    def describe(self) -> str:
        return f"context {self.context!r}, server {self.cluster.display}, namespace {self.namespace}"


def _in_cluster(environ: Mapping[str, str], namespace: str | None, sa_dir: Path) -> Target | None:
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not (sa_dir / "token").exists():
        return None
    server_host = f"[{host}]" if ":" in host else host
    server = f"https://{server_host}:{port}"
    if split_url(server) is None:
        raise ConfigError(f"KUBERNETES_SERVICE_HOST/PORT give {server!r}, which is not a valid address",
                          fix="run inside a Pod, or pass --kubeconfig")
    token = Material(source=str(sa_dir / "token"), data=(sa_dir / "token").read_bytes().strip(), path=sa_dir / "token")
    ca_path = sa_dir / "ca.crt"
    ca = Material(source=str(ca_path), data=ca_path.read_bytes(), path=ca_path) if ca_path.exists() else None
    pod_ns = (sa_dir / "namespace").read_text().strip() if (sa_dir / "namespace").exists() else "default"
    check_namespace(namespace or pod_ns, source="-n" if namespace else str(sa_dir / "namespace"))
    return Target(
        context="in-cluster",
        cluster=ClusterEntry(name="in-cluster", server=server, ca=ca),
        credentials=Credentials(user="in-cluster", token=token),
        namespace=namespace or pod_ns,
        namespace_source="flag" if namespace else "in-cluster",
        proxy=choose_proxy(server, "", environ),
    )


def resolve_target(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
    environ: Mapping[str, str] | None = None,
    sa_dir: Path = IN_CLUSTER_DIR,
) -> Target:
    """The target for these flags; raises ``ConfigError`` (exit 2) for bad input."""
    env = os.environ if environ is None else environ
    paths = default_paths(kubeconfig, env)
    if not kubeconfig and not any(p.exists() for p in paths) and not context:
        in_cluster = _in_cluster(env, namespace, sa_dir)
        if in_cluster is not None:
            return in_cluster
    config = load_kubeconfig(paths, explicit=bool(kubeconfig))
    view = config.context(context)
    validate_inline(view)
    exec_spec = view.credentials.exec
    if exec_spec is not None and not (os.path.isabs(exec_spec.command) and os.access(exec_spec.command, os.X_OK)) and not shutil.which(exec_spec.command):
        raise ConfigError(
            f"exec credential plugin {exec_spec.command!r} of user {view.credentials.user!r} is not on PATH",
            source=str(view.origin),
            fix=exec_spec.install_hint.strip() or f"install {exec_spec.command} or put it on PATH",
        )
    credentials = view.credentials
    if credentials.provider is not None:
        # client-go builds the auth provider even when a token is set, so its build-time refusals
        # stand; but a token or basic auth sets Authorization first and the provider's round
        # tripper then adds nothing (transport/round_trippers.go HTTPWrappersForConfig wraps it innermost).
        needed = credentials.token is None and credentials.basic is None
        id_token = provider_token(credentials.provider, datetime.now(UTC), needed=needed)
        if id_token is not None:
            credentials = replace(credentials, token=id_token)
    ns, source = (namespace, "flag") if namespace else ((view.namespace, "context") if view.namespace else ("default", "default"))
    check_namespace(ns, source="-n" if source == "flag" else f"{view.origin}: contexts[{view.name}].namespace")
    return Target(
        context=view.name,
        cluster=view.cluster,
        credentials=credentials,
        namespace=ns,
        namespace_source=source,
        kubeconfig=config.paths,
        proxy=choose_proxy(view.cluster.server, view.cluster.proxy_url, env),
    )


def validate_inline(view: ContextView) -> None:
    """Refuse what kubectl refuses before it sends a request: corrupt inline data, PEM
    garbage, half a key pair. Raises ``ConfigError`` naming the file and field (exit 2).

    Credential file references that do not resolve are left to the checks, which report them;
    an unreadable CA file is refused, as kubectl refuses it."""
    creds, cluster = view.credentials, view.cluster
    for material in (creds.client_cert, creds.client_key, creds.token, cluster.ca):
        if material is not None and material.problem and material.path is None:
            raise ConfigError(material.problem, source=material.source)
    # Headers that cannot be sent: refused here, before any connection is opened (the client
    # would refuse them too, but only once the run's first connections were under way).
    if creds.token is not None and creds.token.data is not None:
        header_value(creds.token.data.decode(errors="replace").strip(), what="the token", source=creds.token.source)
    impersonation_headers(creds.impersonate, source=f"users[{creds.user}]")
    if (creds.client_cert is None) != (creds.client_key is None):
        have, lack = ("client-key", "client-certificate") if creds.client_cert is None else ("client-certificate", "client-key")
        raise ConfigError(f"users[{creds.user}] has {have} but no {lack}", source=str(view.origin), fix=f"add {lack}-data")
    if creds.client_cert is not None and creds.client_cert.data is not None:
        cert = load_certificates(creds.client_cert.data, source=creds.client_cert.source)[0]
        if creds.client_key is not None and creds.client_key.data is not None:
            key = load_private_key(creds.client_key.data, source=creds.client_key.source)
            if not key_matches(cert, key):
                raise ConfigError("the client key does not match the client certificate", source=creds.client_key.source)
    if cluster.insecure and cluster.ca is not None:
        # transport/transport.go TLSConfigFor refuses both, in these words: kubectl never runs.
        raise ConfigError("specifying a root certificates file with the insecure flag is not allowed",
                          source=f"{view.origin}: clusters[{cluster.name}].cluster",
                          fix="drop insecure-skip-tls-verify (keep the CA), or drop certificate-authority(-data)")
    if cluster.ca is not None and cluster.ca.data is None:
        # kubectl stops here too ("unable to read certificate-authority"); carrying on with the
        # system trust store would verify against the wrong roots and misreport tls.serving-cert.
        raise ConfigError(cluster.ca.problem or "cannot be read", source=cluster.ca.source,
                          fix="fix the path, or inline the CA as certificate-authority-data")
    if cluster.ca is not None and cluster.ca.data is not None:
        load_certificates(cluster.ca.data, source=cluster.ca.source)
