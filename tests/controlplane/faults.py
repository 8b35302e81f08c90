"""Fault knobs: each reproduces one step of the incident (README, opening section) on a real cluster.

The incident's steps, as numbered below: 1 the kubeadm certificates expired after a year and were
renewed, deploys still failed; 4 the component logs showed expired client certificates
(scheduler and controller-manager `Unauthorized`, apiserver x509 errors); 5 the diagnosis: the
certificates on disk were new, but the components had never been restarted and still used the
old ones; 6 the fix: check expiry, renew, really restart each component, confirm the served
certificate with `openssl s_client`, replace kubeconfigs copied from admin.conf.

| knob                                   | incident step | what is really broken afterwards |
|----------------------------------------|---------------|----------------------------------|
| expire-client-cert controller-manager  | 4, 5          | KCM restarted with an expired client cert: `Unauthorized`, its Lease goes stale, no token Secrets, no pods |
| expire-client-cert scheduler           | 4, 5          | same for the scheduler (reflector `Unauthorized`) |
| expire-client-cert admin               | 1, 6 (copies) | admin.conf is rejected (`Unauthorized`), nothing restarted |
| renew-without-restart                  | 1, 5          | `kubeadm certs renew all`; processes keep the certs they loaded |
| expire-serving-cert                    | 6 (s_client)  | kube-apiserver restarted serving an expired pki/apiserver.crt |
| stop/start/restart COMPONENT           | 6             | a component down, or a NEW process |
| unavailable-apiservice                 | 4             | APIService v1beta1.metrics.k8s.io Available=False, discovery incomplete |
| blackhole                              | 4 (timeouts)  | a TCP endpoint that accepts and never answers |
| helm-pending RELEASE                   | 2             | release left pending-upgrade by a killed `helm upgrade` |
| stop-kubelet                           | (a node down) | `up --node` only: the kubelet stopped; returns once the Node is NotReady |
| start-kubelet                          |               | the kubelet started again; returns once the Node is Ready |

Each knob waits for its symptom to exist before returning (never a bare sleep) and returns a
one-line description (no secrets) or an address.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable

from . import kubeadm, node, pki, procs
from .errors import HarnessError, tail

if TYPE_CHECKING:
    from .cluster import ControlPlane

CHARTS = Path(__file__).resolve().parent / "charts"
BLACKHOLE_SCRIPT = Path(__file__).resolve().parent / "blackhole.py"

# kubeconfig file and the component that uses it (None: not a running component).
_CLIENT_CERTS = {
    "controller-manager": ("controller-manager.conf", "kube-controller-manager"),
    "kube-controller-manager": ("controller-manager.conf", "kube-controller-manager"),
    "scheduler": ("scheduler.conf", "kube-scheduler"),
    "kube-scheduler": ("scheduler.conf", "kube-scheduler"),
    "admin": ("admin.conf", None),
}


def expire_client_cert(cp: ControlPlane, who: str) -> str:
    """Re-issue the kubeconfig's client certificate already expired (same subject and usages,
    new key, signed by pki/ca) and restart the component that uses it."""
    if who not in _CLIENT_CERTS:
        raise HarnessError(f"expire-client-cert: unknown kubeconfig {who!r}; one of "
                           "controller-manager, scheduler, admin")
    conf, component = _CLIENT_CERTS[who]
    not_before, not_after = pki.expired_window()
    cert = pki.reissue_kubeconfig_cert(cp.workdir / conf, cp.pki_dir / "ca.crt",
                                       cp.pki_dir / "ca.key", not_before, not_after)
    if component:
        cp.restart(component)  # waits for /healthz only: the lease cannot be renewed any more
    return (f"{conf}: client certificate {cert.subject.rfc4514_string()} serial "
            f"{cert.serial_number:x} expired {not_after:%Y-%m-%d %H:%M} UTC"
            + (f"; {component} restarted with it" if component else ""))


# kubeadm's name for each leaf certificate (`kubeadm certs renew etcd-server` renews pki/etcd/server.crt).
RENEW_NAME = dict(zip(pki.LEAF_CERTS, kubeadm.LEAF_RENEW_NAMES))


def renew_certificates(cp: ControlPlane, names: list[str] | None = None) -> list[str]:
    """`kubeadm certs renew all`, then check that every certificate kubeadm renews is valid
    and newer on disk than the call. Anything kubeadm left behind is re-issued here (valid
    for a year) and named in the returned list, so a kubeadm change shows up, not a hang.

    With `names` (kubeadm's: `apiserver`, `etcd-server`, ..., `scheduler.conf`), only those are
    renewed, one `kubeadm certs renew NAME` each, and only those are checked."""
    since = time.time()
    if names is None:
        # (renew_all returns False when it could not chroot and so left the kubeconfigs to us.)
        kubeadm.renew_all(cp.bin_dir, cp.workdir, cp.kubeadm_config, cp.log_path("kubeadm"))
    else:
        unknown = set(names) - set(RENEW_NAME.values()) - set(pki.RENEWED_KUBECONFIGS)
        if unknown:
            raise HarnessError(f"kubeadm renews no certificate named {', '.join(sorted(unknown))}")
        kubeadm.renew(cp.bin_dir, cp.workdir, cp.kubeadm_config, cp.log_path("kubeadm"), names)
    fallback = []
    year = pki.valid_window()
    for leaf in pki.LEAF_CERTS:
        if names is not None and RENEW_NAME[leaf] not in names:
            continue
        crt = cp.pki_dir / f"{leaf}.crt"
        if crt.stat().st_mtime < since or not pki.is_valid_now(pki.load_cert(crt)):
            ca_crt, ca_key = pki.signing_ca(cp.pki_dir, leaf)
            pki.reissue_cert_file(crt, cp.pki_dir / f"{leaf}.key", ca_crt, ca_key, *year)
            fallback.append(leaf)
    for conf in pki.RENEWED_KUBECONFIGS:
        if names is not None and conf not in names:
            continue
        path = cp.workdir / conf
        if path.stat().st_mtime < since or not pki.is_valid_now(pki.kubeconfig_client_cert(path)):
            pki.reissue_kubeconfig_cert(path, cp.pki_dir / "ca.crt", cp.pki_dir / "ca.key", *year)
            fallback.append(conf)
    return fallback


def _wait_until_every_component_is_older_than(cp: ControlPlane, seconds: float, deadline: float = 10.0) -> None:
    """A renewal the harness makes right after a restart must be *after* it, measurably: wait
    (on the process ages, with a deadline) until every running component has run ``seconds``.
    Ages come from /proc/uptime and the start tick, both good to 10 ms."""
    hz = os.sysconf("SC_CLK_TCK")
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        infos = [procs.proc_info(pid) for n in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
                 if (pid := cp.pid(n))]
        if all(info is None or uptime - info.starttime / hz >= seconds for info in infos):
            return
        time.sleep(0.02)
    raise HarnessError(f"components did not reach an age of {seconds}s within {deadline}s")


def renew_without_restart(cp: ControlPlane) -> str:
    """What the operator did first: renew on disk, restart nothing. Never in the same instant
    as a restart just before (expire-client-cert restarts the component it breaks)."""
    _wait_until_every_component_is_older_than(cp, 0.25)  # > node.restarts' SAME_MOMENT (50 ms), with room
    fallback = renew_certificates(cp)
    running = [n for n in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
               if cp.pid(n)]
    note = f"; re-issued by the harness because kubeadm did not: {', '.join(fallback)}" if fallback else ""
    return (f"kubeadm renewed {len(pki.LEAF_CERTS)} certificates and "
            f"{len(pki.RENEWED_KUBECONFIGS)} kubeconfigs; still running with the old ones: "
            f"{', '.join(running) or 'nothing'}{note}")


def expire_serving_cert(cp: ControlPlane) -> str:
    """Re-sign pki/apiserver.crt (same key and SANs) already expired, and restart
    kube-apiserver so it serves it. Clients that verify (kubectl, KCM, scheduler) now fail
    with `x509: certificate has expired`."""
    not_before, not_after = pki.expired_window()
    cert = pki.reissue_cert_file(cp.pki_dir / "apiserver.crt", cp.pki_dir / "apiserver.key",
                                 cp.pki_dir / "ca.crt", cp.pki_dir / "ca.key", not_before, not_after)
    cp.restart("kube-apiserver")
    served = cp.served_certificate()
    if served.serial_number != cert.serial_number:
        raise HarnessError(f"kube-apiserver serves serial {served.serial_number:x}, "
                           f"not the expired {cert.serial_number:x}")
    return (f"kube-apiserver serves pki/apiserver.crt serial {cert.serial_number:x}, "
            f"expired {not_after:%Y-%m-%d %H:%M} UTC")


_METRICS_APISERVICE = """\
# The incident's orphaned metrics-server registration: a Service with no selector (so no
# endpoints ever) behind an APIService. The aggregator marks it Available=False and
# discovery of metrics.k8s.io/v1beta1 fails for every client.
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {k8s-app: metrics-server}
spec:
  ports:
  - {name: https, port: 443, protocol: TCP, targetPort: 10250}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
  labels: {k8s-app: metrics-server}
spec:
  group: metrics.k8s.io
  version: v1beta1
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
  service: {name: metrics-server, namespace: kube-system, port: 443}
"""


def unavailable_apiservice(cp: ControlPlane) -> str:
    cp.kubectl("apply", "-f", "-", input=_METRICS_APISERVICE, kubeconfig=cp.super_admin_kubeconfig)

    def unavailable() -> str | None:
        result = cp.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "json",
                            kubeconfig=cp.super_admin_kubeconfig, check=False)
        if result.returncode != 0:
            return None
        for cond in json.loads(result.stdout).get("status", {}).get("conditions", []):
            if cond.get("type") == "Available" and cond.get("status") == "False":
                return cond.get("reason") or "?"
        return None

    reason = cp.wait_for(unavailable, 60, "APIService v1beta1.metrics.k8s.io Available=False",
                         interval=1, detail=lambda: tail(cp.log_path("kube-apiserver")))
    return f"APIService v1beta1.metrics.k8s.io Available=False ({reason})"


def blackhole(cp: ControlPlane) -> str:
    """A listener on 127.0.0.1 that accepts connections and never answers (a hung upstream,
    like the incident's metrics-server). Returns `127.0.0.1:PORT`; `down` stops it."""
    state = cp._load()
    if cp.pid("blackhole") and "blackhole" in state.extras:
        return state.extras["blackhole"]
    port_file = cp.workdir / "blackhole.port"
    port_file.unlink(missing_ok=True)
    cp._spawn("blackhole", [sys.executable, str(BLACKHOLE_SCRIPT), str(port_file)])

    def port() -> str | None:
        if not cp.pid("blackhole"):
            raise HarnessError("the blackhole listener exited", tail(cp.log_path("blackhole")))
        return port_file.read_text().strip() if port_file.exists() else None

    address = f"127.0.0.1:{cp.wait_for(port, 15, 'the blackhole listener to bind', interval=0.1)}"
    state = cp._load()
    state.extras["blackhole"] = address
    state.save(cp.workdir)
    return address


def helm_pending(cp: ControlPlane, release: str) -> str:
    """Install tests/controlplane/charts/stallable (one ConfigMap) with the real helm, then
    `helm upgrade --set stall=true`: its pre-upgrade hook Job can never complete (no kubelet),
    so helm waits; once the newest release Secret says pending-upgrade the helm process is
    SIGKILLed, as a CI timeout would. The release stays pending-upgrade."""
    chart = CHARTS / "stallable"
    kc = cp.super_admin_kubeconfig  # works whatever the admin.conf knobs did
    if cp.helm("status", release, "-n", "default", kubeconfig=kc, check=False).returncode != 0:
        cp.helm("install", release, str(chart), "-n", "default", kubeconfig=kc)
    status = _newest_release(cp, release)
    if status[1] != "deployed":
        raise HarnessError(f"release {release} is {status[1]} (revision {status[0]}), not deployed; "
                           "helm-pending needs a deployed release to upgrade")
    argv = [str(cp.bin_dir / "helm"), f"--kubeconfig={kc}", "upgrade", release, str(chart),
            "-n", "default", "--set", "stall=true", "--timeout", "30m"]
    proc = cp._spawn("helm-upgrade", argv, env=cp.helm_env())
    try:
        def pending() -> tuple[int, str] | None:
            newest = _newest_release(cp, release)
            if newest[1] == "pending-upgrade":
                return newest
            if not cp.pid("helm-upgrade"):
                raise HarnessError(f"helm upgrade {release} ended before reaching pending-upgrade",
                                   tail(cp.log_path("helm-upgrade")))
            return None

        revision, _ = cp.wait_for(pending, 120, f"release {release} to be pending-upgrade",
                                  interval=0.5, detail=lambda: tail(cp.log_path("helm-upgrade")))
    finally:
        # SIGKILL, not SIGTERM: on SIGTERM helm cancels its context and marks the release
        # failed (pkg/action handleContext); a killed CI agent leaves it pending.
        procs.terminate([(proc.pid, proc.starttime)], f"{cp.workdir}/", timeout=10,
                        children=cp._children, first_signal=signal.SIGKILL)
        cp.forget("helm-upgrade")
    return f"release {release} revision {revision} left pending-upgrade (helm SIGKILLed)"


def _newest_release(cp: ControlPlane, release: str) -> tuple[int, str]:
    """(revision, status) of the newest `sh.helm.release.v1.<release>.vN` Secret."""
    result = cp.kubectl("get", "secrets", "-n", "default", "-l", f"owner=helm,name={release}",
                        "-o", "json", kubeconfig=cp.super_admin_kubeconfig)
    items = json.loads(result.stdout)["items"]
    if not items:
        return 0, "absent"
    labels = max((i["metadata"]["labels"] for i in items), key=lambda l: int(l["version"]))
    return int(labels["version"]), labels["status"]


def _component_op(op: str) -> Callable[..., None]:
    def run(cp: ControlPlane, component: str) -> None:
        getattr(cp, op)(component)
    run.__doc__ = f"{op} a component (a NEW process for start/restart)"
    return run


KNOBS: dict[str, Callable[..., str | None]] = {
    "expire-client-cert": expire_client_cert,
    "renew-without-restart": renew_without_restart,
    "expire-serving-cert": expire_serving_cert,
    "stop": _component_op("stop"),
    "start": _component_op("start"),
    "restart": _component_op("restart"),
    "unavailable-apiservice": unavailable_apiservice,
    "blackhole": blackhole,
    "helm-pending": helm_pending,
    "stop-kubelet": node.stop_kubelet,
    "start-kubelet": node.start_kubelet,
}
_ARITY = {"expire-client-cert": 1, "stop": 1, "start": 1, "restart": 1, "helm-pending": 1}


def apply(cp: ControlPlane, knob: str, args: list[str]) -> str | None:
    fn = KNOBS.get(knob)
    if fn is None:
        raise HarnessError(f"unknown knob {knob!r}; one of {', '.join(KNOBS)}")
    if len(args) != _ARITY.get(knob, 0):
        raise HarnessError(f"{knob} takes {_ARITY.get(knob, 0)} argument(s), got {len(args)}")
    return fn(cp, *args)
