"""The console scripts' exit (kube_client._boundary.console_script): it skips the interpreter's
teardown, so these prove that nothing teardown did for us is lost: buffered output, the exit
code, atexit clean-ups, a non-daemon thread's work, and Python's own report of a closed pipe."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


# stdout buffered, as in production (the dev shell may set PYTHONUNBUFFERED)
BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _run(tmp_path: Path, body: str, **kw: object) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text("from kube_client._boundary import console_script\n" + textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=BUFFERED, **kw)  # type: ignore[call-overload, no-any-return]


def test_output_exit_code_and_atexit_clean_ups_survive_the_fast_exit(tmp_path: Path) -> None:
    result = _run(tmp_path, """
        import atexit, sys, tempfile, pathlib
        keep = tempfile.TemporaryDirectory(dir=".")   # removed by its weakref finalizer, an atexit handler
        pathlib.Path(keep.name, "secret").write_text("x")
        atexit.register(lambda: pathlib.Path("atexit-ran").write_text("yes"))
        def main():
            sys.stdout.write("report line\\n" * 1000)  # more than one pipe buffer, still buffered
            sys.stderr.write("one line on stderr")
            return 3
        console_script(main)
        """)
    assert result.returncode == 3
    assert result.stdout == "report line\n" * 1000
    assert result.stderr == "one line on stderr"
    assert (tmp_path / "atexit-ran").read_text() == "yes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atexit-ran", "script.py"]  # the temporary folder is gone


def test_a_non_daemon_thread_still_finishes_its_work(tmp_path: Path) -> None:
    result = _run(tmp_path, """
        import pathlib, threading
        started = threading.Event()
        def work():
            started.set()
            threading.Event().wait(0.2)
            pathlib.Path("thread-done").write_text("yes")
        def main():
            threading.Thread(target=work).start()
            started.wait(10)
            return 0
        console_script(main)
        """)
    assert result.returncode == 0
    assert (tmp_path / "thread-done").read_text() == "yes"


def test_a_closed_stdout_is_python_s_ordinary_exit(tmp_path: Path) -> None:
    # `preflight check | head -0`: the reader is gone before the flush. The fast exit must not
    # hide that; Python's exit reports it (exit 120) the way every Python script does.
    script = tmp_path / "script.py"
    script.write_text("from kube_client._boundary import console_script\nimport sys\n"
                      "console_script(lambda: sys.stdout.write('x') and 0)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=BUFFERED)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 120
    assert "Exception ignored" in err and "BrokenPipeError" in err
