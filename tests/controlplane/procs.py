"""Starting, identifying and stopping the harness's processes; choosing free ports.

Every process is started in its own session (so the CLI can exit and leave it running, and
a terminal's Ctrl-C does not reach it) with stdout+stderr appended to one log file. A pid
alone is not an identity: pids are reused. A process is ours only if /proc/<pid>/stat still
shows the start time we recorded AND its command line mentions the workdir; nothing is
signalled otherwise.

Deliberately Linux-only (/proc). It never kills by name.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# Ports handed out by this Python process and not yet known to be bound by their owner:
# two clusters started back to back in one test run must not be given the same port.
_handed_out: set[int] = set()


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            held.append(s)  # keep it bound so the next bind(0) cannot return the same port
            port = s.getsockname()[1]
            if port not in _handed_out:
                ports.append(port)
    finally:
        for s in held:
            s.close()
    _handed_out.update(ports)
    return ports


def port_in_use(port: int) -> bool:
    """True if something listens on 127.0.0.1:port. SO_REUSEADDR, as Go's listeners set it,
    so connections of a just-stopped server lingering in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    state: str  # R, S, D, Z, ...
    pgrp: int
    starttime: int  # clock ticks after boot: together with the pid, an identity
    threads: int
    argv: tuple[str, ...]

    @property
    def exited(self) -> bool:
        # A Go process tearing down shows its leader as a zombie while other threads still
        # hold its sockets: only a zombie with no threads left has released its ports.
        return self.state == "Z" and self.threads <= 1


def proc_info(pid: int) -> ProcInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    argv = tuple(a.decode("utf-8", "replace") for a in raw.split(b"\0") if a)
    return ProcInfo(pid, fields[0], int(fields[2]), int(fields[19]), int(fields[17]), argv)


def is_ours(pid: int | None, starttime: int | None, marker: str) -> bool:
    """True if `pid` is alive (not a zombie) and is the very process we recorded."""
    if not pid:
        return False
    info = proc_info(pid)
    if info is None or info.exited:
        return False
    if starttime is not None and info.starttime != starttime:
        return False
    return any(marker in a for a in info.argv)


def spawn(argv: list[str], log_path: Path, *, cwd: Path, env: dict[str, str] | None = None,
          banner: str | None = None) -> tuple[subprocess.Popen, int]:
    """Start `argv` detached in a new session, output appended to `log_path`.

    Returns the Popen (so this process can reap it) and the /proc start time.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        if banner:
            log.write(f"\n===== harness: {banner} =====\n".encode())
            log.flush()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=cwd, env=env, start_new_session=True, close_fds=True,
        )
    return proc, _exec_finished(proc.pid, argv)


def _exec_finished(pid: int, argv: list[str], timeout: float = 5.0) -> int:
    """The start time of `pid` once /proc shows it running `argv`. Popen returns when exec
    closes its error pipe, but the kernel sets up the new command line a moment later: read
    too early, /proc/<pid>/cmdline is still empty, and `is_ours` took a process just started
    for one that had exited (6 spawns in 4,000 here; it failed `up --node` once with
    "containerd exited during startup" and an empty log)."""
    wanted = tuple(a for a in argv if a)
    deadline = time.monotonic() + timeout
    while True:
        info = proc_info(pid)
        if info is None or info.exited or info.argv == wanted or time.monotonic() > deadline:
            return info.starttime if info else 0
        time.sleep(0.001)


def signal_ours(pid: int, starttime: int | None, marker: str, sig: int) -> bool:
    """Send `sig` to the process (and its process group when it leads one) if it is ours."""
    if not is_ours(pid, starttime, marker):
        return False
    info = proc_info(pid)
    try:
        if info is not None and info.pgrp == pid:
            os.killpg(pid, sig)  # our processes lead their own session/group
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def terminate(targets: list[tuple[int, int | None]], marker: str, timeout: float = 20.0,
              children: dict[int, subprocess.Popen] | None = None,
              first_signal: int = signal.SIGTERM) -> None:
    """Send `first_signal` (SIGTERM) to every (pid, starttime) that is ours, wait up to
    `timeout` for them to exit, then SIGKILL what is left and wait again."""
    children = children or {}
    live = [(p, st) for p, st in targets if signal_ours(p, st, marker, first_signal)]
    deadline = time.monotonic() + timeout
    for sig_deadline, sig in ((deadline, None), (deadline + 10, signal.SIGKILL)):
        if sig is not None:
            live = [(p, st) for p, st in live if signal_ours(p, st, marker, sig)]
        while live and time.monotonic() < sig_deadline:
            for p, _ in live:
                if p in children:
                    children[p].poll()  # reap our own children so they do not linger as zombies
            live = [(p, st) for p, st in live if is_ours(p, st, marker)]
            if live:
                time.sleep(0.1)
        if not live:
            return
    raise RuntimeError(f"processes {[p for p, _ in live]} survived SIGKILL")


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        info = Path(f"/proc/{pid}/stat").read_text()
        pid = int(info[info.rindex(")") + 2 :].split()[1])
    return pids


def processes_mentioning(marker: str) -> list[ProcInfo]:
    """Live processes whose command line contains `marker`, except this one and its parents
    (a `python -m tests.controlplane down --workdir DIR` mentions DIR itself)."""
    skip = _ancestors()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        info = proc_info(int(entry))
        if info and not info.exited and any(marker in a for a in info.argv):
            found.append(info)
    return found
