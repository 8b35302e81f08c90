"""`preflight check` against `kubectl version` on a healthy control plane, side by side in one run.

Issue "Speed": a check's median wall time at most 4x `kubectl version`'s, on a healthy local
control plane. `kubectl version` is the cheapest thing a person runs to ask "is the cluster
there?": one process, one TLS handshake, one GET /version. A check asks much more (about ten
facts), so the ratio says what preflight costs beyond the question itself.

Sides, all against one throwaway control plane started here (tests/controlplane):

  kubectl version                the cluster's own kubectl v1.37.2, --kubeconfig ADMIN version
  preflight check                kube-preflight as `pip install` gives it: this tree built into
                                 a wheel and installed, byte-compiled, in a new venv
                                 (_common.pip_installed); `check --kubeconfig ADMIN -q`
  preflight check (editable)     the same command from this development venv (editable
                                 install; bytecode cached in the temp dir, filled by the warm-up)
  python -c pass (wheel venv)    the floor: the interpreter starting and stopping, nothing else
  preflight check (REV)          with --baseline REV: that commit of this repository, installed
                                 the same way, for the new numbers next to the old in one run

Sides rotate every iteration; warm-up iterations are discarded. Timed: wall time from spawn
to exit, measured here. One untimed profiled run (bench/_preflight_profile.py) shows where the
check's own time goes.

With --latency MS every side talks to the API server through a relay that adds MS to each
round trip (_common.Relay, MS/2 each way), as a cluster in another network would: the local
ratio is the worst case, where nothing but our own start-up and CPU can be seen.

    python bench/check_startup.py [--runs 20] [--warmup 2] [--baseline REV] [--latency MS] [--json FILE]
"""
from __future__ import annotations

import contextlib
import json
from typing import Any

import _common as c

SIDES = ("kubectl version", "preflight check", "preflight check (editable)", "python -c pass (wheel venv)")
TARGET = 4.0


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0], runs=20)
    p.set_defaults(warmup=2)
    p.add_argument("--baseline", metavar="REV", help="also measure this commit, installed the same way")
    p.add_argument("--latency", metavar="MS", type=float, default=0.0, help="add MS to every round trip to the API server (a relay)")
    args = p.parse_args()
    sides = SIDES + ((f"preflight check ({args.baseline})",) if args.baseline else ())
    print("bench/check_startup.py: preflight check vs kubectl version")
    start = c.machine_facts()
    c.print_facts(start)
    res: dict[str, Any] = {"machine_start": start, "rows": [], "latency_ms": args.latency}
    with c.throwaway_cluster("startup", keep=args.keep) as cp, contextlib.ExitStack() as stack:
        work = cp.workdir.parent
        print("building and installing the wheel ...", flush=True)
        wheel_bin = c.pip_installed(work / "pip-installed")
        admin = str(cp.admin_kubeconfig)
        if args.latency:
            print(f"every side goes through a relay adding {args.latency:g} ms per round trip", flush=True)
            relay = stack.enter_context(c.Relay(("127.0.0.1", cp.apiserver_port), delay=args.latency / 2000))
            admin = str(c.kubeconfig_copy(cp.admin_kubeconfig, work / "relay.conf", server=f"https://127.0.0.1:{relay.port}"))
        editable_env = c.python_env(bytecode=True, cache=work / "pycache")
        installed_env = {k: v for k, v in editable_env.items() if k != "PYTHONPYCACHEPREFIX"}  # its own install-time .pyc
        argv = {
            "kubectl version": ([str(cp.bin_dir / "kubectl"), f"--kubeconfig={admin}", "version"], c.kubectl_env()),
            "preflight check": ([str(wheel_bin / "preflight"), "check", f"--kubeconfig={admin}", "-q"], installed_env),
            "preflight check (editable)": ([c.console_script("preflight"), "check", f"--kubeconfig={admin}", "-q"], editable_env),
            "python -c pass (wheel venv)": ([str(wheel_bin / "python"), "-c", "pass"], installed_env),
        }
        if args.baseline:
            old_bin = c.pip_installed(work / "baseline", commit=args.baseline)
            argv[sides[-1]] = ([str(old_bin / "preflight"), "check", f"--kubeconfig={admin}", "-q"], installed_env)
        res["rows"] = c.rotate_sides(sides, argv, warmup=args.warmup, runs=args.runs)
        profile = work / "profile.json"
        c.timed([str(wheel_bin / "python"), str(c.REPO / "bench" / "_preflight_profile.py"), str(profile),
                 "check", f"--kubeconfig={admin}", "-o", "json", "-q"], env=installed_env)
        res["profile"] = json.loads(profile.read_text()) if profile.exists() else None
    res["machine_end"] = c.machine_facts()

    c.section("results (seconds, wall time per process)")
    times = {side: [r["seconds"] for r in res["rows"] if r["side"] == side and not r["warmup"]] for side in sides}
    base = c.summary(times["kubectl version"])["median"]
    rows = []
    for side in sides:
        s = c.summary(times[side])
        rows.append([side, c.fmt_s(s["median"]), c.fmt_s(s["min"]), c.fmt_s(s["max"]), str(s["n"]), f"{s['median'] / base:.2f}x"])
    print(c.table(["side", "median", "min", "max", "n", "vs kubectl version"], rows))
    ratio = c.summary(times["preflight check"])["median"] / base
    res["ratio"] = ratio
    through = f", both through a relay adding {args.latency:g} ms per round trip" if args.latency else ""
    print(f"ratio (median, preflight check / kubectl version): {ratio:.2f}x (issue target: at most {TARGET:.0f}x{through})")
    if args.baseline:
        old = c.summary(times[sides[-1]])["median"]
        res["baseline_ratio"] = old / base
        print(f"{args.baseline}: {old / base:.2f}x kubectl version; this tree takes {1 - c.summary(times['preflight check'])['median'] / old:.0%} less")
    prof = res.get("profile") or {}
    if prof:
        summary = prof.get("summary") or {}
        print(f"profile of one check (untimed, ms from the interpreter's first line): CLI imported {prof['cli_import_s'] * 1000:.0f}, "
              f"then the check's imports {prof['check_imports_s'] * 1000:.0f}, the run started at {prof['run_started_s'] * 1000:.0f} "
              f"and took {prof['run_s'] * 1000:.0f} (network, judging, rendering); {summary.get('http_requests')} HTTP requests, "
              f"{summary.get('tls_handshakes')} TLS handshakes")
    c.finish(start, res, args.json)


if __name__ == "__main__":
    c.run_main(main)
