"""`sa-tokens status -A` over thousands of ServiceAccounts vs the two kubectl LISTs.

Issue: "`sa-tokens status -A` over 2,000 ServiceAccounts and 2,000 token Secrets in 50
namespaces: print the request count (target: the number of pages, not the number of
ServiceAccounts) and the wall time side by side with `kubectl get sa -A -o json` plus
`kubectl get secret -A --field-selector type=kubernetes.io/service-account-token -o json`."

Set-up, on a throwaway control plane started here: 50 namespaces, 40 ServiceAccounts each and
one token Secret per ServiceAccount (annotated kubernetes.io/service-account.name), created
with `kubectl create -f -` from one List per namespace (ServiceAccounts before their Secrets:
the token controller deletes a token Secret whose ServiceAccount does not exist). The real
kube-controller-manager runs and fills every Secret (token, ca.crt, namespace): the benchmark
waits until all are filled, so the LISTs carry the real ~3 KB per Secret, not empty shells.

Sides, alternating (rotating order), one warm-up discarded:

  sa-tokens            sa-tokens status -A -o json --kubeconfig ADMIN (console script), its
                       compiled modules cached as after a `pip install` (PYTHONPYCACHEPREFIX)
  sa-tokens (no .pyc)  the same with PYTHONDONTWRITEBYTECODE=1: the editable install compiles
                       preflight's and sa_tokens' modules from source on every run
  kubectl (cold cache) kubectl get sa -A -o json; kubectl get secret -A --field-selector ... -o json
                       (two processes, sequential, fresh --cache-dir per run)
  kubectl (warm cache) the same with one --cache-dir kept across runs

    python bench/status_scale.py [--runs 10] [--namespaces 50] [--accounts 2000] [--json FILE]
"""
from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _common as c

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SIDES = ("sa-tokens", "sa-tokens (no .pyc)", "kubectl (cold cache)", "kubectl (warm cache)")
OURS = SIDES[:2]
KUBECTL = SIDES[2:]
ENVS: dict[str, dict[str, str]] = {}


def namespace_list(ns: str, accounts: list[str]) -> str:
    items: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": a, "namespace": ns}}
                                   for a in accounts]
    items += [{"apiVersion": "v1", "kind": "Secret", "type": SA_TOKEN_TYPE,
               "metadata": {"name": f"{a}-token", "namespace": ns, "annotations": {SA_NAME_ANNOTATION: a}}}
              for a in accounts]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def populate(cp: Any, namespaces: int, accounts: int, workers: int = 4) -> dict[str, Any]:
    names = [f"bench-ns-{i:02d}" for i in range(namespaces)]
    per_ns = [[] for _ in names]  # type: list[list[str]]
    for i in range(accounts):
        per_ns[i % namespaces].append(f"ci-{i:04d}")
    t0 = time.monotonic()
    cp.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names]}))
    # A few kubectl processes in parallel: each creates its objects one request at a time.
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda k: cp.kubectl("create", "-f", "-", input=namespace_list(names[k], per_ns[k]), timeout=600),
                      range(namespaces)))
    created = time.monotonic() - t0
    print(f"created {namespaces} namespaces, {accounts} ServiceAccounts and {accounts} token Secrets in {created:.1f}s", flush=True)

    def filled() -> tuple[int, int]:
        out = cp.kubectl("get", "secret", "-A", f"--field-selector=type={SA_TOKEN_TYPE}", "-o",
                         "jsonpath={range .items[*]}{.metadata.namespace} {.data.namespace}{\"\\n\"}{end}", timeout=120).stdout
        rows = [r.split() for r in out.splitlines() if r.startswith("bench-ns-")]
        return sum(1 for r in rows if len(r) == 2), len(rows)

    t1 = time.monotonic()
    last = (0, 0)

    def all_filled() -> bool:
        nonlocal last
        last = filled()
        return last[0] == accounts

    try:
        cp.wait_for(all_filled, 600, f"the token controller to fill {accounts} Secrets", interval=2)
    except TimeoutError:
        raise SystemExit(f"only {last[0]} of {accounts} token Secrets were filled after 600s (controller-manager log: "
                         f"{cp.log_path('kube-controller-manager')})") from None
    fill = time.monotonic() - t1
    print(f"kube-controller-manager filled all {accounts} token Secrets {fill:.1f}s after creation ended", flush=True)
    return {"create_s": created, "fill_wait_s": fill, "namespaces": names}


def kubectl_pair(cp: Any, cache: Path, verbose: bool = False) -> list[list[str]]:
    base = [str(cp.bin_dir / "kubectl"), f"--kubeconfig={cp.admin_kubeconfig}", f"--cache-dir={cache}",
            *(["-v=6"] if verbose else [])]
    return [[*base, "get", "sa", "-A", "-o", "json"],
            [*base, "get", "secret", "-A", f"--field-selector=type={SA_TOKEN_TYPE}", "-o", "json"]]


def run_kubectl(cp: Any, cache: Path) -> tuple[float, dict[str, Any]]:
    total, info = 0.0, {"bytes": 0, "items": []}
    for argv in kubectl_pair(cp, cache):
        wall, res = c.timed(argv, env=c.kubectl_env(), timeout=300)
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(argv[3:])} failed: {res.stderr.strip()[-300:]}")
        total += wall
        info["bytes"] += len(res.stdout)
        info["items"].append(len(json.loads(res.stdout)["items"]))
    return total, info


def run_sa_tokens(cp: Any, side: str) -> tuple[float, dict[str, Any]]:
    argv = [c.console_script("sa-tokens"), "status", "-A", "-o", "json", "--kubeconfig", str(cp.admin_kubeconfig)]
    wall, res = c.timed(argv, timeout=300, env=ENVS[side])
    if res.returncode != 0:
        raise SystemExit(f"sa-tokens status failed (exit {res.returncode}): {res.stderr.strip()[-300:]}")
    doc = json.loads(res.stdout)
    accounts = doc["accounts"]
    return wall, {"bytes": len(res.stdout), "requests": doc.get("requests"), "accounts": len(accounts),
                  "secrets": sum(len(a["secrets"]) for a in accounts),
                  "usable": sum(1 for a in accounts if a.get("usable"))}


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0])
    p.add_argument("--namespaces", type=int, default=50)
    p.add_argument("--accounts", type=int, default=2000, help="ServiceAccounts (and token Secrets) in total")
    args = p.parse_args()
    print("bench/status_scale.py: sa-tokens status -A vs kubectl get sa -A + get secret -A")
    start = c.machine_facts()
    c.print_facts(start)
    res: dict[str, Any] = {"machine_start": start, "namespaces": args.namespaces, "accounts": args.accounts}
    walls: dict[str, list[float]] = {s: [] for s in SIDES}
    infos: dict[str, list[dict[str, Any]]] = {s: [] for s in SIDES}
    with c.throwaway_cluster("status", keep=args.keep) as cp:
        work = cp.workdir.parent
        c.section("set-up")
        res["setup"] = populate(cp, args.namespaces, args.accounts)
        warm = work / "kubectl-cache-warm"
        ENVS[SIDES[0]] = c.python_env(bytecode=True, cache=work / "pycache")
        ENVS[SIDES[1]] = c.python_env(bytecode=False, cache=work / "pycache")
        c.section("timed runs")
        total = args.warmup + args.runs
        run_sa_tokens(cp, SIDES[0])  # fills the bytecode cache of the .pyc side, untimed
        print(f"{total} iterations ({args.warmup} warm-up), sides rotate: " + " / ".join(SIDES), flush=True)
        for i in range(total):
            line = []
            k = i % len(SIDES)
            for side in SIDES[k:] + SIDES[:k]:
                if side in OURS:
                    wall, info = run_sa_tokens(cp, side)
                elif side == "kubectl (cold cache)":
                    cache = Path(tempfile.mkdtemp(prefix="kubectl-cache-cold-", dir=work))
                    wall, info = run_kubectl(cp, cache)
                    shutil.rmtree(cache, ignore_errors=True)
                else:
                    wall, info = run_kubectl(cp, warm)
                if i >= args.warmup:
                    walls[side].append(wall)
                    infos[side].append(info)
                line.append(f"{side} {wall:.2f}s")
            print(f"  {'warm-up' if i < args.warmup else f'run {i - args.warmup + 1:>2}'}: " + ", ".join(line), flush=True)
        c.section("untimed: kubectl requests (-v=6)")
        cache = Path(tempfile.mkdtemp(prefix="kubectl-cache-count-", dir=work))
        kreqs = []
        for argv in kubectl_pair(cp, cache, verbose=True):
            _, r = c.timed(argv, env=c.kubectl_env(), timeout=300)
            kreqs.append(c.kubectl_requests(r.stderr))
        res["kubectl_requests"] = [[f"{v} {pth}" for v, pth in rs] for rs in kreqs]
        print("done", flush=True)
    res["machine_end"] = c.machine_facts()
    res["walls"], res["infos"] = walls, infos

    st = infos["sa-tokens"][0]
    kc = infos["kubectl (cold cache)"][0]
    n_sa, n_sec = kc["items"]
    pages = math.ceil(n_sa / 500) + math.ceil(n_sec / 500)
    c.section("objects")
    print(f"ServiceAccounts in the cluster: {n_sa} (of which {args.accounts} created here; the rest are each "
          f"namespace's `default` and the controllers' own), token Secrets: {n_sec}")
    print(f"sa-tokens saw {st['accounts']} accounts, {st['secrets']} token Secrets, {st['usable']} usable; "
          f"output {st['bytes'] / 1e6:.1f} MB vs kubectl's two JSON documents {kc['bytes'] / 1e6:.1f} MB")
    c.section("wall time, process start to exit (seconds)")
    print(c.table(["side", "median", "min", "max", "n"], [c.timing_row(s, walls[s]) for s in SIDES]))
    print()
    rows, ratios = [], []
    for k in KUBECTL:
        for ours in OURS:
            per = [a / b for a, b in zip(walls[k], walls[ours])]
            ratio = statistics.median(walls[k]) / statistics.median(walls[ours])
            ratios.append(ratio)
            rows.append([f"{k} / {ours}", f"{ratio:.2f}x", f"{min(per):.2f}x", f"{max(per):.2f}x"])
    print(c.table(["ratio", "of medians", "per-iteration min", "per-iteration max"], rows))
    print("(above 1: sa-tokens is faster)")
    c.section("HTTP requests per run")
    kr = res["kubectl_requests"]
    list_pages = [sum(1 for q in rs if "limit=" in q) for rs in kr]
    print(c.table(["side", "requests", "LIST pages", "other"], [
        ["sa-tokens status -A", str(st["requests"]), str(st["requests"]), "0"],
        ["kubectl get sa -A", str(len(kr[0])), str(list_pages[0]), str(len(kr[0]) - list_pages[0])],
        ["kubectl get secret -A --field-selector", str(len(kr[1])), str(list_pages[1]), str(len(kr[1]) - list_pages[1])],
    ]))
    print(f"pages at limit=500: ceil({n_sa}/500) + ceil({n_sec}/500) = {pages}; "
          f"target (requests = pages, not ServiceAccounts): {'MET' if st['requests'] == pages else 'MISSED'} "
          f"({st['requests']} requests for {st['accounts']} ServiceAccounts)")
    short = [re.sub(r"continue=[^&]+", "continue=...", q) for rs in kr for q in rs]
    print("kubectl's requests: " + ", ".join(short))
    print("(kubectl get pages at --chunk-size=500 by default too; its extra requests are discovery, /api and /apis)")
    c.finish(start, res, args.json)


if __name__ == "__main__":
    c.run_main(main)
