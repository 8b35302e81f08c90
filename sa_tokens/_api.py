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

# Requests around a wait: reading the account, creating, verifying; the CLI's --timeout default
# is the wait plus this, as check's is 20 s.
REQUEST_BUDGET = 20.0


def connect(*, kubeconfig: str | None = None, context: str | None = None, timeout: float = REQUEST_BUDGET) -> KubeClient:
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
    timeout: float | None = None,
) -> EnsureResult:
    """``timeout``: the deadline of the whole run, waiting included (default: ``wait`` + 20 s)."""
    # Names before connecting: a kubeconfig's exec credential plugin runs on connect.
    check_account(namespace, name, secret_name)
    client = client or connect(kubeconfig=kubeconfig, context=context, timeout=timeout if timeout is not None else wait + REQUEST_BUDGET)
    return ensure_token(client, namespace, name, create_sa=create_sa, secret_name=secret_name, wait=wait, force_create=force_create)


def status(namespace: str | None = None, *, kubeconfig: str | None = None, context: str | None = None,
           client: KubeClient | None = None, timeout: float = REQUEST_BUDGET) -> StatusReport:
    """``namespace=None`` lists every namespace; ``timeout`` is the deadline of the whole run."""
    if namespace is not None:
        check_namespace(namespace)
    return token_status(client or connect(kubeconfig=kubeconfig, context=context, timeout=timeout), namespace)


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
    timeout: float | None = None,
) -> RotateResult:
    """``timeout``: the deadline of the requests and the wait (default: ``wait`` + 20 s); the
    ``grace`` period the old tokens are kept for comes on top of it."""
    check_account(namespace, name)
    budget = timeout if timeout is not None else wait + REQUEST_BUDGET
    client = client or connect(kubeconfig=kubeconfig, context=context, timeout=grace + budget)
    return rotate_token(client, namespace, name, grace=grace, wait=wait, before_delete=before_delete)
