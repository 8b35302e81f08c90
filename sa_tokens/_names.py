"""Name rules, checked before any request: the client layer's, shared with ``preflight``
(namespaces are path segments and DNS-1123 labels; ServiceAccount and Secret names DNS-1123
subdomains)."""

from __future__ import annotations

from kube_client._names import check_account, check_namespace, check_subdomain

__all__ = ["check_account", "check_namespace", "check_subdomain"]
