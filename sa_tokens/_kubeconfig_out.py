"""A kubeconfig for a ServiceAccount token, written 0600 in one step."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from kube_client._files import write_atomic

__all__ = ["kubeconfig_for", "write_secret_file"]


def kubeconfig_for(*, server: str, ca_pem: bytes | None, namespace: str, account: str, token: str, cluster: str = "kubernetes",
                   tls_server_name: str = "", proxy_url: str = "") -> str:
    """``tls_server_name`` and ``proxy_url`` carry over from the source cluster: without them a
    kubeconfig that reaches the API server only through a proxy, or by another name, would not work."""
    user = f"{namespace}-{account}"
    cluster_body: dict[str, object] = {"server": server}
    if tls_server_name:
        cluster_body["tls-server-name"] = tls_server_name
    if proxy_url:
        cluster_body["proxy-url"] = proxy_url
    if ca_pem:
        cluster_body["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    context = f"{user}@{cluster}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": cluster_body}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user, "namespace": namespace}}],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` readable only by its owner, in one rename (the client layer's writer).
    Raises ``ConfigError``."""
    write_atomic(path, text, mode=0o600)
