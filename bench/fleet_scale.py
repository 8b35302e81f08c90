"""`preflight fleet` over many contexts vs one `preflight check` per context, side by side.

Issue 18: "30 contexts against the local control plane plus dead ones. The wall time must be
bounded by the deadline, not by the number of clusters. Report the time per added cluster."

On one throwaway control plane started here (tests/controlplane), kubeconfigs with N contexts
that all point at it (the admin credential), for N in --sizes, and one with the largest N plus two
dead contexts: a refused port (nothing listens on 127.0.0.1:1) and the harness's black hole
(accepts, never answers). Sides, alternating (rotating order), one warm-up discarded:

  fleet        preflight fleet --kubeconfig K --timeout T --concurrency C -o json -q: one process,
               every context concurrently under one deadline
  sequential   preflight check --kubeconfig K --context X --timeout T -o json -q for each context,
               one after another, as a shell loop in a CI job would (the wall times summed)

Both with compiled modules cached (PYTHONPYCACHEPREFIX, filled by an untimed run). Printed: the
wall times, the time per added cluster (least-squares slope of wall time over N, live contexts
only), the dead run's wall time against the deadline, and the ratio sequential / fleet.

    python bench/fleet_scale.py [--runs 3] [--sizes 1,10,20,30] [--deadline 10] [--concurrency 40] [--json FILE]
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import _common as c
import yaml

SIDES = ("fleet", "sequential")
ENV: dict[str, str] = {}


def fleet_kubeconfig(cp: Any, path: Path, live: int, dead: dict[str, str]) -> Path:
    doc = yaml.safe_load(cp.admin_kubeconfig.read_text())
    real, admin = doc["clusters"][0]["cluster"], doc["users"][0]
    clusters = [{"name": "real", "cluster": real}] + [{"name": n, "cluster": {**real, "server": f"https://{a}"}} for n, a in dead.items()]
    contexts = [{"name": f"live-{i:02d}", "context": {"cluster": "real", "user": admin["name"]}} for i in range(live)]
    contexts += [{"name": n, "context": {"cluster": n, "user": admin["name"]}} for n in dead]
    out = {"apiVersion": "v1", "kind": "Config", "current-context": contexts[0]["name"], "clusters": clusters, "users": [admin],
           "contexts": contexts}
    path.write_text(yaml.safe_dump(out))
    path.chmod(0o600)
    return path


def contexts_of(path: Path) -> list[str]:
    return [ctx["name"] for ctx in yaml.safe_load(path.read_text())["contexts"]]


def run_fleet(kubeconfig: Path, deadline: float, concurrency: int) -> tuple[float, dict[str, Any]]:
    argv = [c.console_script("preflight"), "fleet", "--kubeconfig", str(kubeconfig), "--timeout", f"{deadline:g}s",
            "--concurrency", str(concurrency), "-o", "json", "-q"]
    wall, res = c.timed(argv, timeout=deadline * 4 + 60, env=ENV)
    if res.returncode not in (0, 1):
        raise SystemExit(f"preflight fleet exited {res.returncode}: {res.stderr.strip()[-400:]}")
    doc = json.loads(res.stdout)
    summary = doc["summary"]
    return wall, {"exit": res.returncode, "ready": summary["ready"], "not_ready": summary["not_ready"],
                  "not_checked": summary["not_checked"], "duration_ms": summary["duration_ms"]}


def run_sequential(kubeconfig: Path, deadline: float) -> tuple[float, dict[str, Any]]:
    total, codes = 0.0, []
    for name in contexts_of(kubeconfig):
        argv = [c.console_script("preflight"), "check", "--kubeconfig", str(kubeconfig), "--context", name,
                "--timeout", f"{deadline:g}s", "-o", "json", "-q"]
        wall, res = c.timed(argv, timeout=deadline * 4 + 60, env=ENV)
        if res.returncode not in (0, 1):
            raise SystemExit(f"preflight check --context {name} exited {res.returncode}: {res.stderr.strip()[-400:]}")
        total += wall
        codes.append(res.returncode)
    return total, {"exit": max(codes), "contexts": len(codes)}


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares seconds per added context."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def measure(configs: dict[str, Path], args: Any) -> tuple[dict[str, dict[str, list[float]]], dict[str, Any]]:
    walls: dict[str, dict[str, list[float]]] = {label: {s: [] for s in SIDES} for label in configs}
    infos: dict[str, Any] = {label: {s: [] for s in SIDES} for label in configs}
    total = args.warmup + args.runs
    for i in range(total):
        for label, path in configs.items():
            line = []
            order = SIDES[i % 2:] + SIDES[:i % 2]
            for side in order:
                wall, info = run_fleet(path, args.deadline, args.concurrency) if side == "fleet" else run_sequential(path, args.deadline)
                if i >= args.warmup:
                    walls[label][side].append(wall)
                    infos[label][side].append(info)
                line.append(f"{side} {wall:.2f}s (exit {info['exit']})")
            print(f"  {'warm-up' if i < args.warmup else f'run {i - args.warmup + 1}'} {label:>14}: " + ", ".join(line), flush=True)
    return walls, infos


def report(walls: dict[str, dict[str, list[float]]], infos: dict[str, Any], sizes: list[int], dead_label: str, args: Any) -> dict[str, Any]:
    c.section("wall time, process start to exit (seconds)")
    rows = []
    for label, sides in walls.items():
        for side in SIDES:
            rows.append(c.timing_row(f"{label}: {side}", sides[side]))
    print(c.table(["contexts: side", "median", "min", "max", "n"], rows))
    per = {side: slope([(n, statistics.median(walls[f"{n} live"][side])) for n in sizes]) for side in SIDES}
    dead_fleet = statistics.median(walls[dead_label]["fleet"])
    dead_seq = statistics.median(walls[dead_label]["sequential"])
    fleet_info = infos[dead_label]["fleet"][0]
    c.section("time per added cluster (least-squares slope over the live-only sizes)")
    print(c.table(["side", "seconds per added context"], [[s, f"{per[s] * 1000:.0f} ms"] for s in SIDES]))
    c.section(f"the dead run: {max(sizes)} live + refused + black hole, --timeout {args.deadline:g}s")
    print(f"fleet: {dead_fleet:.2f}s wall (deadline {args.deadline:g}s; over it by {dead_fleet - args.deadline:+.2f}s, "
          f"interpreter start and exit included); {fleet_info['ready']} ready, {fleet_info['not_ready']} not ready, "
          f"{fleet_info['not_checked']} not checked; exit {fleet_info['exit']}")
    print(f"sequential: {dead_seq:.2f}s (each dead context costs its own deadline)")
    print(f"ratio sequential / fleet: {dead_seq / dead_fleet:.1f}x")
    largest = f"{max(sizes)} live"
    print(f"without dead ones, at {max(sizes)} contexts: sequential / fleet = "
          f"{statistics.median(walls[largest]['sequential']) / statistics.median(walls[largest]['fleet']):.1f}x")
    bounded = dead_fleet <= args.deadline + 2.0
    print(f"bounded by the deadline (wall <= deadline + 2 s of process start-up and teardown): {'MET' if bounded else 'MISSED'}")
    return {"per_added_context_s": per, "dead_fleet_s": dead_fleet, "dead_sequential_s": dead_seq, "bounded": bounded}


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0], runs=3)
    p.add_argument("--sizes", default="1,10,20,30", help="live context counts (comma-separated)")
    p.add_argument("--deadline", type=float, default=10.0, help="--timeout of both sides (s)")
    p.add_argument("--concurrency", type=int, default=40, help="preflight fleet --concurrency")
    args = p.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print("bench/fleet_scale.py: preflight fleet vs one preflight check per context")
    start = c.machine_facts()
    c.print_facts(start)
    res: dict[str, Any] = {"machine_start": start, "sizes": sizes, "deadline": args.deadline, "concurrency": args.concurrency}
    with c.throwaway_cluster("fleet", keep=args.keep) as cp:
        work = cp.workdir.parent
        blackhole = cp.break_("blackhole")
        configs = {f"{n} live": fleet_kubeconfig(cp, work / f"fleet-{n}.conf", n, {}) for n in sizes}
        dead_label = f"{max(sizes)} live + 2 dead"
        configs[dead_label] = fleet_kubeconfig(cp, work / "fleet-dead.conf", max(sizes),
                                               {"refused": "127.0.0.1:1", "blackhole": blackhole})
        global ENV
        ENV = c.python_env(bytecode=True, cache=work / "pycache")
        run_fleet(configs[f"{min(sizes)} live"], args.deadline, args.concurrency)  # fills the bytecode cache, untimed
        c.section("timed runs")
        walls, infos = measure(configs, args)
    res["machine_end"] = c.machine_facts()
    res["walls"], res["infos"] = walls, infos
    res["result"] = report(walls, infos, sizes, dead_label, args)
    c.finish(start, res, args.json)


if __name__ == "__main__":
    c.run_main(main)
