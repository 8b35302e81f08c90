"""The ``sa-tokens`` command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="sa-tokens", message="%(prog)s %(version)s")
def cli() -> None:
    """Create, verify and audit long-lived ServiceAccount tokens."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="sa-tokens", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        click.echo(f"sa-tokens: error: {exc.format_message()}", err=True)
        return 2
    return int(result) if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
