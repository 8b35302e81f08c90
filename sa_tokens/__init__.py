"""Long-lived ServiceAccount tokens, created, verified and audited correctly.

Since Kubernetes 1.24 no token Secret is created for a new ServiceAccount; CI systems that
need a long-lived token ask for one with a ``kubernetes.io/service-account-token`` Secret,
which kube-controller-manager fills in. This package does that idempotently, waits for it,
proves the token authenticates, and audits what exists.

    import sa_tokens
    result = sa_tokens.ensure("ci", "jenkins", create_sa=True)       # EnsureResult
    result.identity        # 'system:serviceaccount:ci:jenkins'
    result.token           # the secret itself: excluded from repr and summary()
    sa_tokens.status("ci").accounts                                  # AccountStatus rows

Errors: ``ConfigError`` (bad input, exit 2), ``EnsureError`` (could not ensure, exit 1), and
the other ``preflight.PreflightError`` subclasses for an unreachable or refusing cluster.
"""

from __future__ import annotations

__version__ = "0.1.0"

from kube_client._errors import ConfigError, PreflightError

from ._api import connect, ensure, rotate, status
from ._ensure import EnsureError, EnsureResult, RotateResult
from ._kubeconfig_out import kubeconfig_for
from ._status import AccountStatus, StatusReport, TokenSecret

__all__ = [
    "AccountStatus",
    "ConfigError",
    "EnsureError",
    "EnsureResult",
    "PreflightError",
    "RotateResult",
    "StatusReport",
    "TokenSecret",
    "__version__",
    "connect",
    "ensure",
    "kubeconfig_for",
    "rotate",
    "status",
]
