"""Driving the real kubeadm offline: PKI, kubeconfigs and `certs renew`, all inside a workdir.

The workdir is laid out like /etc/kubernetes (pki/, admin.conf, ...). kubeadm is told where
through its config file (`certificatesDir`), `--kubeconfig-dir` for `init phase kubeconfig`,
and `--rootfs` for `certs renew` (see renew_all). The offline gotchas handled here, from
kubernetes/kubernetes cmd/kubeadm:
  * `kubernetesVersion` is always set, or kubeadm asks dl.k8s.io for "stable-1"
    (app/util/version.go, KubernetesReleaseVersion);
  * no loopback advertiseAddress (kubeadm rejects it: app/util/config/initconfiguration.go,
    SetAPIEndpointDynamicDefaults): it is left empty so kubeadm picks the host address, and
    127.0.0.1 goes in via controlPlaneEndpoint and certSANs instead;
  * nodeRegistration.name and criSocket are set so nothing is detected from the host;
  * `--config` excludes `--cert-dir`; `--kubeconfig-dir` is allowed
    (app/apis/kubeadm/validation/validation.go, ValidateMixedArguments).
Only phases that write files are run: no preflight, no kubelet, no static pod manifests.
Nothing here ever writes outside the workdir.
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
        # link-local addresses"): cmd/kubeadm/app/util/config/initconfiguration.go,
        # SetAPIEndpointDynamicDefaults.
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
        # (copies: a shared list would be dumped as a YAML anchor/alias)
        "apiServer": {"certSANs": list(LOOPBACK_SANS)},
        "etcd": {"local": {
            "dataDir": str(workdir / "etcd"),
            "serverCertSANs": list(LOOPBACK_SANS),
            "peerCertSANs": list(LOOPBACK_SANS),
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


# `kubeadm certs renew <name>` subcommands for the leaf certificates in certificatesDir.
LEAF_RENEW_NAMES = ("apiserver", "apiserver-kubelet-client", "apiserver-etcd-client",
                    "front-proxy-client", "etcd-server", "etcd-peer", "etcd-healthcheck-client")


def renew_all(bin_dir: Path, workdir: Path, config: Path, log: Path) -> bool:
    """`kubeadm certs renew all` for the workdir; True if kubeadm also renewed the kubeconfigs.

    kubeadm renews leaf certificates in `certificatesDir`, but reads and writes the
    kubeconfigs in a hard-coded /etc/kubernetes (cmd/kubeadm/app/cmd/certs.go passes
    kubeadmconstants.KubernetesDir; `renew` has no --kubeconfig-dir). Run plainly it would
    renew the HOST's /etc/kubernetes/*.conf with this test CA, so it is never run plainly.
    Instead it runs with `--rootfs <workdir>` (kubeadm chroots there first), where a
    temporary relative symlink etc/kubernetes -> .. makes /etc/kubernetes the workdir itself,
    and a copy of the config names paths as seen inside the chroot.

    chroot needs CAP_SYS_CHROOT (root). Without it, the seven leaf certificates are renewed
    one by one with `kubeadm certs renew <name>` (same code path, no /etc/kubernetes) and
    False is returned: the caller re-issues the kubeconfig certificates itself."""
    return renew(bin_dir, workdir, config, log, ["all"])


def renew(bin_dir: Path, workdir: Path, config: Path, log: Path, names: list[str]) -> bool:
    """`kubeadm certs renew NAME` for each name (`all`, a LEAF_RENEW_NAMES entry or a kubeconfig
    such as `scheduler.conf`), inside the workdir as renew_all describes. True if kubeadm renewed
    everything asked; False if it could not chroot, so renewed only the leaf certificates asked
    (plainly, which touches nothing outside certificatesDir) and left the kubeconfigs to the caller."""
    if not names:
        return True
    chroot_config = workdir / ".kubeadm-rootfs.yaml"
    etc = workdir / "etc"
    docs = list(yaml.safe_load_all(config.read_text()))
    for doc in docs:
        if doc.get("kind") == "ClusterConfiguration":
            doc["certificatesDir"] = "/" + str(Path(doc["certificatesDir"]).relative_to(workdir))
            local = doc.get("etcd", {}).get("local", {})
            if "dataDir" in local:
                local["dataDir"] = "/" + str(Path(local["dataDir"]).relative_to(workdir))
    write_config(chroot_config, docs)
    etc.mkdir(exist_ok=True)
    link = etc / "kubernetes"
    link.unlink(missing_ok=True)
    link.symlink_to("..")  # relative: inside the chroot /etc/.. = /, outside it is the workdir
    try:
        for name in names:
            run(bin_dir, ["certs", "renew", name, "--rootfs", str(workdir),
                          "--config", "/" + chroot_config.name], log)
        return True
    except CommandFailed as exc:
        if "chroot" not in (exc.stderr or "") + (exc.output or ""):
            raise
    finally:
        link.unlink(missing_ok=True)
        etc.rmdir()
        chroot_config.unlink(missing_ok=True)
    for name in LEAF_RENEW_NAMES:
        if name in names or "all" in names:
            run(bin_dir, ["certs", "renew", name, "--config", str(config)], log)
    return False
