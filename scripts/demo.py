"""The incident, reproduced on a throwaway control plane, then diagnosed by preflight.

    make demo            (or: python scripts/demo.py [--keep] [--workdir DIR])

1. builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubeadm, kubectl, helm
   and the kubelet from the Go module proxy (once; cached outside the repository) and starts
   them, with a real node (containerd + kubelet; as root, see README "A real node");
2. deploys a real chart (tests/cluster/charts/app) with ``helm install --wait``: pods Running;
3. breaks the control plane as in the incident the README opens with: the controller-manager's
   and scheduler's client certificates expire; the operator renews everything on disk but restarts nothing; a
   new ServiceAccount gets a token Secret that stays empty, and a RoleBinding names it with a typo;
4. ``helm upgrade --wait --timeout 30s`` times out, as the incident's deploys did, while
   ``helm preflight upgrade`` refuses in under a second (it renders and dry-runs the chart too)
   with the root cause;
5. ``preflight explain`` says why the timed-out deploy is not ready; ``preflight check`` in node
   mode and ``preflight certs`` show the same on the control-plane node;
6. repairs it the way that worked (renew, then really restart) and runs preflight again;
7. the same ``helm upgrade --wait`` succeeds, pods Running;
8. gives the ServiceAccount a verified long-lived token with ``sa-tokens ensure``.

Not root: no node, so steps 2, 4 and 7 (the deploys) are left out, saying so.
The demo checks its own story: it exits 1 if preflight or helm does not do what it should.
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


APP = ROOT / "tests" / "cluster" / "charts" / "app"
RELEASE, NAMESPACE = "shop", "rmxc-prod"


def step(n: int, text: str) -> None:
    print(f"\n{BOLD}[{n}/8] {text}{RESET}", flush=True)


def run(*argv: str, env: dict[str, str] | None = None) -> int:
    shown = " ".join(shlex.quote(a) for a in argv if not a.startswith("--kubeconfig=")).replace(str(BIN) + "/", "")
    for folder in {str(Path(a).parent) + "/" for a in argv if "/controlplane/" in a}:
        shown = shown.replace(folder, "")
    print(f"{DIM}$ {shown}{RESET}", flush=True)
    return subprocess.run(argv, check=False, env=env).returncode


def helm_upgrade(cp: ControlPlane, *extra: str, preflight: bool = False, message: str, timeout: str = "30s") -> tuple[int, float]:
    """helm [preflight] upgrade of the shop release, as the pipeline runs it; (exit code, seconds)."""
    env = cp.helm_env() | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    argv = [str(cp.helm_binary()), f"--kubeconfig={cp.admin_kubeconfig}", *(["preflight"] if preflight else []), "upgrade",
            RELEASE, str(APP), "-n", NAMESPACE, "--set", f"message={message}", "--wait", "--timeout", timeout, *extra]
    t0 = time.monotonic()
    code = run(*argv, env=env)
    return code, time.monotonic() - t0


def show_pods(cp: ControlPlane) -> str:
    out = cp.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide").stdout
    print(out.rstrip())
    return out


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


def break_like_the_incident(cp: ControlPlane) -> None:
    print("- kube-controller-manager and kube-scheduler restart with expired client certificates")
    cp.break_("expire-client-cert", "controller-manager")
    cp.break_("expire-client-cert", "scheduler")
    print("- the operator renews every certificate on disk (kubeadm certs renew all) but restarts nothing")
    cp.break_("renew-without-restart")
    print("- a new ServiceAccount rmxc-prod/rmxc-jenkinss with a token Secret; a RoleBinding in rmxc-dev names rmxc-jenkins")
    for ns in ("rmxc-prod", "rmxc-dev"):
        if cp.kubectl("get", "namespace", ns, check=False).returncode != 0:
            cp.kubectl("create", "namespace", ns)
    cp.kubectl("create", "serviceaccount", "-n", "rmxc-prod", "rmxc-jenkinss")
    cp.kubectl("apply", "-f", "-", input=TOKEN_SECRET)
    cp.kubectl("create", "rolebinding", "rmxc-jenkins-rolebinding", "-n", "rmxc-dev", "--clusterrole", "edit",
               "--serviceaccount", "rmxc-prod:rmxc-jenkins")
    print("- waiting until the leader leases have gone unrenewed for a while, as they had in the incident ...", flush=True)
    cp.wait_for(lambda: min(lease_age(cp, "kube-controller-manager"), lease_age(cp, "kube-scheduler")) > 50,
                timeout=180, what="the leader leases to go stale")


def deploys_fail_but_preflight_refuses(cp: ControlPlane, preflight: str) -> None:
    print("- the pipeline's deploy, as it ran during the incident:")
    code, took = helm_upgrade(cp, message="v2")
    expect(code != 0, "helm upgrade --wait should time out on the broken control plane")
    print(f"{DIM}helm gave up after {took:.0f}s{RESET}")
    print("\n- the same deploy behind the gate (helm plugin install \"$(preflight helm plugin-dir)\"):")
    plugin_dir = subprocess.run([preflight, "helm", "plugin-dir"], capture_output=True, text=True, check=True).stdout.strip()
    cp.helm("plugin", "install", plugin_dir, check=False)
    code, took = helm_upgrade(cp, "--preflight-service-account", "rmxc-prod/rmxc-jenkinss", preflight=True, message="v2")
    expect(code == 1, f"helm preflight upgrade should refuse (exit 1), got {code}")
    print(f"{DIM}helm preflight refused in {took:.2f}s; helm was never started{RESET}")
    step(5, "After the timeout: preflight explain says why the release is not ready")
    code = run(preflight, "explain", "--kubeconfig", str(cp.admin_kubeconfig), "--release", RELEASE, "-n", NAMESPACE)
    expect(code == 1, f"preflight explain should exit 1 on the timed-out release, got {code}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where the control plane lives (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="leave the control plane running afterwards")
    args = parser.parse_args()

    with_node = os.geteuid() == 0
    step(1, "Building the control plane and the kubelet from upstream Go modules (cached after the first time) and starting them")
    started = time.monotonic()
    bin_dir = build_binaries()
    own_workdir = args.workdir is None  # a temp folder of ours goes after a demo that succeeded (it holds the cluster's keys)
    succeeded = False
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="preflight-demo-"))
    cp = ControlPlane(workdir, bin_dir)
    if not with_node:
        print("demo: not root, so no node (up --node needs root): the deploy steps are left out")
    cp.up(node=with_node)
    print(f"control plane {cp.version} on {cp.server}; kubeadm layout in {workdir}"
          + (f"; node Ready after {cp.node_up_seconds:.1f}s" if with_node else ""))
    admin = str(cp.admin_kubeconfig)
    preflight, sa_tokens = str(BIN / "preflight"), str(BIN / "sa-tokens")
    try:
        if with_node:
            step(2, "Deploying a real chart: helm install --wait, pods Running")
            cp.kubectl("create", "namespace", NAMESPACE)
            expect(run(str(cp.helm_binary()), f"--kubeconfig={admin}", "install", RELEASE, str(APP), "-n", NAMESPACE, "--wait",
                       "--timeout", "90s", env=cp.helm_env()) == 0, "helm install should succeed on the healthy cluster")
            expect("Running" in show_pods(cp), "the release's pod should be Running")

        step(3, "Breaking the control plane as in the incident")
        break_like_the_incident(cp)

        step(4, "The deploy: helm upgrade --wait times out; helm preflight upgrade refuses at once")
        if with_node:
            deploys_fail_but_preflight_refuses(cp, preflight)
        else:
            print("(left out: no node)")
            step(5, "preflight explain (left out: no deploy)")
        print(f"\n{DIM}preflight check as the pipeline runs it, in node mode on the control-plane node:{RESET}")
        check = [preflight, "check", "--kubeconfig", admin, "-n", "rmxc-dev", "--service-account", "rmxc-prod/rmxc-jenkinss",
                 "--node", str(workdir)]
        broken = run(*check)
        expect(broken == 1, f"preflight should exit 1 on the broken cluster, got {broken}")
        print(f"\n{DIM}The same node, audited offline like 'kubeadm certs check-expiration' plus what it leaves out:{RESET}")
        # The harness's kubelet authenticates with kubelet.conf's own certificate and serves a self-signed
        # one, not kubeadm's rotated files in /var/lib/kubelet/pki: its rows are left out, as on a node without one.
        run(preflight, "certs", "--pki-dir", str(workdir), "--kubelet-dir", str(workdir / "no-kubelet"), "--compare-served")

        step(6, "The fix that worked: renew, then really restart the control plane (not 'kubectl delete pod'); preflight again")
        cp.repair()
        print("kube-apiserver, kube-controller-manager and kube-scheduler restarted with the renewed certificates")
        print("- waiting for the controller-manager to fill the token Secret, as it did after the real restarts ...", flush=True)
        cp.wait_for(lambda: "token" in cp.kubectl("get", "secret", "-n", "rmxc-prod", "rmxc-jenkinss-token",
                                                  "-o", "jsonpath={.data}").stdout, timeout=120, what="the token Secret to be filled")
        fixed = run(*check)
        expect(fixed == 0, f"preflight should exit 0 once repaired (the RoleBinding typo is only a warning), got {fixed}")

        step(7, "The deploy again, behind the gate: it succeeds and the pods run")
        if with_node:
            code, took = helm_upgrade(cp, "--preflight-service-account", "rmxc-prod/rmxc-jenkinss", preflight=True,
                                      message="v3", timeout="90s")
            expect(code == 0, f"helm preflight upgrade should succeed once repaired, got {code}")
            print(f"{DIM}deployed in {took:.1f}s{RESET}")
            expect("Running" in show_pods(cp), "the release's new pod should be Running")
        else:
            print("(left out: no node)")

        step(8, "A verified long-lived token for Jenkins, written as a kubeconfig (0600)")
        out = workdir / "rmxc-jenkinss.kubeconfig"
        code = run(sa_tokens, "ensure", "--kubeconfig", admin, "-n", "rmxc-prod", "rmxc-jenkinss", "--kubeconfig-out", str(out))
        expect(code == 0, "sa-tokens ensure should succeed on the repaired cluster")
        run(str(bin_dir / "kubectl"), "--kubeconfig", str(out), "auth", "whoami")
        print(f"\ndemo: done in {time.monotonic() - started:.0f}s")
        succeeded = True
        return 0
    finally:
        if args.keep:
            print(f"control plane left running; stop it with: python -m tests.controlplane down --workdir {workdir}")
        elif own_workdir and succeeded:
            cp.remove()
        else:
            cp.down()
            if own_workdir:  # a failed demo's component logs are worth keeping (the folder is 0700)
                print(f"demo: its files are kept in {workdir} (logs/); remove the folder when done")


if __name__ == "__main__":
    sys.exit(main())
