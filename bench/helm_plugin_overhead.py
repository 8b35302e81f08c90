"""What the Helm front door costs: `helm preflight upgrade --install ...` against plain
`helm upgrade --install ...`, side by side in one run, for helm v3.21.4 and v4.3.2.

On a throwaway control plane started here, with the real helm binaries from tests/controlplane
and the plugins installed with `helm plugin install` into temp HELM_*_HOME folders:

  helm upgrade                      helm upgrade --install REL CHART -n bench --kubeconfig ADMIN
  helm preflight upgrade            the same through the plugin: the gate (preflight check for
                                    the release's namespace), then exec helm with the same args
  helm upgrade --post-renderer      the same with the gate as post-renderer (Helm 3: the
                                    preflight-post-render command; Helm 4: the postrenderer/v1 plugin)
  preflight check (alone)           the gate by itself, as the plugin runs it (--release, --chart):
                                    how much of the added time is the gate's own process

It prints the ratios, and the most time a gate adds against a budget of 0.5 s (BUDGET_MS).

Each side upgrades its own release (a ConfigMap chart; revision 1 installed untimed first), so
each timed run does the same work: one new revision. Sides rotate each iteration; warm-up runs
are discarded. preflight is this tree as `pip install` gives it (a wheel installed, byte-compiled,
in a new venv: _common.pip_installed), first on PATH. Timed: wall time of the helm process from
spawn to exit.

    python bench/helm_plugin_overhead.py [--runs 10] [--warmup 1] [--json FILE]
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import _common as c

from tests.controlplane.build import helm_binaries

NAMESPACE = "bench"
CHART = {
    "Chart.yaml": "apiVersion: v2\nname: bench\nversion: 0.1.0\n",
    "templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  rev: {{ .Release.Revision | quote }}\n",
}
SIDES = ("helm upgrade", "helm preflight upgrade", "helm upgrade --post-renderer", "preflight check (alone)")
GATES = ("helm preflight upgrade", "helm upgrade --post-renderer")
# What a gate may add to a deploy (bench/README.md, "Speed": a ratio against a one-ConfigMap
# upgrade of 0.2 s says little about a deploy that takes seconds to minutes; the wait does).
BUDGET_MS = 500
PLUGINS = Path(c.REPO) / "preflight" / "_cli" / "helm" / "plugins"


def write_chart(folder: Path) -> Path:
    for name, body in CHART.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body)
    return folder


def side_argv(side: str, helm: Path, kubeconfig: Path, chart: Path, release: str) -> list[str]:
    if side == "preflight check (alone)":
        return ["preflight", "check", f"--kubeconfig={kubeconfig}", "-n", NAMESPACE, "--release", release, "--chart", str(chart), "-q"]
    base = [str(helm), f"--kubeconfig={kubeconfig}", "-n", NAMESPACE]
    deploy = ["upgrade", "--install", release, str(chart)]
    if side == "helm preflight upgrade":
        return [*base, "preflight", *deploy]
    if side == "helm upgrade --post-renderer":
        return [*base, *deploy, "--post-renderer", "preflight-post-render",
                f"--post-renderer-args=--kubeconfig={kubeconfig}", f"--post-renderer-args=--namespace={NAMESPACE}"]
    return [*base, *deploy]


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0], runs=10)
    args = p.parse_args()
    print("bench/helm_plugin_overhead.py: helm preflight upgrade vs helm upgrade (helm v3 and v4)")
    start = c.machine_facts()
    c.print_facts(start)
    res: dict[str, Any] = {"machine_start": start, "rows": []}
    with c.throwaway_cluster("helm-plugin", keep=args.keep) as cp:
        work = cp.workdir.parent
        chart = write_chart(work / "chart")
        cp.kubectl("create", "namespace", NAMESPACE)
        print("building and installing the wheel ...", flush=True)
        wheel_bin = c.pip_installed(work / "pip-installed")
        env_of: dict[int, dict[str, str]] = {}
        for major, helm in helm_binaries(cp.bin_dir).items():
            env = {k: v for k, v in c.kubectl_env().items() if not k.startswith("HELM_") and not k.startswith("PYTHON")}
            env["PATH"] = f"{wheel_bin}:{env.get('PATH', '/usr/bin:/bin')}"
            env["HELM_BIN"] = str(helm)  # what helm exports to its plugins; the gate alone renders with it too
            for kind in ("DATA", "CONFIG", "CACHE"):
                env[f"HELM_{kind}_HOME"] = str(work / f"helm{major}" / kind.lower())
            env_of[major] = env
            for plugin in ["preflight"] + (["preflight-post-render"] if major == 4 else []):
                _, out = c.timed([str(helm), "plugin", "install", str(PLUGINS / plugin)], env=env)
                if out.returncode != 0:
                    sys.exit(f"bench: helm{major} plugin install {plugin} failed: {out.stderr.strip()}")
            for n in range(len(SIDES)):  # revision 1 of each side's release, untimed
                _, out = c.timed(side_argv("helm upgrade", helm, cp.admin_kubeconfig, chart, f"h{major}-s{n}"), env=env)
                if out.returncode != 0:
                    sys.exit(f"bench: first install failed: {out.stderr.strip()}")
        c.section(f"runs ({args.warmup} warm-up + {args.runs} measured per side, sides rotating)")
        for major, helm in helm_binaries(cp.bin_dir).items():
            for i in range(args.warmup + args.runs):
                order = SIDES[i % len(SIDES):] + SIDES[:i % len(SIDES)]
                for side in order:
                    argv = side_argv(side, helm, cp.admin_kubeconfig, chart, f"h{major}-s{SIDES.index(side)}")
                    seconds, out = c.timed(argv, env=env_of[major])
                    if out.returncode != 0:
                        sys.exit(f"bench: helm{major} '{side}' failed (exit {out.returncode}): {out.stderr.strip()[-400:]}")
                    res["rows"].append({"helm": major, "side": side, "warmup": i < args.warmup, "seconds": seconds})
            print(f"  helm{major}: done", flush=True)
    res["machine_end"] = c.machine_facts()

    c.section("results (seconds, wall time per helm process)")
    rows, ratios, added = [], [], []
    for major in (3, 4):
        times = {side: [r["seconds"] for r in res["rows"] if r["helm"] == major and r["side"] == side and not r["warmup"]]
                 for side in SIDES}
        base = c.summary(times["helm upgrade"])["median"]
        for side in SIDES:
            s = c.summary(times[side])
            rows.append([f"helm{major}: {side}", c.fmt_s(s["median"]), c.fmt_s(s["min"]), c.fmt_s(s["max"]), str(s["n"]),
                         f"{s['median'] / base:.2f}x", f"{(s['median'] - base) * 1000:+.0f}"])
            if side != "helm upgrade":
                ratios.append(f"helm{major} {side}: {s['median'] / base:.2f}x ({(s['median'] - base) * 1000:+.0f} ms)")
            if side in GATES:
                added.append((s["median"] - base) * 1000)
    print(c.table(["side", "median", "min", "max", "n", "vs plain", "ms added"], rows))
    print("ratio (median, gated / plain): " + "; ".join(ratios))
    print(f"time a gate adds (median): at most {max(added):.0f} ms; budget {BUDGET_MS} ms: {'MET' if max(added) <= BUDGET_MS else 'NOT MET'}")
    c.finish(start, res, args.json)


if __name__ == "__main__":
    c.run_main(main)
