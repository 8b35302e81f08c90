"""A dead API server: how long `preflight check` takes to say so, next to `kubectl version`.

Two dead servers, each side by side and alternating: a refused port on 127.0.0.1 (nothing
listens) and a name that does not resolve (`nothing.invalid`, RFC 2606: the resolver answers
NXDOMAIN). Before the circuit breaker, `check` spent its whole 20 s deadline on the refused
port and 5 s on the name while every fact retried; kubectl says it in well under a second.

No cluster is needed, only the built kubectl (tests/controlplane/build.sh). Asserts nothing:
it prints medians, min/max and the ratio.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: nothing listens there


def kubeconfig(folder: Path, server: str) -> Path:
    path = folder / f"{server.split('//')[1].replace(':', '-')}.conf"
    path.write_text(f"""apiVersion: v1
kind: Config
current-context: dead
clusters: [{{name: dead, cluster: {{server: "{server}", insecure-skip-tls-verify: true}}}}]
users: [{{name: dead, user: {{token: not-a-real-token}}}}]
contexts: [{{name: dead, context: {{cluster: dead, user: dead}}}}]
""")
    path.chmod(0o600)
    return path


def once(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, timeout=120, check=False)
    return time.perf_counter() - started


def main() -> int:
    args = c.parser(__doc__.splitlines()[0], runs=10).parse_args()
    from tests.controlplane.build import bin_dir_path

    kubectl = str(bin_dir_path() / "kubectl")
    preflight = c.console_script("preflight")
    start = c.machine_facts()
    c.print_facts(start)
    res: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="kp-bench-dead-") as tmp:
        for label, server in (("refused", f"https://127.0.0.1:{closed_port()}"), ("unresolvable", "https://nothing.invalid:6443")):
            conf = kubeconfig(Path(tmp), server)
            sides = {"preflight check": [preflight, "check", "--kubeconfig", str(conf), "-q", "-o", "json"],
                     "kubectl version": [kubectl, "--kubeconfig", str(conf), "version", "--request-timeout=20s"]}
            times: dict[str, list[float]] = {side: [] for side in sides}
            for run in range(args.warmup + args.runs):
                for side, argv in sides.items():
                    took = once(argv)
                    if run >= args.warmup:
                        times[side].append(took)
            c.section(f"{label}: {server}")
            print(c.table(["side", "median s", "min s", "max s", "runs"], [c.timing_row(s, v) for s, v in times.items()]))
            ratio = c.summary(times["preflight check"])["median"] / c.summary(times["kubectl version"])["median"]
            print(f"preflight check / kubectl version: {ratio:.1f}x")
            res[label] = {"times": times, "ratio": ratio}
    res["machine_end"] = c.machine_facts()
    c.finish(start, res, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
