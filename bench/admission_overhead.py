"""What the admission simulation adds: `preflight check --manifests` of a 50-object chart with
and without it (`--no-simulate`), side by side in one run.

On a throwaway control plane started here: a namespace with a ResourceQuota and a LimitRange
(so the quota and LimitRange admission plugins do real work) and one Node object (Ready,
allocatable set through the status subresource, tainted so nothing is scheduled there), and a
rendered chart of 50 objects: 10 each of ConfigMap, Secret, Service, ServiceAccount and
Deployment (the Deployments' Pods are dry-run too). Sides alternate each iteration; warm-up runs
are discarded; preflight's bytecode is cached as after a `pip install`. Timed: wall time of the
preflight process from spawn to exit. Goal: under 0.5 s added.

    python bench/admission_overhead.py [--runs 10] [--warmup 1] [--json FILE]
"""
from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import _common as c
import yaml

NAMESPACE = "bench"
SIDES = ("check --manifests --no-simulate", "check --manifests (with the simulation)")
TAINT = {"key": "bench/fake-node", "value": "true", "effect": "NoSchedule"}


def chart(n: int = 10) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for i in range(n):
        docs += [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}, "data": {"k": str(i)}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"secret-{i}"}, "stringData": {"k": str(i)}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
             "spec": {"selector": {"app": f"app-{i}"}, "ports": [{"port": 80}]}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"sa-{i}"}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{i}"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": f"app-{i}"}},
                      "template": {"metadata": {"labels": {"app": f"app-{i}"}}, "spec": {
                          "serviceAccountName": f"sa-{i}", "tolerations": [{"key": TAINT["key"], "operator": "Exists"}],
                          "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                          "envFrom": [{"configMapRef": {"name": f"cm-{i}"}}],
                                          "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                                        "limits": {"cpu": "10m", "memory": "16Mi"}}}]}}}},
        ]
    return docs


def seed(cp: Any) -> None:
    cp.kubectl("create", "namespace", NAMESPACE)
    cp.kubectl("create", "quota", "q", "-n", NAMESPACE, "--hard=requests.cpu=4,limits.cpu=4,requests.memory=4Gi,limits.memory=4Gi")
    cp.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
         "spec": {"limits": [{"type": "Container", "default": {"cpu": "50m"}, "defaultRequest": {"cpu": "10m"}}]}}))
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bench-node"},
                                                   "spec": {"taints": [TAINT]}}))
    cp.wait_for(lambda: cp.kubectl("get", "sa", "default", "-n", NAMESPACE, check=False).returncode == 0, 60, "default ServiceAccount")


def mark_ready(cp: Any) -> None:
    """Keep the Node Ready (no kubelet renews it), just before each run."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    res = {"cpu": "8", "memory": "16Gi", "pods": "110"}
    cp.kubectl("patch", "node", "bench-node", "--subresource=status", "--type=merge", "-p", json.dumps({"status": {
        "capacity": res, "allocatable": res, "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                                             "lastHeartbeatTime": now, "lastTransitionTime": now}]}}))


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0], runs=10)
    args = p.parse_args()
    print("bench/admission_overhead.py: check --manifests of a 50-object chart, with and without the admission simulation")
    start = c.machine_facts()
    c.print_facts(start)
    preflight = c.console_script("preflight")
    res: dict[str, Any] = {"machine_start": start, "rows": []}
    with c.throwaway_cluster("admission", keep=args.keep) as cp:
        work = cp.workdir.parent
        manifests = work / "chart.yaml"
        manifests.write_text(yaml.safe_dump_all(chart()))
        seed(cp)
        env = c.python_env(bytecode=True, cache=work / "pycache")
        base = [preflight, "check", f"--kubeconfig={cp.admin_kubeconfig}", "-n", NAMESPACE, "--manifests", str(manifests),
                "--release", "bench", "-q", "-o", "json"]
        argv = {SIDES[0]: [*base, "--no-simulate"], SIDES[1]: base}
        c.section(f"runs ({args.warmup} warm-up + {args.runs} measured per side, sides alternating)")
        for i in range(args.warmup + args.runs):
            for side in SIDES[i % 2:] + SIDES[:i % 2]:
                mark_ready(cp)
                seconds, out = c.timed(argv[side], env=env)
                report = json.loads(out.stdout or "{}")
                if out.returncode != 0:
                    failing = {f["id"]: f["message"] for f in report.get("checks", []) if f["outcome"] in ("fail", "error")}
                    sys.exit(f"bench: '{side}' exited {out.returncode}: {failing or out.stderr.strip()[-400:]}")
                admission = [f["id"] for f in report["checks"] if f["id"].startswith("admission.")]
                res["rows"].append({"side": side, "warmup": i < args.warmup, "seconds": seconds, "admission_checks": len(admission),
                                    "http_requests": report["summary"].get("http_requests")})
        print("  done", flush=True)
    res["machine_end"] = c.machine_facts()

    c.section("results (seconds, wall time per preflight process)")
    times = {s: [r["seconds"] for r in res["rows"] if r["side"] == s and not r["warmup"]] for s in SIDES}
    requests = {s: next(r["http_requests"] for r in res["rows"] if r["side"] == s) for s in SIDES}
    base_median = c.summary(times[SIDES[0]])["median"]
    rows = []
    for side in SIDES:
        s = c.summary(times[side])
        rows.append([side, c.fmt_s(s["median"]), c.fmt_s(s["min"]), c.fmt_s(s["max"]), str(s["n"]), str(requests[side]),
                     f"{s['median'] / base_median:.2f}x", f"{(s['median'] - base_median) * 1000:+.0f}"])
    print(c.table(["side", "median", "min", "max", "n", "requests", "ratio", "ms added"], rows))
    added = c.summary(times[SIDES[1]])["median"] - base_median
    print(f"ratio (median, simulated / not): {c.summary(times[SIDES[1]])['median'] / base_median:.2f}x; "
          f"added {added * 1000:.0f} ms for 50 objects (goal: < 500 ms): {'met' if added < 0.5 else 'NOT met'}")
    c.finish(start, res, args.json)


if __name__ == "__main__":
    c.run_main(main)
