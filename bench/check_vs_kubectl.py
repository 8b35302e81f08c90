"""`preflight check` vs the manual kubectl/openssl sequence of the incident, side by side.

Issue: "On a healthy local control plane, `preflight check` from process start to exit must
beat the manual sequence the incident used, measured side by side in one run: `kubectl
version`, `kubectl auth can-i` for the same permissions, `kubectl get lease` twice, `kubectl
get apiservices`, `kubectl get sa` and `get secret`, `openssl s_client | openssl x509
-enddate`. Target: at least 3x less wall time. Print the number of HTTP requests and TLS
handshakes per run (each fact fetched once). Against the black hole, exit within the deadline
plus one second."

What runs, all against one throwaway control plane started here (tests/controlplane):

  preflight          the console script: preflight check --kubeconfig ADMIN -o json -q, with
                     its compiled modules cached (PYTHONPYCACHEPREFIX in the temp dir, filled by
                     an untimed first run), as after a `pip install`, which byte-compiles
  preflight (no .pyc) the same with PYTHONDONTWRITEBYTECODE=1 and no cache: with the editable
                     install every run compiles preflight's own modules from source (how this
                     development venv runs it when the shell sets PYTHONDONTWRITEBYTECODE=1)
  kubectl (cold)     the manual sequence, each command its own process, as a person or a
                     Jenkins `sh` step runs it, with a FRESH --cache-dir per sequence (a Jenkins
                     agent typically starts with no discovery cache); the first command that
                     needs discovery fills the cache and the rest of the sequence reuses it
  kubectl (warm)     the same sequence with one --cache-dir kept across runs (best case for
                     kubectl: discovery served from disk)

The sides alternate (rotating order each iteration), one warm-up iteration is discarded.
Untimed extra runs count HTTP requests (kubectl -v=6; preflight's own JSON summary) and TLS
handshakes (a counting TCP relay in front of the API server, for both sides), profile where
preflight's time goes, and run preflight against a black-hole endpoint.

    python bench/check_vs_kubectl.py [--runs 10] [--json FILE]
"""
from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import _common as c

from preflight._facts.permissions import DEFAULT_DEPLOY, expand
from kube_client._target import resolve_target

SIDES = ("preflight", "preflight (no .pyc)", "kubectl (cold cache)", "kubectl (warm cache)")
PREFLIGHT_SIDES = SIDES[:2]
KUBECTL_SIDES = SIDES[2:]
ENVS: dict[str, dict[str, str]] = {}  # preflight side -> environment (set in main)


# -- the two sides -----------------------------------------------------------------------------

def manual_sequence(cp: Any, *, kubeconfig: Path, cache_dir: Path, namespace: str, tls_port: int,
                    verbose: bool = False) -> list[tuple[str, list[str]]]:
    """(group, argv) of the incident's manual checks, in the order a person runs them."""
    kubectl = str(cp.bin_dir / "kubectl")  # the cluster's own v1.37.2, never /usr/bin/kubectl
    base = [kubectl, f"--kubeconfig={kubeconfig}", f"--cache-dir={cache_dir}", *(["-v=6"] if verbose else [])]
    seq: list[tuple[str, list[str]]] = [("kubectl version", [*base, "version"])]
    for p in expand(DEFAULT_DEPLOY):
        resource = f"{p.resource}.{p.group}" if p.group else p.resource
        seq.append(("kubectl auth can-i", [*base, "auth", "can-i", p.verb, resource, "-n", namespace]))
    for lease in ("kube-controller-manager", "kube-scheduler"):
        seq.append(("kubectl get lease", [*base, "get", "lease", lease, "-n", "kube-system", "-o", "yaml"]))
    seq.append(("kubectl get apiservices", [*base, "get", "apiservices"]))
    seq.append(("kubectl get sa", [*base, "get", "sa", "-n", namespace]))
    seq.append(("kubectl get secret", [*base, "get", "secret", "-n", namespace]))
    seq.append(("openssl s_client | x509", [
        "sh", "-c", f"echo | openssl s_client -connect 127.0.0.1:{tls_port} -servername kubernetes 2>/dev/null"
                    " | openssl x509 -noout -enddate"]))
    return seq


def run_manual(seq: list[tuple[str, list[str]]]) -> tuple[float, dict[str, float], list[str]]:
    """Run the sequence; (total wall, wall per group, problems)."""
    per_group: dict[str, float] = defaultdict(float)
    problems = []
    total = 0.0
    for group, argv in seq:
        wall, res = c.timed(argv, env=c.kubectl_env())
        total += wall
        per_group[group] += wall
        # can-i exits 1 for "no": still an answer. Anything else is a broken comparison.
        ok = res.returncode == 0 or (group == "kubectl auth can-i" and res.stdout.strip() == "no")
        if not ok or (group.startswith("openssl") and "notAfter=" not in res.stdout):
            problems.append(f"{' '.join(argv[-6:])}: exit {res.returncode}: {(res.stderr or res.stdout).strip()[:200]}")
    return total, dict(per_group), problems


def preflight_argv(kubeconfig: Path, *extra: str) -> list[str]:
    return [c.console_script("preflight"), "check", "--kubeconfig", str(kubeconfig), "-o", "json", "-q", *extra]


def run_preflight(argv: list[str], *, timeout: float = 120, side: str = "preflight") -> tuple[float, dict[str, Any], int]:
    wall, res = c.timed(argv, timeout=timeout, env=ENVS[side])
    try:
        doc = json.loads(res.stdout)
    except ValueError:
        doc = {"error": (res.stderr or res.stdout).strip()[-500:]}
    return wall, doc, res.returncode


# -- the comparison ----------------------------------------------------------------------------

def compare(cp: Any, work: Path, args: Any, namespace: str) -> dict[str, Any]:
    admin = cp.admin_kubeconfig
    warm_cache = work / "kubectl-cache-warm"
    pf_argv = preflight_argv(admin)
    walls: dict[str, list[float]] = {s: [] for s in SIDES}
    groups: dict[str, list[dict[str, float]]] = {s: [] for s in KUBECTL_SIDES}
    pf_docs: list[dict[str, Any]] = []
    total = args.warmup + args.runs
    # Fill the bytecode cache of the .pyc side once, untimed, whatever --warmup says.
    run_preflight(pf_argv, side="preflight")
    print(f"{total} iterations ({args.warmup} warm-up), sides rotate: " + " / ".join(SIDES), flush=True)
    for i in range(total):
        k = i % len(SIDES)
        order = SIDES[k:] + SIDES[:k]
        line = []
        for side in order:
            if side in PREFLIGHT_SIDES:
                wall, doc, code = run_preflight(pf_argv, side=side)
                if code != 0:
                    raise SystemExit(f"preflight check exited {code} on the healthy cluster: {json.dumps(doc)[:2000]}")
                if i >= args.warmup:
                    pf_docs.append(doc)
            else:
                cold = side == "kubectl (cold cache)"
                cache = Path(tempfile.mkdtemp(prefix="kubectl-cache-cold-", dir=work)) if cold else warm_cache
                seq = manual_sequence(cp, kubeconfig=admin, cache_dir=cache, namespace=namespace, tls_port=cp.apiserver_port)
                wall, per_group, problems = run_manual(seq)
                if problems:
                    raise SystemExit("the manual sequence failed, the comparison would be wrong:\n  " + "\n  ".join(problems[:5]))
                if cold:
                    shutil.rmtree(cache, ignore_errors=True)
                if i >= args.warmup:
                    groups[side].append(per_group)
            if i >= args.warmup:
                walls[side].append(wall)
            line.append(f"{side} {wall:.2f}s")
        print(f"  {'warm-up' if i < args.warmup else f'run {i - args.warmup + 1:>2}'}: " + ", ".join(line), flush=True)
    return {"walls": walls, "groups": groups, "preflight_docs": pf_docs, "commands": len(manual_sequence(
        cp, kubeconfig=admin, cache_dir=warm_cache, namespace=namespace, tls_port=cp.apiserver_port))}


def count_requests(cp: Any, work: Path, namespace: str) -> dict[str, Any]:
    """Untimed: HTTP requests per kubectl command (-v=6) and TLS handshakes (relay), both sides."""
    out: dict[str, Any] = {}
    for label, cache in (("cold", Path(tempfile.mkdtemp(prefix="kubectl-cache-count-", dir=work))),
                         ("warm", work / "kubectl-cache-warm")):
        seq = manual_sequence(cp, kubeconfig=cp.admin_kubeconfig, cache_dir=cache, namespace=namespace,
                              tls_port=cp.apiserver_port, verbose=True)
        per_group: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for group, argv in seq:
            if group.startswith("openssl"):
                continue
            _, res = c.timed(argv, env=c.kubectl_env())
            per_group[group] += c.kubectl_requests(res.stderr)
        reqs = [r for rs in per_group.values() for r in rs]
        dup = {f"{v} {p}": n for (v, p), n in Counter((v, p.split("?")[0]) for v, p in reqs).items() if n > 1}
        out[f"kubectl_{label}"] = {
            "total": len(reqs),
            "discovery": sum(1 for _, p in reqs if c.is_discovery(p)),
            "by_group": {g: len(rs) for g, rs in per_group.items()},
            "discovery_by_group": {g: sum(1 for _, p in rs if c.is_discovery(p)) for g, rs in per_group.items()},
            "repeated": dup,
        }
    # TLS handshakes: every connection through the relay is one handshake with the API server.
    with c.Relay(("127.0.0.1", cp.apiserver_port)) as relay:
        relayed = c.kubeconfig_copy(cp.admin_kubeconfig, work / "relay.conf", server=f"https://127.0.0.1:{relay.port}")
        cache = Path(tempfile.mkdtemp(prefix="kubectl-cache-relay-", dir=work))
        seq = manual_sequence(cp, kubeconfig=relayed, cache_dir=cache, namespace=namespace, tls_port=relay.port)
        by_group: dict[str, int] = defaultdict(int)
        relay.take()
        for group, argv in seq:
            c.timed(argv, env=c.kubectl_env())
            by_group[group] += relay.take()
        out["manual_tls_handshakes"] = {"total": sum(by_group.values()), "by_group": dict(by_group)}
        _, doc, code = run_preflight(preflight_argv(relayed))
        out["preflight_relay"] = {"connections_seen": relay.take(), "exit_code": code,
                                  "self_reported_tls_handshakes": doc.get("summary", {}).get("tls_handshakes"),
                                  "self_reported_http_requests": doc.get("summary", {}).get("http_requests")}
    return out


def _sum_importtime(stderr: str) -> dict[str, float]:
    """-X importtime self time summed per top-level package, in seconds."""
    per_pkg: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        parts = line.split("|")
        if len(parts) != 3:
            continue
        per_pkg[parts[2].strip().split(".")[0]] += int(parts[0].split(":")[1]) / 1e6
    return dict(per_pkg)


def profile(out: Path, argv: list[str], timeout: float = 120, side: str = "preflight") -> dict[str, Any] | None:
    """One run of bench/_preflight_profile.py (preflight in a fresh interpreter, with every
    fact and request timestamped); adds the parent's view: wall, start-up and shutdown."""
    spawn = time.time()
    wall, res = c.timed([sys.executable, str(Path(__file__).with_name("_preflight_profile.py")), str(out), *argv],
                        timeout=timeout, env=ENVS[side])
    exited = time.time()
    if not out.exists():
        print(f"  profile run failed (exit {res.returncode}): {res.stderr.strip()[-300:]}")
        return None
    doc: dict[str, Any] = json.loads(out.read_text())
    doc.update(wall_s=wall, startup_s=doc["t0_epoch"] - spawn, shutdown_s=exited - doc["end_epoch"])
    return doc


def breakdown(cp: Any, work: Path, args: Any) -> dict[str, Any]:
    """Where one `preflight check` spends its time (untimed against kubectl)."""
    py = sys.executable
    n = max(3, min(args.runs, 10))
    env = ENVS["preflight"]
    interp = [c.timed([py, "-c", "pass"], env=env)[0] for _ in range(n)]
    version = [c.timed([c.console_script("preflight"), "--version"], env=env)[0] for _ in range(n)]
    profiles: dict[str, list[dict[str, Any]]] = {side: [] for side in PREFLIGHT_SIDES}
    for i in range(n):
        for side in PREFLIGHT_SIDES:
            doc = profile(work / f"profile-{i}.json", preflight_argv(cp.admin_kubeconfig)[1:], side=side)
            if doc:
                profiles[side].append(doc)
    _, res = c.timed([py, "-X", "importtime", c.console_script("preflight"), "check", "--kubeconfig",
                      str(cp.admin_kubeconfig), "-o", "json", "-q"], env=env)
    imports = _sum_importtime(res.stderr)
    return {"interpreter_s": interp, "version_s": version, "profiles": profiles,
            "importtime_by_package_s": imports}


def blackhole(cp: Any, work: Path, args: Any) -> dict[str, Any]:
    address = cp.break_("blackhole")
    conf = c.kubeconfig_copy(cp.admin_kubeconfig, work / "blackhole.conf", server=f"https://{address}")
    deadline = args.blackhole_timeout
    runs = []
    for i in range(args.blackhole_runs):
        wall, doc, code = run_preflight(preflight_argv(conf, "--timeout", f"{deadline:g}s"), timeout=deadline + 120)
        checks = {f["id"]: f for f in doc.get("checks", [])}
        runs.append({"wall_s": wall, "exit_code": code, "duration_ms": doc.get("summary", {}).get("duration_ms"),
                     "http_requests": doc.get("summary", {}).get("http_requests"),
                     "tls_handshakes": doc.get("summary", {}).get("tls_handshakes"),
                     "root_cause": doc.get("summary", {}).get("root_cause"),
                     "reachable": (checks.get("api.reachable") or {}).get("message", doc.get("error", ""))[:160],
                     "check_ms": {k: f.get("duration_ms") for k, f in checks.items()}})
        print(f"  black hole run {i + 1}: {wall:.2f}s, exit {code}", flush=True)
    prof = profile(work / "profile-blackhole.json", preflight_argv(conf, "--timeout", f"{deadline:g}s")[1:],
                   timeout=deadline + 120)
    kubectl_wall, res = c.timed([str(cp.bin_dir / "kubectl"), f"--kubeconfig={conf}", f"--cache-dir={work / 'bh-cache'}",
                                 f"--request-timeout={deadline:g}s", "version"], timeout=deadline + 120, env=c.kubectl_env())
    return {"address": address, "deadline_s": deadline, "runs": runs, "profile": prof,
            "kubectl_version": {"wall_s": kubectl_wall, "exit_code": res.returncode,
                                "stderr": res.stderr.strip().splitlines()[-1][:160] if res.stderr.strip() else ""}}


# -- report ------------------------------------------------------------------------------------

def report(res: dict[str, Any], n_perms: int, namespace: str) -> None:
    med = statistics.median
    walls = res["compare"]["walls"]
    c.section("wall time, process start to exit (seconds)")
    print(f"manual sequence: {res['compare']['commands']} processes ({n_perms} x auth can-i -n {namespace}, "
          "version, 2 x get lease, get apiservices, get sa, get secret, openssl)")
    print(c.table(["side", "median", "min", "max", "n"], [c.timing_row(s, walls[s]) for s in SIDES]))
    print()
    rows, ratios = [], []
    for k in KUBECTL_SIDES:
        for pside in PREFLIGHT_SIDES:
            per = [m / q for m, q in zip(walls[k], walls[pside])]
            ratio = med(walls[k]) / med(walls[pside])
            ratios.append(ratio)
            rows.append([f"{k} / {pside}", f"{ratio:.1f}x", f"{min(per):.1f}x", f"{max(per):.1f}x"])
    print(c.table(["ratio", "of medians", "per-iteration min", "per-iteration max"], rows))
    print(f"target >= 3x less wall time: {'MET' if min(ratios) >= 3 else 'MISSED'} (worst pairing {min(ratios):.1f}x)")

    c.section("manual sequence: median seconds per command group")
    rows = []
    for group in res["compare"]["groups"][KUBECTL_SIDES[0]][0]:
        rows.append([group] + [f"{med(g[group] for g in res['compare']['groups'][s]):.3f}" for s in KUBECTL_SIDES])
    print(c.table(["group", "cold cache", "warm cache"], rows))

    c.section("HTTP requests and TLS handshakes per run")
    docs = res["compare"]["preflight_docs"]
    reqs = sorted({d["summary"]["http_requests"] for d in docs})
    hs = sorted({d["summary"]["tls_handshakes"] for d in docs})
    cnt = res["counts"]
    mt = cnt["manual_tls_handshakes"]
    pr = cnt["preflight_relay"]
    print(c.table(["side", "HTTP requests", "of which discovery", "TLS handshakes", "processes"], [
        ["preflight (its JSON summary)", "/".join(map(str, reqs)), "0", "/".join(map(str, hs)), "1"],
        ["preflight (seen by relay)", "-", "-", str(pr["connections_seen"]), "1"],
        ["kubectl cold cache (-v=6)", str(cnt["kubectl_cold"]["total"]), str(cnt["kubectl_cold"]["discovery"]),
         f"{mt['total']} (relay)", str(res["compare"]["commands"])],
        ["kubectl warm cache (-v=6)", str(cnt["kubectl_warm"]["total"]), str(cnt["kubectl_warm"]["discovery"]), "-",
         str(res["compare"]["commands"])],
    ]))
    print("kubectl requests per group (cold cache, of which discovery): " + ", ".join(
        f"{g}: {n} ({cnt['kubectl_cold']['discovery_by_group'][g]})" for g, n in cnt["kubectl_cold"]["by_group"].items()))
    print("TLS handshakes per group (relay): " + ", ".join(f"{g}: {n}" for g, n in mt["by_group"].items()))
    if cnt["kubectl_cold"]["repeated"]:
        rep = sorted(cnt["kubectl_cold"]["repeated"].items(), key=lambda kv: -kv[1])
        print("kubectl requests repeated within one sequence (cold): " + ", ".join(f"{k} x{n}" for k, n in rep[:6]))
    b = res["breakdown"]
    prof = b["profiles"]["preflight"]
    if prof and prof[-1]["requests"]:
        keys = Counter((r["method"], r["path"], r["body"]) for r in prof[-1]["requests"])
        dups = [f"{m} {p} x{n}" for (m, p, _), n in keys.items() if n > 1]
        by_path = Counter(f"{r['method']} {r['path']}" for r in prof[-1]["requests"])
        print("preflight requests by path: " + ", ".join(f"{k} x{n}" if n > 1 else k for k, n in by_path.most_common()))
        print(f"preflight: each fact fetched once: {'yes' if not dups else 'NO, repeated: ' + ', '.join(dups)}")

    c.section("where preflight's time goes (untimed profile runs, ms)")
    if prof:
        def phases(p: dict[str, Any]) -> dict[str, float]:
            t = p["run_started_s"]
            first = min((r["start"] for r in p["requests"]), default=t) - t
            last = max((r["end"] for r in p["requests"]), default=t) - t
            ph = {
                "interpreter start-up (venv site, editable-install finder)": p["startup_s"],
                "import preflight CLI (click, model)": p["cli_import_s"],
                "imports of `check` (yaml, cryptography, http.client, ...)": p["check_imports_s"],
                "run: kubeconfig + target + client set-up until the first request": first,
                "run: first request to last response (the checks' network part)": last - first,
                "run: judging and rendering after the last response": p["run_s"] - last,
                "interpreter shutdown after main() returned": p["shutdown_s"],
            }
            ph["other (spawn, gaps between phases)"] = p["wall_s"] - sum(ph.values())
            ph["total (wall of the profile run)"] = p["wall_s"]
            return ph

        per_run = [phases(p) for p in prof]
        nopyc = [phases(p) for p in b["profiles"]["preflight (no .pyc)"]]
        rows = [[k, fmt(med(r[k] for r in per_run)), fmt(min(r[k] for r in per_run)), fmt(max(r[k] for r in per_run)),
                 fmt(med(r[k] for r in nopyc)) if nopyc else "-"] for k in per_run[0]]
        print(c.table(["phase", "median", "min", "max", "no .pyc: median"], rows))
        print(f"({len(prof)} + {len(nopyc)} runs; medians do not add up exactly)")
        checks = med(p["summary"].get("duration_ms", 0) / 1000 for p in prof)
        print(f"(for reference: python -c pass {fmt(med(b['interpreter_s']))} ms, preflight --version "
              f"{fmt(med(b['version_s']))} ms; the report's summary.duration_ms {fmt(checks)} ms; "
              f"imports still made during the run: {', '.join(prof[-1]['lazy_modules']) or 'none'})")
        facts = defaultdict(list)
        for p in prof:
            for name, t in p["facts"].items():
                facts[name].append((t["start"] - p["run_started_s"], t["end"] - p["run_started_s"]))
        print("\nfacts (collectors), median ms after the run started:")
        print(c.table(["fact", "start", "end", "took"], [
            [n, fmt(med(s for s, _ in v)), fmt(med(e for _, e in v)), fmt(med(e - s for s, e in v))]
            for n, v in sorted(facts.items(), key=lambda kv: med(e for _, e in kv[1]), reverse=True)]))
        slow = defaultdict(list)
        for p in prof:
            for r in p["requests"]:
                slow[f"{r['method']} {r['path']}"].append(r["end"] - r["start"])
        print("\nrequests, median ms each (all runs pooled):")
        print(c.table(["request", "count/run", "median", "max"], [
            [k, str(len(v) // len(prof)), fmt(med(v)), fmt(max(v))]
            for k, v in sorted(slow.items(), key=lambda kv: med(kv[1]), reverse=True)]))
    imp = sorted(b["importtime_by_package_s"].items(), key=lambda kv: -kv[1])
    print("\n-X importtime, self time per top-level package in one check run (ms, inflated by importtime itself): "
          + ", ".join(f"{k} {v * 1000:.0f}" for k, v in imp[:10]))

    c.section("black hole: preflight check --timeout against a listener that never answers")
    bh = res["blackhole"]
    dl = bh["deadline_s"]
    w = [r["wall_s"] for r in bh["runs"]]
    print(f"endpoint {bh['address']}, deadline {dl:g}s, target: exit within {dl + 1:g}s")
    print(c.table(["run", "wall s", "summary.duration_ms", "exit", "margin to deadline+1s", "requests", "handshakes"], [
        [str(i + 1), f"{r['wall_s']:.2f}", str(r["duration_ms"]), str(r["exit_code"]), f"{dl + 1 - r['wall_s']:+.2f}s",
         str(r["http_requests"]), str(r["tls_handshakes"])] for i, r in enumerate(bh["runs"])]))
    ok = max(w) <= dl + 1
    print(f"median {statistics.median(w):.2f}s, max {max(w):.2f}s: target {'MET' if ok else 'MISSED'}")
    last = bh["runs"][-1]
    print(f"root cause reported: {last['root_cause']}: {last['reachable']}")
    print("per-check duration_ms of the last run: " + ", ".join(f"{k} {v}" for k, v in last["check_ms"].items()))
    bp = bh.get("profile")
    if bp and bp.get("facts"):
        t = bp["run_started_s"]
        print(f"\nprofile of one more black-hole run: main() took {bp['run_s'] * 1000:.0f} ms; facts, ms after the run started:")
        print(c.table(["fact", "start", "end", "took"], [
            [n, fmt(v["start"] - t), fmt(v["end"] - t), fmt(v["end"] - v["start"])]
            for n, v in sorted(bp["facts"].items(), key=lambda kv: kv[1]["end"], reverse=True)]))
        healthy_runs = res["breakdown"]["profiles"]["preflight"]
        healthy = set(healthy_runs[-1]["facts"]) if healthy_runs else set()
        pending = sorted(healthy - set(bp["facts"]))
        last_fact = max(v["end"] for v in bp["facts"].values()) - t
        print(f"last fact finished at {fmt(last_fact)} ms; main() returned at {fmt(bp['run_s'])} ms; "
              f"facts never finished (their threads still blocked at exit): {', '.join(pending) or 'none'}")
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in bp["requests"]:
            groups[(r["method"], r["path"])].append(r)
        print("requests, ms after the run started (start-end, outcome):")
        for (m, pth), rs in sorted(groups.items(), key=lambda kv: kv[1][0]["start"]):
            span = f"{fmt(min(r['start'] for r in rs) - t)}-{fmt(max(r['end'] for r in rs) - t)}"
            print(f"  {m} {pth}{f' x{len(rs)}' if len(rs) > 1 else ''}: {span} {'/'.join(sorted({r['status'] for r in rs}))}")
    kv = bh["kubectl_version"]
    print(f"for comparison, kubectl version --request-timeout={dl:g}s: {kv['wall_s']:.2f}s, exit {kv['exit_code']} "
          f"({kv['stderr']}); without --request-timeout kubectl waits much longer")


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--blackhole-runs", type=int, default=3)
    p.add_argument("--blackhole-timeout", type=float, default=3.0, help="preflight --timeout against the black hole (s)")
    args = p.parse_args()
    n_perms = len(expand(DEFAULT_DEPLOY))
    print("bench/check_vs_kubectl.py: preflight check vs the incident's manual kubectl/openssl sequence")
    start = c.machine_facts()
    c.print_facts(start)
    res: dict[str, Any] = {"machine_start": start, "permissions": n_perms}
    with c.throwaway_cluster("check", keep=args.keep) as cp:
        work = cp.workdir.parent
        namespace = resolve_target(kubeconfig=str(cp.admin_kubeconfig)).namespace
        kubectl_version = cp.kubectl("version", "--client", "-o", "json").stdout
        res["kubectl"] = {"path": str(cp.bin_dir / "kubectl"), "client": json.loads(kubectl_version)["clientVersion"]["gitVersion"]}
        print(f"kubectl {res['kubectl']['client']} ({res['kubectl']['path']}); {n_perms} permissions from "
              f"preflight._facts.permissions.DEFAULT_DEPLOY, namespace {namespace!r}")
        ENVS["preflight"] = c.python_env(bytecode=True, cache=work / "pycache")
        ENVS["preflight (no .pyc)"] = c.python_env(bytecode=False, cache=work / "pycache")
        if start["code"]["bytecode_in_tree"]:
            print("note: preflight/__pycache__ exists in the tree, so the 'no .pyc' side may still use it")
        c.section("timed runs")
        res["compare"] = compare(cp, work, args, namespace)
        c.section("untimed runs: request and handshake counts, profile, black hole")
        res["counts"] = count_requests(cp, work, namespace)
        res["breakdown"] = breakdown(cp, work, args)
        res["blackhole"] = blackhole(cp, work, args)
    res["machine_end"] = c.machine_facts()
    report(res, n_perms, namespace)
    c.finish(start, res, args.json)


if __name__ == "__main__":
    c.run_main(main)
