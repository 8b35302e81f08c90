"""The incident, reproduced on a throwaway control plane, then diagnosed by preflight.

    make demo            (or: python scripts/demo.py [--keep] [--workdir DIR])

1. builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubeadm and helm
   from the Go module proxy (once; cached outside the repository) and starts them;
2. breaks them as in the incident the README opens with: the controller-manager's and scheduler's client
   certificates expire; the operator renews everything on disk but restarts nothing; a new
   ServiceAccount gets a token Secret that stays empty, and a RoleBinding names it with a typo;
3. runs ``preflight check`` as the Jenkins pipeline would before ``helm upgrade``;
4. repairs it the way that worked (renew, then really restart) and runs preflight again;
5. gives the ServiceAccount a verified long-lived token with ``sa-tokens ensure``.

The demo checks its own story: it exits 1 if preflight does not say what it should.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.controlplane import ControlPlane, build_binaries  # noqa: E402

BIN = Path(sys.executable).parent
BOLD, DIM, RESET = ("\x1b[1m", "\x1b[2m", "\x1b[0m") if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else ("", "", "")

TOKEN_SECRET = """apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata:
  name: rmxc-jenkinss-token
  namespace: rmxc-prod
  annotations:
    kubernetes.io/service-account.name: rmxc-jenkinss
"""


def step(n: int, text: str) -> None:
    print(f"\n{BOLD}[{n}/6] {text}{RESET}", flush=True)


def run(*argv: str) -> int:
    shown = " ".join(shlex.quote(a) for a in argv).replace(str(BIN) + "/", "")
    print(f"{DIM}$ {shown}{RESET}", flush=True)
    return subprocess.run(argv, check=False).returncode


def expect(ok: bool, what: str) -> None:
    if not ok:
        print(f"\ndemo: FAILED: {what}", file=sys.stderr)
        raise SystemExit(1)


def lease_age(cp: ControlPlane, component: str) -> float:
    spec = cp.lease(component) or {}
    renewed = spec.get("renewTime")
    if not renewed:
        return 0.0
    from datetime import UTC, datetime

    return (datetime.now(UTC) - datetime.fromisoformat(renewed.replace("Z", "+00:00"))).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where the control plane lives (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="leave the control plane running afterwards")
    args = parser.parse_args()

    step(1, "Building the control plane from upstream Go modules (cached after the first time) and starting it")
    started = time.monotonic()
    bin_dir = build_binaries()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="preflight-demo-"))
    cp = ControlPlane(workdir, bin_dir)
    cp.up()
    print(f"control plane {cp.version} on {cp.server}; kubeadm layout in {workdir}")
    admin = str(cp.admin_kubeconfig)
    preflight, sa_tokens = str(BIN / "preflight"), str(BIN / "sa-tokens")
    try:
        step(2, "Breaking it as in the incident")
        print("- kube-controller-manager and kube-scheduler restart with expired client certificates")
        cp.break_("expire-client-cert", "controller-manager")
        cp.break_("expire-client-cert", "scheduler")
        print("- the operator renews every certificate on disk (kubeadm certs renew all) but restarts nothing")
        cp.break_("renew-without-restart")
        print("- a new ServiceAccount rmxc-prod/rmxc-jenkinss with a token Secret; a RoleBinding in rmxc-dev names rmxc-jenkins")
        for ns in ("rmxc-prod", "rmxc-dev"):
            cp.kubectl("create", "namespace", ns)
        cp.kubectl("create", "serviceaccount", "-n", "rmxc-prod", "rmxc-jenkinss")
        cp.kubectl("apply", "-f", "-", input=TOKEN_SECRET)
        cp.kubectl("create", "rolebinding", "rmxc-jenkins-rolebinding", "-n", "rmxc-dev", "--clusterrole", "edit",
                   "--serviceaccount", "rmxc-prod:rmxc-jenkins")
        print("- waiting until the leader leases have gone unrenewed for a while, as they had in the incident ...", flush=True)
        cp.wait_for(lambda: min(lease_age(cp, "kube-controller-manager"), lease_age(cp, "kube-scheduler")) > 50,
                    timeout=180, what="the leader leases to go stale")

        step(3, "preflight check, as the pipeline runs it before 'helm upgrade' (node mode: on the control-plane node)")
        check = [preflight, "check", "--kubeconfig", admin, "-n", "rmxc-dev", "--service-account", "rmxc-prod/rmxc-jenkinss",
                 "--node", str(workdir)]
        broken = run(*check)
        expect(broken == 1, f"preflight should exit 1 on the broken cluster, got {broken}")
        print(f"\n{DIM}The same node, audited offline like 'kubeadm certs check-expiration' plus what it leaves out:{RESET}")
        run(preflight, "certs", "--pki-dir", str(workdir), "--compare-served")

        step(4, "The fix that worked: renew, then really restart the control plane (not 'kubectl delete pod')")
        cp.repair()
        print("kube-apiserver, kube-controller-manager and kube-scheduler restarted with the renewed certificates")
        print("- waiting for the controller-manager to fill the token Secret, as it did after the real restarts ...", flush=True)
        cp.wait_for(lambda: "token" in cp.kubectl("get", "secret", "-n", "rmxc-prod", "rmxc-jenkinss-token",
                                                  "-o", "jsonpath={.data}").stdout, timeout=120, what="the token Secret to be filled")

        step(5, "preflight check again")
        fixed = run(*check)
        expect(fixed == 0, f"preflight should exit 0 once repaired (the RoleBinding typo is only a warning), got {fixed}")

        step(6, "A verified long-lived token for Jenkins, written as a kubeconfig (0600)")
        out = workdir / "rmxc-jenkinss.kubeconfig"
        code = run(sa_tokens, "ensure", "--kubeconfig", admin, "-n", "rmxc-prod", "rmxc-jenkinss", "--kubeconfig-out", str(out))
        expect(code == 0, "sa-tokens ensure should succeed on the repaired cluster")
        run(str(bin_dir / "kubectl"), "--kubeconfig", str(out), "auth", "whoami")
        print(f"\ndemo: done in {time.monotonic() - started:.0f}s")
        return 0
    finally:
        if args.keep:
            print(f"control plane left running; stop it with: python -m tests.controlplane down --workdir {workdir}")
        else:
            cp.down()


if __name__ == "__main__":
    sys.exit(main())
