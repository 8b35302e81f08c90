"""The post-renderer gate: rendered manifests pass through unchanged only when the gate is ready.

Helm pipes the rendered manifests to the post-renderer's stdin and applies what it prints
(Helm 3: ``--post-renderer <executable>``, helm.sh/docs/v3/topics/advanced/#post-rendering;
Helm 4: ``--post-renderer <postrenderer/v1 plugin>``, helm.sh/docs/plugins/migrate/). A non-zero
exit aborts the install or upgrade before anything is stored or applied (helm/helm v3.21.4
``pkg/action/install.go`` ``Install.RunWithContext``: ``renderResources`` at :319-329 before
``Releases.Create`` at :404; ``upgrade.go``: ``prepareUpgrade`` renders at :276-279, before
``performUpgrade``'s ``Releases.Create`` at :376), so exiting 1 is the veto.

Why it is built this way:
* The manifests are also the gate's ``--manifests``: it checks permissions for exactly the
  chart's kinds, and that the server serves them.
* Helm gives a post-renderer no target (no HELM_NAMESPACE, no KUBECONFIG from flags: v3
  ``pkg/postrender/exec.go`` ``execRender.Run`` sets no ``cmd.Env``; v4
  ``pkg/postrenderer/postrenderer.go`` ``postRendererPlugin.Run`` passes no env), so
  ``--context``/``--namespace`` arrive as ``--post-renderer-args``.
* Helm 4 discards a plugin's stderr, even with ``--debug`` (v4
  ``internal/plugin/runtime_subprocess.go`` ``runPostrenderer``: a buffer nothing reads), and
  shows only "exited with error". So every run writes its report to a file at a documented
  place (``report_path``), and says where on stderr, which Helm 3 shows inside its error
  (v3 ``pkg/postrender/exec.go`` ``execRender.Run`` puts it after "error output:").
* Empty output is never printed. Helm 3 accepts it and would apply an empty release, deleting
  every resource (GoogleContainerTools/skaffold#9377; only v4's ``postRendererPlugin.Run``
  rejects "empty output"); empty input is refused with exit 2.
* It also runs under ``helm template`` and ``--dry-run`` (v3 ``cmd/helm/template.go``;
  ``install.go`` renders before its dry-run return): the gate runs there too.
* It never runs when the API server is unreachable: helm fails before rendering (v3
  ``Install.RunWithContext`` and ``Upgrade.RunWithContext`` call ``KubeClient.IsReachable`` first).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

from kube_client._errors import EXIT_UNUSABLE, ConfigError

from .plugin import Gate

__all__ = ["REPORT_ENV", "default_report_path", "run_post_render", "split_report_option"]

REPORT_ENV = "PREFLIGHT_REPORT_FILE"
REPORT_NAME = "post-render-report.txt"


def default_report_path(environ: Mapping[str, str]) -> Path:
    """$PREFLIGHT_REPORT_FILE, else ``$TMPDIR/kube-preflight-<uid>/post-render-report.txt``
    (``/tmp`` when TMPDIR is unset): one folder per user, so users of one machine do not
    overwrite (or plant) each other's report."""
    if environ.get(REPORT_ENV):
        return Path(environ[REPORT_ENV]).expanduser()
    base = Path(environ.get("TMPDIR") or tempfile.gettempdir())
    return base / f"kube-preflight-{os.getuid()}" / REPORT_NAME


def split_report_option(args: Sequence[str]) -> tuple[list[str], str | None]:
    """Take ``--report FILE`` / ``--report=FILE`` out of the gate's options."""
    rest: list[str] = []
    report: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--report":
            if i + 1 >= len(args):
                raise ConfigError("--report needs a file", fix="--report FILE")
            report, i = args[i + 1], i + 2
            continue
        if arg.startswith("--report="):
            report = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return rest, report


def run_post_render(args: Sequence[str], *, gate: Gate, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO,
                    environ: Mapping[str, str]) -> int:
    """Gate the manifests on ``stdin``; print them unchanged on ``stdout`` only when ready."""
    gate_args, report_arg = split_report_option(args)
    report_path = Path(report_arg).expanduser() if report_arg else default_report_path(environ)
    manifests = stdin.read()
    if not manifests.strip():
        text = ("preflight: error: no manifests on stdin: nothing to check or pass on "
                "(run it as helm --post-renderer, or pipe helm template output into it)\n")
        return _refuse(EXIT_UNUSABLE, text, report_path, stderr)
    code, text = _gate(gate, gate_args, manifests)
    if code != 0:
        return _refuse(code, text, report_path, stderr)
    _write_report(report_path, text, code, stderr)
    stdout.write(manifests)  # byte for byte: the gate reads a decoded copy
    stdout.flush()
    return 0


def _gate(gate: Gate, args: Sequence[str], manifests: bytes) -> tuple[int, str]:
    """Run ``preflight check --manifests - ARGS`` in-process on the manifests; (exit code,
    everything it printed: the report, then its stderr lines)."""
    out, err = io.StringIO(), io.StringIO()
    # strict UTF-8: a stray byte becomes the gate's one-line "not valid YAML" error (exit 2)
    fake_stdin = io.TextIOWrapper(io.BytesIO(manifests), encoding="utf-8")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _stdin(fake_stdin):
        code = gate(["check", "--manifests", "-", *args])
    return code, out.getvalue() + err.getvalue()


@contextlib.contextmanager
def _stdin(stream: TextIO) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, stream
    try:
        yield
    finally:
        sys.stdin = saved


def _refuse(code: int, text: str, report_path: Path, stderr: TextIO) -> int:
    """Print nothing on stdout; the report (or the one-line error) on stderr and in the file."""
    where = _write_report(report_path, text, code, stderr)
    stderr.write(text.rstrip("\n") + "\n")
    if code == 1:  # exit 2 is already one line naming the problem and the fix
        stderr.write("preflight post-render: NOT READY (exit 1): no manifests passed on, so helm applies nothing"
                     + (f"; report in {where}" if where else "") + "\n")
    stderr.flush()
    return code


def _write_report(path: Path, text: str, code: int, stderr: TextIO) -> Path | None:
    """Write the report (every run, so the file never shows an older verdict). A report that
    cannot be written is said on stderr and does not change the verdict."""
    from kube_client._files import write_atomic

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = f"# kube-preflight post-render gate, {stamp}, exit {code}\n{text.rstrip(chr(10))}\n"
    try:
        if path.parent.name.startswith("kube-preflight-"):
            _private_folder(path.parent)
        write_atomic(path, body, mode=0o644)
    except (OSError, ConfigError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        stderr.write(f"preflight post-render: cannot write the report to {path}: {reason} "
                     f"(set {REPORT_ENV}=FILE, or pass --post-renderer-args=--report=FILE)\n")
        return None
    return path


def _private_folder(folder: Path) -> None:
    """The default folder sits in a shared /tmp: create it 0700, and refuse one that another
    user planted or that is a symbolic link to elsewhere."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ConfigError("is not a folder (a symbolic link?)", source=str(folder))
    if st.st_uid != os.getuid():
        raise ConfigError("belongs to another user", source=str(folder))
