"""Driving the real kubeadm offline: PKI, kubeconfigs and `certs renew`, all inside a workdir.

The workdir is laid out like /etc/kubernetes (pki/, admin.conf, ...). kubeadm is told where
through its config file (`certificatesDir`) and `--kubeconfig-dir`; see
/work/shared/notes/build-k8s.md §5.2 for the offline gotchas handled here:
  * `kubernetesVersion` is always set, or kubeadm asks dl.k8s.io for "stable-1";
  * no loopback advertiseAddress (kubeadm rejects it): it is left empty so kubeadm picks the
    host address, and 127.0.0.1 goes in via controlPlaneEndpoint and certSANs instead;
  * nodeRegistration.name and criSocket are set so nothing is detected from the host;
  * `--config` excludes `--cert-dir`; `--kubeconfig-dir` is allowed.
Only phases that write files are run: no preflight, no kubelet, no static pod manifests.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from .errors import CommandFailed

NODE_NAME = "kube-preflight-cp"  # DNS-1123; the hostname is not consulted
SERVICE_SUBNET = "10.96.0.0/12"  # kubeadm's default, also given to kube-apiserver
LOOPBACK_SANS = ["127.0.0.1", "localhost"]


def config_documents(*, version: str, workdir: Path, apiserver_port: int) -> list[dict]:
    init = {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "InitConfiguration",
        # advertiseAddress deliberately unset: kubeadm refuses 127.0.0.1 ("unable to resolve
        # link-local addresses"), notes §5.2 item 3.
        "localAPIEndpoint": {"bindPort": apiserver_port},
        "nodeRegistration": {
            "name": NODE_NAME,
            # Never contacted; set only so kubeadm does not stat the host for CRI sockets.
            "criSocket": "unix:///var/run/containerd/containerd.sock",
        },
    }
    cluster = {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": version,
        "clusterName": "kubernetes",
        "certificatesDir": str(workdir / "pki"),
        "controlPlaneEndpoint": f"127.0.0.1:{apiserver_port}",
        "networking": {"serviceSubnet": SERVICE_SUBNET, "dnsDomain": "cluster.local"},
        "apiServer": {"certSANs": LOOPBACK_SANS},
        "etcd": {"local": {
            "dataDir": str(workdir / "etcd"),
            "serverCertSANs": LOOPBACK_SANS,
            "peerCertSANs": LOOPBACK_SANS,
        }},
    }
    return [init, cluster]


def write_config(path: Path, documents: list[dict]) -> None:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))


def run(bin_dir: Path, args: list[str], log_path: Path) -> subprocess.CompletedProcess:
    """Run kubeadm, appending its output to `log_path` (kubeadm prints no key material)."""
    argv = [str(bin_dir / "kubeadm"), *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write(f"\n===== harness: kubeadm {' '.join(args)} (exit {result.returncode}) =====\n")
        log.write(result.stdout)
        log.write(result.stderr)
    if result.returncode != 0:
        raise CommandFailed(argv, result)
    return result


def init_pki_and_kubeconfigs(bin_dir: Path, workdir: Path, config: Path, log: Path) -> None:
    run(bin_dir, ["init", "phase", "certs", "all", "--config", str(config)], log)
    run(bin_dir, ["init", "phase", "kubeconfig", "all", "--config", str(config),
                  "--kubeconfig-dir", str(workdir)], log)


def renew_all(bin_dir: Path, workdir: Path, config: Path, log: Path) -> None:
    """`kubeadm certs renew all`: every leaf certificate in certificatesDir and the embedded
    client certificates of admin/super-admin/controller-manager/scheduler.conf in
    --kubeconfig-dir. Running processes keep what they loaded (kubeadm says so itself)."""
    run(bin_dir, ["certs", "renew", "all", "--config", str(config),
                  "--kubeconfig-dir", str(workdir)], log)
