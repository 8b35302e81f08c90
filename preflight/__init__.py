"""kube-preflight: can this Helm deploy succeed right now, and if not, why?

The command line (``preflight``) is the main interface; this package exposes only what a
program embedding it needs: the outcome model and the CLI entry point.
"""

from __future__ import annotations

__version__ = "0.1.0"

from kube_client._errors import ClusterError, ConfigError, PreflightError

from ._engine.model import Finding, Outcome, Report

__all__ = [
    "ClusterError",
    "ConfigError",
    "Finding",
    "Outcome",
    "PreflightError",
    "Report",
    "__version__",
    "main",
]


def main(argv: list[str] | None = None) -> int:
    """Run ``preflight`` with ``argv`` and return its exit code."""
    from ._cli.main import main as _main

    return _main(argv)
