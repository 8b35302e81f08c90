"""Shared pieces of the benchmarks: a throwaway control plane, timing, statistics, machine
facts, kubectl request counting and a connection-counting TCP relay.

What it deliberately does not do: assert anything about speed. Every benchmark measures both
sides in one run, prints the numbers and the ratio, and leaves the judgement to the reader
(bench/README.md records what was measured and when).

Import it from a benchmark script run as ``python bench/<name>.py`` from the repository
root: the script's folder (bench/) is on sys.path, and this module puts the repository root
there too so ``tests.controlplane`` imports.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402  (a dependency of the package itself)

BIN = Path(sys.executable).parent  # the venv's bin: preflight and sa-tokens console scripts


def console_script(name: str) -> str:
    """The console script installed next to this interpreter (the venv), else on PATH."""
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        sys.exit(f"bench: cannot find the {name!r} console script next to {sys.executable} or on PATH "
                 "(pip install -e . into the venv you run this with)")
    return found


def pip_installed(folder: Path, *, commit: str = "") -> Path:
    """kube-preflight as a user gets it from ``pip install``: this tree (or ``commit`` of this
    repository) built into a wheel and installed, byte-compiled, into a new venv at ``folder``
    (no editable-install finder, whose start-up costs about 20 ms). Its dependencies are this
    venv's (the same versions), reached by a path entry, so nothing is downloaded. Returns the
    venv's bin folder."""
    source = REPO
    if commit:  # an older version, side by side with this one
        source = folder / "source"
        source.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    wheels = folder / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "venv")], check=True)
    venv_python = folder / "venv" / "bin" / "python"
    site = subprocess.run([str(venv_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    ours = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "dependencies.pth").write_text(ours + "\n")  # a plain path line: that folder's own .pth files do not run
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv_python), "install", "--quiet", "--no-deps", "--no-index",
                    *map(str, wheels.glob("*.whl"))], check=True, capture_output=True)
    where = subprocess.run([str(venv_python), "-c", "import preflight; print(preflight.__file__)"], check=True, capture_output=True, text=True,
                           cwd=folder)  # not the repository, whose preflight/ would come first
    if not where.stdout.startswith(site):
        sys.exit(f"bench: the wheel venv imports preflight from {where.stdout.strip()}, not from its own {site}")
    return folder / "venv" / "bin"


def parser(description: str, *, runs: int = 10) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--runs", type=int, default=runs, help=f"measured runs per side (default {runs})")
    p.add_argument("--warmup", type=int, default=1, help="discarded warm-up runs per side (default 1)")
    p.add_argument("--json", type=Path, help="also write every measurement to FILE as JSON")
    p.add_argument("--keep", action="store_true", help="leave the temp dir (cluster stopped) for inspection")
    return p


# -- statistics and output ------------------------------------------------------------------

def summary(values: Sequence[float]) -> dict[str, float]:
    vals = list(values)
    if not vals:
        return {"n": 0, "median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"n": len(vals), "median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "mean": statistics.fmean(vals), "stdev": statistics.stdev(vals) if len(vals) > 1 else 0.0}


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, align: str | None = None) -> str:
    """Plain-text table; ``align`` is one char per column, 'l' or 'r' (default: first l, rest r)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)
    out = []
    for n, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def timing_row(label: str, values: Sequence[float], unit: str = "s") -> list[str]:
    s = summary(values)
    f = fmt_s if unit == "s" else fmt_ms
    return [label, f(s["median"]), f(s["min"]), f(s["max"]), str(s["n"])]


def write_json(path: Path | None, doc: dict[str, Any]) -> None:
    if path is None:
        return
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"\nwrote {path}")


def finish(start: dict[str, Any], res: dict[str, Any], path: Path | None) -> None:
    """The closing lines every benchmark prints: machine facts at start and end (a busy
    machine explains odd numbers), then the raw results as JSON when asked."""
    print()
    print_facts(start, when="start")
    print_facts(res["machine_end"], when="end")
    write_json(path, res)


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)))


# -- machine facts ----------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def other_control_planes(exclude: str | None = None) -> list[int]:
    """Pids of kube-apiserver processes not started for ``exclude`` (another developer's
    cluster tests, which compete for the same cores)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name == "kube-apiserver":
            if exclude and any(exclude.encode() in a for a in argv):
                continue
            pids.append(int(entry.name))
    return sorted(pids)


def code_facts() -> dict[str, Any]:
    """Which code was measured: HEAD and whether the packages or scripts/ had local changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = git("status", "--porcelain", "--", "kube_client", "preflight", "sa_tokens", "scripts")  # "XY path" lines
    return {"commit": git("rev-parse", "--short", "HEAD").strip() or "?",
            "uncommitted_changes": [line[3:] for line in dirty.splitlines() if line.strip()],
            "bytecode_in_tree": (REPO / "preflight" / "__pycache__").is_dir()}


def machine_facts(exclude: str | None = None) -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "loadavg_1_5_15": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "kernel": platform.release(),
        "other_kube_apiservers": len(other_control_planes(exclude)),
        "code": code_facts(),
    }


def print_facts(facts: dict[str, Any], *, when: str = "start") -> None:
    la = facts["loadavg_1_5_15"]
    print(f"machine ({when}): {facts['date_utc']}, {facts['cpus_usable']}/{facts['cpus']} cores ({facts['cpu_model']}), "
          f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, python {facts['python']}, "
          f"other kube-apiservers running: {facts['other_kube_apiservers']}")
    code = facts.get("code") or {}
    if when == "start" and code:
        print(f"code: commit {code['commit']}" + (f", with uncommitted changes in {', '.join(code['uncommitted_changes'])}"
                                                  if code["uncommitted_changes"] else ", clean"))
    if la[0] > (facts["cpus_usable"] or 1) or facts["other_kube_apiservers"]:
        print("  note: the machine is busy (load above the core count, or another control plane runs): "
              "expect noisy numbers; re-run when quiet")


# -- the throwaway control plane --------------------------------------------------------------

class _Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP, turned into the same unwinding as Ctrl-C so teardown runs."""


def _raise_terminated(signum: int, _frame: Any) -> None:
    raise _Terminated(f"signal {signum}")


@contextlib.contextmanager
def throwaway_cluster(name: str, *, keep: bool = False) -> Iterator[Any]:
    """A fresh control plane in a temp dir; stopped and deleted on exit, error or Ctrl-C."""
    from tests.controlplane import ControlPlane
    from tests.controlplane.build import bin_dir_path, is_built

    bin_dir = bin_dir_path()
    if not is_built(bin_dir):
        sys.exit(f"bench: the control plane is not built in {bin_dir}; run tests/controlplane/build.sh first (20-30 min)")
    old = {s: signal.signal(s, _raise_terminated) for s in (signal.SIGTERM, signal.SIGHUP)}
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    cp = ControlPlane(tmp / "cp", bin_dir)
    t0 = time.monotonic()
    try:
        print(f"starting a throwaway control plane in {tmp} ...", flush=True)
        cp.up()  # stops what it started if it fails
        print(f"control plane {cp.version} up at {cp.server} in {time.monotonic() - t0:.1f}s", flush=True)
        yield cp
    finally:
        # A second Ctrl-C (or SIGTERM) must not interrupt the teardown and leave processes behind.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if (cp.workdir / "state.json").exists():
                t1 = time.monotonic()
                cp.down()
                print(f"control plane stopped in {time.monotonic() - t1:.1f}s", flush=True)
        finally:
            signal.signal(signal.SIGINT, previous_int)
            for s, h in old.items():
                signal.signal(s, h)
            if keep:
                print(f"kept {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)


def run_main(main: Any) -> None:
    """Run a benchmark's main(); Ctrl-C/SIGTERM end it with one line (teardown already ran)."""
    try:
        main()
    except KeyboardInterrupt as exc:
        print(f"\nbench: interrupted ({str(exc) or 'Ctrl-C'}); any control plane it started was stopped and its temp dir removed",
              file=sys.stderr)
        sys.exit(130)


def kubeconfig_copy(source: Path, dest: Path, *, server: str) -> Path:
    """A copy of ``source`` whose clusters point at ``server`` (written 0600: it holds a key)."""
    doc = yaml.safe_load(source.read_text())
    for cluster in doc.get("clusters") or []:
        cluster["cluster"]["server"] = server
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(doc, fh)
    return dest


# -- processes --------------------------------------------------------------------------------

def timed(argv: Sequence[str], *, input: str | None = None, timeout: float = 300,
          env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``argv`` to completion; (wall seconds from spawn to exit, result)."""
    t0 = time.perf_counter()
    result = subprocess.run(list(argv), capture_output=True, text=True, input=input, timeout=timeout, env=env,
                            stdin=None if input is not None else subprocess.DEVNULL)
    return time.perf_counter() - t0, result


def rotate_sides(sides: Sequence[str], argv: dict[str, tuple[list[str], dict[str, str]]], *, warmup: int,
                 runs: int) -> list[dict[str, Any]]:
    """Run each side's (command, env) warmup + runs times, the sides rotating each iteration
    (so no side always runs first, after the same neighbour); one row per run. A side that
    fails ends the benchmark with its last words."""
    rows: list[dict[str, Any]] = []
    section(f"runs ({warmup} warm-up + {runs} measured per side, sides rotating)")
    for i in range(warmup + runs):
        for side in [*sides[i % len(sides):], *sides[:i % len(sides)]]:
            command, env = argv[side]
            seconds, out = timed(command, env=env)
            if out.returncode != 0:
                sys.exit(f"bench: '{side}' failed (exit {out.returncode}): {(out.stderr or out.stdout).strip()[-400:]}")
            rows.append({"side": side, "warmup": i < warmup, "seconds": seconds})
    return rows


def python_env(*, bytecode: bool, cache: Path) -> dict[str, str]:
    """The environment for measured runs of our Python console scripts.

    bytecode=True: compiled modules are cached in ``cache`` (PYTHONPYCACHEPREFIX; an
    untimed first run fills it), as after a `pip install`, which byte-compiles. bytecode=False: as this shell
    may run it, with PYTHONDONTWRITEBYTECODE=1 and an editable install, so every run compiles
    preflight's own modules from source (site-packages keep their install-time .pyc).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")}
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def kubectl_env() -> dict[str, str]:
    """The environment for measured kubectl runs: no KUBECONFIG from the caller's shell."""
    return {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}


# kubectl -v=6 logs one line per response. 1.30+ (structured):
#   round_trippers.go:632] "Response" verb="GET" url="https://..." status="200 OK" milliseconds=8
# older releases: round_trippers.go:553] GET https://... 200 OK in 8 milliseconds
_KUBECTL_RESPONSE = (
    re.compile(r'"Response" verb="(?P<verb>[A-Z]+)" url="(?P<url>https?://[^"]+)"'),
    re.compile(r"\] (?P<verb>GET|POST|PUT|PATCH|DELETE) (?P<url>https?://\S+) \d{3}"),
)


def kubectl_requests(stderr: str) -> list[tuple[str, str]]:
    """(verb, path) of every HTTP request a ``kubectl -v=6`` run logged."""
    out = []
    for line in stderr.splitlines():
        for rx in _KUBECTL_RESPONSE:
            m = rx.search(line)
            if m:
                path = re.sub(r"^https?://[^/]+", "", m.group("url"))
                out.append((m.group("verb"), path))
                break
    return out


def is_discovery(path: str) -> bool:
    p = path.split("?")[0]
    return p in ("/api", "/apis", "/openapi/v2", "/openapi/v3") or bool(
        re.fullmatch(r"/api/v1|/apis/[^/]+/[^/]+|/apis/[^/]+", p))


# -- counting TLS handshakes ------------------------------------------------------------------

class Relay:
    """A plain TCP relay on 127.0.0.1 to the API server: it counts accepted connections and
    can hold every chunk back ``delay`` seconds in each direction, as a distant API server would
    (``delay`` = half the round trip).

    It does not terminate TLS: every client connection is one TLS handshake with the real
    API server (its certificate has IP SAN 127.0.0.1, so a kubeconfig pointing at the relay's
    port still verifies). The relay's own threads run in the benchmark's process, on the same
    cores as the sides it times.
    """

    def __init__(self, upstream: tuple[str, int], *, delay: float = 0.0) -> None:
        self.upstream = upstream
        self.delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="relay", daemon=True)

    def __enter__(self) -> Relay:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(2)
        self._listener.close()

    def take(self) -> int:
        """Connections since the last call."""
        with self._lock:
            n, self._count = self._count, 0
        return n

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._count += 1
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the delay is ours alone, not Nagle's
        back = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        back.start()
        self._pump(client, upstream)
        back.join(30)
        client.close()
        upstream.close()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        """Copy src to dst; with a delay, each chunk leaves ``delay`` after it arrived, in order."""
        chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()

        def send() -> None:
            try:
                while (chunk := chunks.get())[1]:
                    time.sleep(max(0.0, chunk[0] - time.monotonic()))
                    dst.sendall(chunk[1])
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            while data := src.recv(65536):
                chunks.put((time.monotonic() + self.delay, data))
        except OSError:
            pass
        finally:
            chunks.put((0.0, b""))  # end of stream, after what is still queued
            sender.join(30)


def count_by(items: Sequence[Any]) -> dict[Any, int]:
    return dict(Counter(items))
