"""The harness's own small error hierarchy, and the one way it waits for anything.

    HarnessError (RuntimeError)          expected failure; `summary` is one line for the CLI
     ├── HarnessTimeout (+ TimeoutError) a condition did not hold before its deadline
     └── CommandFailed (+ CalledProcessError)  kubectl/helm/kubeadm exited non-zero

Every synchronisation in the harness goes through `wait_for`: poll a condition until a
deadline, never a bare sleep. Timeouts name what was awaited and carry the tail of the log
that explains it (`detail`), which the CLI leaves out to keep its error to one line.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import TypeVar
from collections.abc import Callable

T = TypeVar("T")


class HarnessError(RuntimeError):
    """An expected failure: workdir not initialised, port in use, build failed, ..."""

    def __init__(self, summary: str, detail: str | None = None):
        self.summary = summary
        self.detail = detail
        super().__init__(summary if not detail else f"{summary}\n{detail}")


class HarnessTimeout(HarnessError, TimeoutError):
    """A condition did not hold before its deadline."""


class CommandFailed(HarnessError, subprocess.CalledProcessError):
    """A real CLI (kubectl, helm, kubeadm) exited non-zero. Output is kept, not printed."""

    def __init__(self, argv: list[str], result: subprocess.CompletedProcess):
        subprocess.CalledProcessError.__init__(
            self, result.returncode, argv, output=result.stdout, stderr=result.stderr
        )
        err = (result.stderr or "").strip().splitlines()
        tool = Path(argv[0]).name
        last = err[-1] if err else "(no stderr)"
        HarnessError.__init__(
            self,
            f"{tool} {_short_args(argv[1:])} failed with exit code {result.returncode}: {last}",
            "\n".join(err[-20:]) or None,
        )

    def __str__(self) -> str:  # CalledProcessError's __str__ would drop stderr
        return HarnessError.__str__(self)


def _short_args(args: list[str]) -> str:
    # Drop global connection flags: they only repeat the workdir and say nothing new.
    shown = [a for a in args if not a.startswith(("--kubeconfig", "--cache-dir"))]
    text = " ".join(shown)
    return text if len(text) <= 120 else text[:117] + "..."


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file ('' if it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    *,
    interval: float = 0.5,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy; return that value.

    Raises HarnessTimeout (a TimeoutError) naming `what` after `timeout` seconds; `detail`
    (called only then) adds context such as a log tail. Exceptions from the predicate
    propagate: a predicate that can fail transiently must catch that itself.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessTimeout(
                f"timed out after {timeout:.0f}s waiting for {what}",
                detail() if detail else None,
            )
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
