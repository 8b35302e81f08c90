"""Why kube_client and not the ``kubernetes`` package, and helm template and not ``pyhelm3``: the
cost before the first request, and before a chart can be rendered.

Side by side, alternating, each in a fresh interpreter (``-X importtime`` is not used: it
slows what it measures):
- ``kubernetes``: ``import kubernetes.client`` and ``CoreV1Api()``, what a collector would need
  before it could send its first request;
- ``kube_client``: ``import kube_client._http`` and the ``KubeClient`` class, which is what
  ``preflight check`` imports to send its first request;
- ``pyhelm3``: ``import pyhelm3.command``, what rendering a chart through it needs (pydantic,
  asyncio);
- ``chart``: ``import preflight._collect.chart``, what ``check --chart`` imports to run
  ``helm template`` itself;
- ``nothing``: ``python -c pass``, the interpreter's own start, to subtract.

Neither ``kubernetes`` nor ``pyhelm3`` is a dependency of kube-preflight. Pass
``--kubernetes-python`` / ``--pyhelm3-python`` an interpreter that has it (``python3 -m venv
/tmp/k8s && /tmp/k8s/bin/pip install kubernetes pyhelm3``); without one, that pair's other side
is measured alone and the script says so.

No cluster is needed. Asserts nothing: it prints medians, min/max and the ratio.
"""
from __future__ import annotations

import subprocess
import sys
import time

import _common as c

SNIPPETS = {
    "kubernetes": "import kubernetes.client\nkubernetes.client.CoreV1Api()",
    "kube_client": "import kube_client._http\nkube_client._http.KubeClient",
    "pyhelm3": "import pyhelm3.command",
    "chart": "import preflight._collect.chart",
    "nothing": "pass",
}


def once(python: str, code: str) -> float:
    started = time.perf_counter()
    subprocess.run([python, "-c", code], check=True, cwd=c.REPO, capture_output=True, timeout=120)
    return time.perf_counter() - started


def has(python: str, package: str) -> bool:
    return subprocess.run([python, "-c", f"import {package}"], capture_output=True, timeout=120).returncode == 0


PAIRS = (("kubernetes", "kube_client"), ("pyhelm3", "chart"))  # (theirs, ours)


def main() -> int:
    p = c.parser(__doc__.splitlines()[0], runs=20)
    for package, _ in PAIRS:
        p.add_argument(f"--{package}-python", default=sys.executable,
                       help=f"an interpreter with the {package} package installed (default: this one)")
    args = p.parse_args()
    start = c.machine_facts()
    c.print_facts(start)
    sides = {ours: sys.executable for _, ours in PAIRS} | {"nothing": sys.executable}
    for package, _ in PAIRS:
        python = getattr(args, f"{package}_python")
        if has(python, package):
            sides[package] = python
            version = subprocess.run([python, "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                                     capture_output=True, text=True, check=True).stdout.strip()
            print(f"{package} {version} from {python}")
        else:
            print(f"note: {python} has no {package} package: only its counterpart is measured (see --{package}-python)")
    times: dict[str, list[float]] = {side: [] for side in sides}
    for run in range(args.warmup + args.runs):
        for side, python in sides.items():  # alternate, so a busy moment hits both sides alike
            took = once(python, SNIPPETS[side])
            if run >= args.warmup:
                times[side].append(took)
    rows = [c.timing_row(side, values) for side, values in times.items()]
    print(c.table(["side", "median s", "min s", "max s", "runs"], rows))
    base = c.summary(times["nothing"])["median"]
    res: dict[str, object] = {"times": times}
    for theirs, ours in PAIRS:
        mine = c.summary(times[ours])["median"] - base
        print(f"\n{ours}: {mine * 1000:.0f} ms above a bare interpreter")
        if theirs in times:
            other = c.summary(times[theirs])["median"] - base
            print(f"{theirs}: {other * 1000:.0f} ms above a bare interpreter: {other / mine:.1f}x {ours}")
            res[f"ratio_{theirs}"] = other / mine
    res["machine_end"] = c.machine_facts()
    c.finish(start, res, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

