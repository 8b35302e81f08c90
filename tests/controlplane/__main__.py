"""Command line for the control-plane harness (run from the repository root).

    python -m tests.controlplane up      --workdir DIR [--timeout S] [--bin-dir DIR] [--node]
    python -m tests.controlplane down    --workdir DIR
    python -m tests.controlplane break   KNOB [ARGS...] --workdir DIR
    python -m tests.controlplane repair  --workdir DIR [--timeout S] [--restart-etcd]
    python -m tests.controlplane restore --workdir DIR [--timeout S]
    python -m tests.controlplane status  --workdir DIR
    python -m tests.controlplane bin     [NAME]      (e.g. helm, helm4, kubectl)

`up` builds what is missing, starts the cluster, prints progress on stderr and the admin
kubeconfig path as its last stdout line, and exits leaving the processes running in their
own sessions. `up --node` also starts containerd and a kubelet (root; one node per machine) and
waits until the node is Ready; `down` then undoes every host change it made. `bin` builds what is missing and prints the bin folder, or the path of
one binary in it (helm is v3, helm4 is v4; build.sh pins both). `break` prints what the knob returned (e.g. the blackhole address). `status`
prints `NAME: pid PID running|stopped` per process and exits 1 if a component is stopped.
`restore` repairs only what is broken (ControlPlane.restore) and prints what it did, one line
each: nothing when nothing was broken.
Expected failures are one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .build import REQUIRED, build_binaries
from .cluster import ControlPlane
from .components import NAMES
from .errors import HarnessError
from .faults import KNOBS


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line too (subparsers inherit this class)."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m tests.controlplane",
        description="Run and break a real Kubernetes control plane on 127.0.0.1.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--workdir", required=True, type=Path, help="cluster folder (like /etc/kubernetes)")
        return p

    up = command("up", "create (first time) and start the control plane")
    up.add_argument("--timeout", type=float, default=180)
    up.add_argument("--bin-dir", type=Path, help="binaries (default: build.sh's cache folder)")
    up.add_argument("--node", action="store_true",
                    help="also run a real node: containerd + kubelet (root; installs Debian packages; one per machine)")
    command("down", "stop every process of the workdir")
    brk = command("break", "apply a fault knob")
    brk.add_argument("knob", choices=sorted(KNOBS), metavar="KNOB",
                     help="one of: " + ", ".join(KNOBS))
    brk.add_argument("args", nargs="*", metavar="ARG")
    rep = command("repair", "kubeadm certs renew all, restart the components, wait ready")
    rep.add_argument("--timeout", type=float, default=180)
    rep.add_argument("--restart-etcd", action="store_true")
    res = command("restore", "repair only what is broken: renew what expired, start what is stopped, "
                             "restart what runs on replaced files, wait ready")
    res.add_argument("--timeout", type=float, default=180)
    command("status", "show each process and whether it runs")
    binary = sub.add_parser("bin", help="build what is missing; print the bin folder or one binary's path")
    binary.add_argument("name", nargs="?", choices=REQUIRED, metavar="NAME", help="one of: " + ", ".join(REQUIRED))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    try:
        if args.command == "bin":
            bin_dir = build_binaries()
            print(bin_dir / args.name if args.name else bin_dir)
            return 0
        if args.command == "up":
            cp = ControlPlane(args.workdir, args.bin_dir)
            cp.up(timeout=args.timeout, node=args.node)
            print(f"control plane {cp.version} ready at {cp.server}"
                  + (f"; node Ready after {cp.node_up_seconds:.1f}s" if cp.node_up_seconds is not None else ""), file=sys.stderr)
            print(cp.admin_kubeconfig)
            return 0
        cp = ControlPlane(args.workdir)
        if args.command == "down":
            cp.down()
        elif args.command == "break":
            result = cp.break_(args.knob, *args.args)
            if result is not None:
                print(result)
        elif args.command == "repair":
            cp.repair(timeout=args.timeout, restart_etcd=args.restart_etcd)
        elif args.command == "restore":
            for line in cp.restore(timeout=args.timeout):
                print(line)
        elif args.command == "status":
            status = cp.status()
            for name, pid in status.items():
                print(f"{name}: pid {pid or '-'} {'running' if pid else 'stopped'}")
            return 0 if all(status.get(n) for n in NAMES) else 1
        return 0
    except HarnessError as exc:
        print(f"error: {exc.summary}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
