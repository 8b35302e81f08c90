"""The command-line error boundary both tools share: expected failures become one line.

Usage errors and ``PreflightError`` print ``<prog>: error: ...`` on stderr and return the
documented exit code.
"""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

from ._errors import EXIT_UNUSABLE, PreflightError, describe_bug

__all__ = ["console_script", "interrupt_on_sigterm", "invoke"]


def invoke(group: click.Group, prog: str, argv: Sequence[str] | None, obj: Any = None) -> int:
    """Run a click group; the one place expected failures become one line and an exit code.

    Usage errors and ``PreflightError`` print ``<prog>: error: ...`` on stderr and return the
    documented code. Anything else is a bug, and still one line with exit 2: its type and
    where it was raised, never its message."""
    try:
        result = group.main(args=list(argv) if argv is not None else None, prog_name=prog, standalone_mode=False, obj=obj)
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code)
    except click.UsageError as exc:
        sub = exc.ctx.command_path.split(" ", 1)[-1] if exc.ctx and " " in exc.ctx.command_path else ""
        hint = f" (see '{prog} {sub} --help')" if sub else ""
        click.echo(f"{prog}: error: {exc.format_message()}{hint}", err=True)
        return EXIT_UNUSABLE
    except (click.Abort, KeyboardInterrupt):
        click.echo(f"{prog}: interrupted", err=True)
        return EXIT_UNUSABLE
    except PreflightError as exc:
        click.echo(f"{prog}: error: {exc}", err=True)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug is one line too
        # Type and raising line only: foreign messages quote their input, a token included.
        # PREFLIGHT_DEBUG=1 re-raises for the traceback.
        if os.environ.get("PREFLIGHT_DEBUG") == "1":
            raise
        click.echo(f"{prog}: error: unexpected {describe_bug(exc)}: this is a bug, please report it "
                   "(PREFLIGHT_DEBUG=1 shows the traceback)", err=True)
        return EXIT_UNUSABLE
    return int(result) if isinstance(result, int) else 0


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so ``finally`` clean-ups run: Jenkins aborts a build with
    SIGTERM, and a --deep canary or a half-done report must not be left behind."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def console_script(main: Callable[[], int]) -> NoReturn:
    """Run a console script's ``main`` and exit with its code, paying only for what it uses.

    A ``check`` spends about a third of its wall time starting and stopping the interpreter
    (bench/README.md, "Start-up"). Two costs are ours to skip:

    - the cyclic garbage collector, which walks every object the imports create, over and over
      while they are created: it stays off for the life of the process (a run is seconds long,
      and what it leaves in cycles goes with the process);
    - module teardown at exit (about 50 ms): the process ends with ``os._exit`` once what
      teardown does that matters is done: SIGTERM treated as Ctrl-C, streams flushed,
      ``atexit`` handlers run (temporary-file clean-ups are among them).

    When that cannot be proven safe, the exit is the ordinary one: a flush that fails (a closed
    pipe: Python reports it its own way) or another non-daemon thread still running (the
    interpreter waits for those)."""
    gc.disable()
    interrupt_on_sigterm()
    code = main()
    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    if others:
        sys.exit(code)
    atexit._run_exitfuncs()  # what Py_Finalize would run: tempfile/weakref finalizers, logging.shutdown
    os._exit(code)
