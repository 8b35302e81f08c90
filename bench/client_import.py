"""Why kube_client and not the ``kubernetes`` package: the cost before the first request.

Side by side, alternating, each in a fresh interpreter (``-X importtime`` is not used: it
slows what it measures):
- ``kubernetes``: ``import kubernetes.client`` and ``CoreV1Api()``, what a collector would need
  before it could send its first request;
- ``kube_client``: ``import kube_client._http`` and the ``KubeClient`` class, which is what
  ``preflight check`` imports to send its first request;
- ``nothing``: ``python -c pass``, the interpreter's own start, to subtract.

The ``kubernetes`` package is not a dependency of kube-preflight. Pass ``--kubernetes-python``
an interpreter that has it (``python3 -m venv /tmp/k8s && /tmp/k8s/bin/pip install kubernetes``);
without one, only our side is measured and the script says so.

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
    "nothing": "pass",
}


def once(python: str, code: str) -> float:
    started = time.perf_counter()
    subprocess.run([python, "-c", code], check=True, cwd=c.REPO, capture_output=True, timeout=120)
    return time.perf_counter() - started


def has_kubernetes(python: str) -> bool:
    return subprocess.run([python, "-c", "import kubernetes"], capture_output=True, timeout=120).returncode == 0


def main() -> int:
    p = c.parser(__doc__.splitlines()[0], runs=20)
    p.add_argument("--kubernetes-python", default=sys.executable,
                   help="an interpreter with the kubernetes package installed (default: this one)")
    args = p.parse_args()
    start = c.machine_facts()
    c.print_facts(start)
    sides = {"kube_client": sys.executable, "nothing": sys.executable}
    if has_kubernetes(args.kubernetes_python):
        sides["kubernetes"] = args.kubernetes_python
        version = subprocess.run([args.kubernetes_python, "-c", "import kubernetes; print(kubernetes.__version__)"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        print(f"kubernetes {version} from {args.kubernetes_python}")
    else:
        print(f"note: {args.kubernetes_python} has no kubernetes package: only kube_client is measured "
              "(see --kubernetes-python)")
    times: dict[str, list[float]] = {side: [] for side in sides}
    for run in range(args.warmup + args.runs):
        for side, python in sides.items():  # alternate, so a busy moment hits both sides alike
            took = once(python, SNIPPETS[side])
            if run >= args.warmup:
                times[side].append(took)
    rows = [c.timing_row(side, values) for side, values in times.items()]
    print(c.table(["side", "median s", "min s", "max s", "runs"], rows))
    base = c.summary(times["nothing"])["median"]
    ours = c.summary(times["kube_client"])["median"] - base
    print(f"\nkube_client: {ours * 1000:.0f} ms above a bare interpreter")
    res: dict[str, object] = {"times": times}
    if "kubernetes" in times:
        theirs = c.summary(times["kubernetes"])["median"] - base
        print(f"kubernetes:  {theirs * 1000:.0f} ms above a bare interpreter: {theirs / ours:.1f}x kube_client")
        res["ratio"] = theirs / ours
    res["machine_end"] = c.machine_facts()
    c.finish(start, res, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

