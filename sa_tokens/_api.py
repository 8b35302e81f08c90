"""The Python API: the same operations as the command line, returning typed results."""

from __future__ import annotations

from collections.abc import Callable

from kube_client._http import KubeClient
from kube_client._deadline import Deadline
from kube_client._target import resolve_target

from ._ensure import EnsureResult, RotateResult, ensure_token, rotate_token
from ._names import check_account, check_namespace
from ._status import StatusReport, token_status

__all__ = ["connect", "ensure", "rotate", "status"]

# Requests around a wait: reading the account, creating, verifying. Generous: it only bounds a hung API.
_REQUEST_BUDGET = 60.0


def connect(*, kubeconfig: str | None = None, context: str | None = None, timeout: float = _REQUEST_BUDGET) -> KubeClient:
    """A client for the context kubectl would use (``--kubeconfig``/``KUBECONFIG``/in-cluster)."""
    return KubeClient(resolve_target(kubeconfig=kubeconfig, context=context), Deadline(timeout))


def ensure(
    namespace: str,
    name: str,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    client: KubeClient | None = None,
    create_sa: bool = False,
    secret_name: str | None = None,
    wait: float = 60.0,
    force_create: bool = False,
) -> EnsureResult:
    # Names before connecting: a kubeconfig's exec credential plugin runs on connect.
    check_account(namespace, name, secret_name)
    client = client or connect(kubeconfig=kubeconfig, context=context, timeout=wait + _REQUEST_BUDGET)
    return ensure_token(client, namespace, name, create_sa=create_sa, secret_name=secret_name, wait=wait, force_create=force_create)


def status(namespace: str | None = None, *, kubeconfig: str | None = None, context: str | None = None,
           client: KubeClient | None = None) -> StatusReport:
    """``namespace=None`` lists every namespace."""
    if namespace is not None:
        check_namespace(namespace)
    return token_status(client or connect(kubeconfig=kubeconfig, context=context), namespace)


def rotate(
    namespace: str,
    name: str,
    *,
    grace: float = 600.0,
    kubeconfig: str | None = None,
    context: str | None = None,
    client: KubeClient | None = None,
    wait: float = 60.0,
    before_delete: Callable[[EnsureResult], None] | None = None,
) -> RotateResult:
    check_account(namespace, name)
    client = client or connect(kubeconfig=kubeconfig, context=context, timeout=grace + wait + _REQUEST_BUDGET)
    return rotate_token(client, namespace, name, grace=grace, wait=wait, before_delete=before_delete)
