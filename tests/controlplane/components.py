"""The command lines of the four control-plane components, as one table.

Each row is what kubeadm writes into the component's static pod manifest
(kubernetes/kubernetes cmd/kubeadm/app/phases/controlplane/manifests.go and
phases/etcd/local.go), with /etc/kubernetes replaced by the workdir
and fixed ports replaced by free ones. Lines marked HARNESS differ from kubeadm, and say why.
The rendered argv is stored in state.json, so another process restarts exactly the same line.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .kubeadm import NODE_NAME, SERVICE_SUBNET


@dataclass(frozen=True)
class Component:
    name: str
    binary: str
    flags: tuple[str, ...]  # str.format templates over the layout below


ETCD = Component("etcd", "etcd", (
    "--name=" + NODE_NAME,
    "--data-dir={workdir}/etcd",
    "--listen-client-urls=https://127.0.0.1:{etcd_client_port}",
    "--advertise-client-urls=https://127.0.0.1:{etcd_client_port}",
    "--listen-peer-urls=https://127.0.0.1:{etcd_peer_port}",
    "--initial-advertise-peer-urls=https://127.0.0.1:{etcd_peer_port}",
    "--initial-cluster=" + NODE_NAME + "=https://127.0.0.1:{etcd_peer_port}",
    "--cert-file={pki}/etcd/server.crt",
    "--key-file={pki}/etcd/server.key",
    "--client-cert-auth=true",
    "--trusted-ca-file={pki}/etcd/ca.crt",
    "--peer-cert-file={pki}/etcd/peer.crt",
    "--peer-key-file={pki}/etcd/peer.key",
    "--peer-client-cert-auth=true",
    "--peer-trusted-ca-file={pki}/etcd/ca.crt",
    "--snapshot-count=10000",
    # HARNESS: no fsync; a test cluster's data is disposable and fsync dominates on slow disks.
    "--unsafe-no-fsync=true",
    # HARNESS: kubeadm adds --listen-metrics-urls=http://127.0.0.1:2381; left out to need
    # one port fewer per cluster.
))

APISERVER = Component("kube-apiserver", "kube-apiserver", (
    # HARNESS: loopback only. 127.0.0.1 as advertise address needs
    # --endpoint-reconciler-type=none since v1.37 (kubernetes/kubernetes#138102, CHANGELOG v1.37.0-alpha.1): the
    # `kubernetes` Service then has no endpoints, which nothing here needs.
    "--advertise-address=127.0.0.1",
    "--bind-address=127.0.0.1",
    "--endpoint-reconciler-type=none",
    "--secure-port={apiserver_port}",
    # HARNESS: the default /var/run/kubernetes is not writable for everyone; only used for
    # self-signed certs when --tls-cert-file is absent, which it is not.
    "--cert-dir={workdir}/apiserver-certs",
    "--allow-privileged=true",
    "--authorization-mode=Node,RBAC",
    "--client-ca-file={pki}/ca.crt",
    "--enable-admission-plugins=NodeRestriction",
    "--enable-bootstrap-token-auth=true",
    "--etcd-cafile={pki}/etcd/ca.crt",
    "--etcd-certfile={pki}/apiserver-etcd-client.crt",
    "--etcd-keyfile={pki}/apiserver-etcd-client.key",
    "--etcd-servers=https://127.0.0.1:{etcd_client_port}",
    "--kubelet-client-certificate={pki}/apiserver-kubelet-client.crt",
    "--kubelet-client-key={pki}/apiserver-kubelet-client.key",
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    "--proxy-client-cert-file={pki}/front-proxy-client.crt",
    "--proxy-client-key-file={pki}/front-proxy-client.key",
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-client-ca-file={pki}/front-proxy-ca.crt",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-username-headers=X-Remote-User",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--service-account-key-file={pki}/sa.pub",
    "--service-account-signing-key-file={pki}/sa.key",
    "--service-cluster-ip-range=" + SERVICE_SUBNET,
    "--tls-cert-file={pki}/apiserver.crt",
    "--tls-private-key-file={pki}/apiserver.key",
))

CONTROLLER_MANAGER = Component("kube-controller-manager", "kube-controller-manager", (
    "--kubeconfig={workdir}/controller-manager.conf",
    "--authentication-kubeconfig={workdir}/controller-manager.conf",
    "--authorization-kubeconfig={workdir}/controller-manager.conf",
    "--bind-address=127.0.0.1",
    # HARNESS: a free port instead of 10257 so several clusters fit on one machine.
    "--secure-port={controller_manager_port}",
    "--client-ca-file={pki}/ca.crt",
    "--requestheader-client-ca-file={pki}/front-proxy-ca.crt",
    "--cluster-name=kubernetes",
    "--cluster-signing-cert-file={pki}/ca.crt",
    "--cluster-signing-key-file={pki}/ca.key",
    # kubeadm's value: '*' = the default set; bootstrapsigner and tokencleaner are off by default.
    "--controllers=*,bootstrapsigner,tokencleaner",
    # Leader election with the upstream defaults (lease 15s, renew 10s, retry 2s): the lease
    # going stale is one of the symptoms the project detects, so it must behave as in production.
    "--leader-elect=true",
    # Without it the tokens controller is skipped ("no private key"): kubernetes/kubernetes
    # cmd/kube-controller-manager/app, newServiceAccountTokenController.
    "--service-account-private-key-file={pki}/sa.key",
    "--root-ca-file={pki}/ca.crt",
    "--use-service-account-credentials=true",
    # HARNESS: 20 s instead of 50 s, so a node whose kubelet stopped (`break stop-kubelet`) is
    # marked NotReady within about 25 s (two missed 10 s lease renewals, plus the 5 s monitor period).
    "--node-monitor-grace-period=20s",
))

SCHEDULER = Component("kube-scheduler", "kube-scheduler", (
    "--kubeconfig={workdir}/scheduler.conf",
    "--authentication-kubeconfig={workdir}/scheduler.conf",
    "--authorization-kubeconfig={workdir}/scheduler.conf",
    "--bind-address=127.0.0.1",
    "--secure-port={scheduler_port}",  # HARNESS: free port instead of 10259
    "--leader-elect=true",
))

# Start order; stop order is the reverse.
COMPONENTS: tuple[Component, ...] = (ETCD, APISERVER, CONTROLLER_MANAGER, SCHEDULER)
NAMES = tuple(c.name for c in COMPONENTS)
# Components that hold a leader Lease in kube-system named after themselves.
LEADER_ELECTED = ("kube-controller-manager", "kube-scheduler")

ALIASES = {
    "apiserver": "kube-apiserver",
    "controller-manager": "kube-controller-manager",
    "kcm": "kube-controller-manager",
    "scheduler": "kube-scheduler",
}


def canonical(name: str) -> str | None:
    name = ALIASES.get(name, name)
    return name if name in NAMES else None


def render(component: Component, bin_dir: Path, layout: dict[str, object]) -> list[str]:
    return [str(bin_dir / component.binary), *(f.format_map(layout) for f in component.flags)]


def secure_port_key(name: str) -> str | None:
    """Layout key of the HTTPS port a component serves /healthz or /readyz on."""
    return {
        "kube-apiserver": "apiserver_port",
        "kube-controller-manager": "controller_manager_port",
        "kube-scheduler": "scheduler_port",
    }.get(name)
