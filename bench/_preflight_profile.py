"""Run ``preflight check`` once in this (fresh) interpreter and record where its time goes.

Used by check_vs_kubectl.py as a subprocess, never timed against kubectl:

    python bench/_preflight_profile.py OUT.json check --kubeconfig ... -o json -q

It imports what the check command needs up front (timed, without -X importtime's own
overhead), wraps two private seams to timestamp every collector ("fact") and every HTTP
request, then calls ``preflight._cli.main.main(argv)``. Private seams change: if one is gone the
profile says so instead of failing the benchmark.
"""
from __future__ import annotations

import time

T0 = time.perf_counter()
T0_EPOCH = time.time()  # the parent compares it with its own spawn time: interpreter start-up

import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402


def main() -> None:
    out_path, argv = sys.argv[1], sys.argv[2:]
    import preflight._cli.main as cli

    t_cli = time.perf_counter()
    # What `check` imports lazily (see preflight/_cli.py: heavy modules are imported inside
    # the commands); anything still imported during the run is listed as `lazy_modules`.
    import preflight._cli.check  # noqa: F401
    import kube_client._durations  # noqa: F401
    import preflight._engine.render  # noqa: F401
    import kube_client._target  # noqa: F401

    t_imports = time.perf_counter()
    requests: list[dict[str, object]] = []
    facts: dict[str, tuple[float, float]] = {}
    notes = []
    lock = threading.Lock()
    try:
        import kube_client._http as http
        import preflight._engine.runner as runner

        once = http.KubeClient._once
        collect = runner.Facts._collect

        def timed_once(self, method, url, body=None, *rest, **kw):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            status = "error"
            try:
                resp = once(self, method, url, body, *rest, **kw)
                status = str(resp.status)
                return resp
            finally:
                with lock:
                    requests.append({"method": method, "path": url.split("?")[0], "query": url.partition("?")[2],
                                     "body": body.decode(errors="replace") if isinstance(body, bytes) else None,
                                     "thread": threading.current_thread().name, "status": status,
                                     "start": t - T0, "end": time.perf_counter() - T0})

        def timed_collect(self, name, future):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                collect(self, name, future)
            finally:
                facts[name] = (t - T0, time.perf_counter() - T0)

        http.KubeClient._once = timed_once
        runner.Facts._collect = timed_collect
    except (ImportError, AttributeError) as exc:
        notes.append(f"no per-request profile: {exc}")
    before = set(sys.modules)
    stdout = io.StringIO()
    t_run = time.perf_counter()
    with contextlib.redirect_stdout(stdout):
        code = cli.main(argv)
    t_done = time.perf_counter()
    try:
        summary = json.loads(stdout.getvalue())["summary"]
    except (ValueError, KeyError):
        summary = {}
    doc = {
        "exit_code": code,
        "cli_import_s": t_cli - T0,
        "check_imports_s": t_imports - t_cli,
        "run_s": t_done - t_run,
        "run_started_s": t_run - T0,
        "summary": summary,
        "facts": {k: {"start": a, "end": b} for k, (a, b) in facts.items()},
        "requests": sorted(requests, key=lambda r: r["start"]),
        "lazy_modules": sorted(m for m in set(sys.modules) - before if not m.startswith("_")),
        "notes": notes,
        "t0_epoch": T0_EPOCH,
    }
    doc["end_epoch"] = time.time()  # the parent compares it with the exit time: interpreter shutdown
    with open(out_path, "w") as fh:
        json.dump(doc, fh)


if __name__ == "__main__":
    main()
