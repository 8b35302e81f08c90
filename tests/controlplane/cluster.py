"""ControlPlane: one real Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) on 127.0.0.1, laid out in a workdir like
/etc/kubernetes and driven with the real kubeadm, kubectl and helm.

With `up(node=True)` it also runs a real node (node.py: containerd, runc, bridge CNI and a
kubelet, on a bridge of its own; one per machine, root only); without it, pods stay Pending.
What it deliberately does not do: supervise components (a component that exits stays down, as a static pod would not), or
fake any API. Everything the tests observe comes from the upstream binaries.

Synchronisation is always a condition with a deadline (`errors.wait_for`); on timeout the
error carries the tail of the component log that explains it.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import TypeVar
from collections.abc import Callable

from cryptography import x509

from . import components, faults, kubeadm, pki, procs
from . import node as real_node
from .build import bin_dir_path, build_binaries, helm_binaries, is_built
from .errors import CommandFailed, HarnessError, tail, wait_for
from .state import Proc, State

log = logging.getLogger("tests.controlplane")
T = TypeVar("T")

# X509_V_ERR_CERT_HAS_EXPIRED: the one verification failure the apiserver probe tolerates
# (the expire-serving-cert knob makes the apiserver serve an expired certificate on purpose).
_CERT_HAS_EXPIRED = 10
# Binaries whose leftover processes `down` may kill when they mention the workdir.
_OUR_BINARIES = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                 "kubeadm", "kubectl", "helm", "helm4", "kubelet", "containerd", "containerd-shim-runc-v2"}
_CLUSTER_ADMINS_BINDING = """\
# What `kubeadm init` creates after its phases (kubeadm 1.29+, kubernetes/kubernetes#121305):
# admin.conf's group kubeadm:cluster-admins gets cluster-admin; only super-admin.conf is
# system:masters.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kubeadm:cluster-admins
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: kubeadm:cluster-admins
"""


def _parse_time(value: str) -> dt.datetime:
    # Lease times are MicroTime, RFC 3339 with microseconds and a Z suffix.
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class ControlPlane:
    """A real control plane in `workdir`. See the package docstring for the API."""

    def __init__(self, workdir: Path | str, bin_dir: Path | str | None = None):
        self.workdir = Path(workdir).resolve()
        self._bin_dir = Path(bin_dir).resolve() if bin_dir else None
        self._children: dict[int, subprocess.Popen] = {}  # to reap what this process started
        self.node_up_seconds: float | None = None

    # --- layout ---------------------------------------------------------------------------

    @property
    def pki_dir(self) -> Path:
        return self.workdir / "pki"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.conf"

    @property
    def super_admin_kubeconfig(self) -> Path:
        return self.workdir / "super-admin.conf"

    @property
    def kubeadm_config(self) -> Path:
        return self.workdir / "kubeadm.yaml"

    def log_path(self, component: str) -> Path:
        return self.workdir / "logs" / f"{components.canonical(component) or component}.log"

    @property
    def _marker(self) -> str:
        # Every argv we start holds a path below the workdir. The trailing slash keeps
        # /tmp/a from matching /tmp/ab's processes.
        return f"{self.workdir}/"

    # --- state ----------------------------------------------------------------------------

    def _load(self) -> State:
        state = State.load(self.workdir)
        if state is None:
            raise HarnessError(f"{self.workdir} is not an initialised control-plane workdir "
                               "(no state.json): run `up` first")
        return state

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is not None:
            return self._bin_dir
        state = State.load(self.workdir)
        return Path(state.bin_dir) if state else bin_dir_path()

    @property
    def version(self) -> str:
        state = State.load(self.workdir)
        return state.version if state else _binary_version(self.bin_dir)

    def _port(self, key: str) -> int:
        return self._load().ports[key]

    @property
    def apiserver_port(self) -> int:
        return self._port("apiserver_port")

    @property
    def etcd_client_port(self) -> int:
        return self._port("etcd_client_port")

    @property
    def etcd_peer_port(self) -> int:
        return self._port("etcd_peer_port")

    @property
    def controller_manager_port(self) -> int:
        return self._port("controller_manager_port")

    @property
    def scheduler_port(self) -> int:
        return self._port("scheduler_port")

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    # --- processes ------------------------------------------------------------------------

    def pid(self, component: str) -> int | None:
        """The pid of a running component or helper (blackhole, helm-upgrade), else None."""
        name = components.canonical(component) or component
        proc = self._load().processes.get(name)
        if proc and procs.is_ours(proc.pid, proc.starttime, self._marker):
            return proc.pid
        return None

    def status(self) -> dict[str, int | None]:
        """Every process the workdir knows of: name -> pid if running, else None."""
        return {name: self.pid(name) for name in self._load().processes}

    def start(self, component: str, *, wait: bool = True, timeout: float = 120) -> None:
        """Start a stopped component with its recorded command line; wait until it serves
        (etcd /health, kube-apiserver /readyz, KCM/scheduler /healthz)."""
        name = self._component(component)
        if self.pid(name):
            return
        state = self._load()
        for key in _ports_of(name):
            port = state.ports[key]
            # A process stopped a moment ago may still be closing its listener.
            try:
                self.wait_for(lambda: not procs.port_in_use(port), 10,
                              f"port {port} to be free", interval=0.1)
            except TimeoutError:
                raise HarnessError(f"cannot start {name}: port {port} on 127.0.0.1 is in use") from None
        self._spawn(name, state.processes[name].argv)
        if wait:
            self._wait_serving(name, timeout)

    def stop(self, component: str, timeout: float = 20) -> None:
        name = self._component(component)
        self._terminate([name], timeout)

    def restart(self, component: str, *, wait: bool = True, timeout: float = 120) -> None:
        """Stop (SIGTERM, then SIGKILL after a deadline) and start a NEW process."""
        self.stop(component)
        self.start(component, wait=wait, timeout=timeout)

    def _component(self, component: str) -> str:
        name = components.canonical(component)
        if name is None:
            raise HarnessError(f"unknown component {component!r}; one of {', '.join(components.NAMES)}")
        return name

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        """Start a process for this workdir in its own session and record it in state.json."""
        if env is None:
            env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        started_at = time.time()
        try:
            popen, starttime = procs.spawn(
                argv, self.log_path(name), cwd=self.workdir, env=env,
                banner=f"starting {name} at {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}")
        except OSError as exc:
            raise HarnessError(f"cannot start {name}: {exc}") from exc
        self._children[popen.pid] = popen
        state = self._load()
        proc = Proc(argv=argv, pid=popen.pid, starttime=starttime, started_at=started_at)
        state.processes[name] = proc
        state.save(self.workdir)
        log.info("started %s (pid %d)", name, popen.pid)
        return proc

    def _terminate(self, names: list[str], timeout: float) -> None:
        state = self._load()
        targets = [(state.processes[n].pid, state.processes[n].starttime)
                   for n in names if n in state.processes and state.processes[n].pid]
        running = [n for n in names if self.pid(n)]
        t0 = time.monotonic()
        try:
            procs.terminate(targets, self._marker, timeout, self._children)
        except RuntimeError as exc:
            raise HarnessError(str(exc)) from exc
        if running:
            log.info("stopped %s in %.1fs", ", ".join(running), time.monotonic() - t0)
        state = self._load()
        for n in names:
            if n in state.processes:
                state.processes[n].pid = state.processes[n].starttime = None
        state.save(self.workdir)

    def forget(self, name: str) -> None:
        """Drop a helper process (already stopped) from the state."""
        state = self._load()
        state.processes.pop(name, None)
        state.extras.pop(name, None)
        state.save(self.workdir)

    # --- up / down ------------------------------------------------------------------------

    def up(self, timeout: float = 180, *, node: bool = False) -> ControlPlane:
        """Create PKI and kubeconfigs with kubeadm (first time), start all four components,
        return when ready (see `wait_ready`). A workdir that was `down`ed is started again
        with the same PKI, data and ports. With `node`, then start containerd and a kubelet and
        wait until the node is Ready (node.py; `node_up_seconds` says how long that took). On
        failure everything started is stopped again and the host restored."""
        if node:
            real_node.check_can_run()  # before anything starts: one line, nothing to undo
        deadline = time.monotonic() + timeout
        state = State.load(self.workdir)
        if state is not None:
            running = {n: self.pid(n) for n in components.NAMES if self.pid(n)}
            if running:
                raise HarnessError(f"{self.workdir} already runs a control plane "
                                   f"(pids {', '.join(map(str, running.values()))}); run `down` first")
        try:
            if state is None or not (self.pki_dir / "ca.crt").exists():
                self._init()
            for name in components.NAMES:
                self.start(name, timeout=_left(deadline))
                if name == "kube-apiserver":
                    self.kubectl("apply", "-f", "-", input=_CLUSTER_ADMINS_BINDING,
                                 kubeconfig=self.super_admin_kubeconfig)
            self.wait_ready(_left(deadline))
            if node:
                self.node_up_seconds = real_node.up(self, _left(deadline) + 60)
        except BaseException:
            if State.load(self.workdir) is not None:
                try:
                    self.down()
                except HarnessError as exc:  # keep the original error
                    log.error("cleanup after failed up: %s", exc.summary)
            raise
        return self

    def _init(self) -> None:
        bin_dir = self._bin_dir or build_binaries()
        if not is_built(bin_dir):
            raise HarnessError(f"{bin_dir} does not hold a complete build (run tests/controlplane/build.sh)")
        self._bin_dir = bin_dir
        version = _binary_version(bin_dir)
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)  # keys and kubeconfigs live here
        names = ("apiserver_port", "etcd_client_port", "etcd_peer_port",
                 "controller_manager_port", "scheduler_port")
        ports = dict(zip(names, procs.free_ports(len(names))))
        layout = {"workdir": self.workdir, "pki": self.pki_dir, **ports}
        state = State(bin_dir=str(bin_dir), version=version, ports=ports, processes={
            c.name: Proc(argv=components.render(c, bin_dir, layout)) for c in components.COMPONENTS})
        state.save(self.workdir)

        kubeadm.write_config(self.kubeadm_config, kubeadm.config_documents(
            version=version, workdir=self.workdir, apiserver_port=ports["apiserver_port"]))
        t0 = time.monotonic()
        kubeadm.init_pki_and_kubeconfigs(bin_dir, self.workdir, self.kubeadm_config,
                                         self.log_path("kubeadm"))
        # kubeadm points controller-manager.conf/scheduler.conf at the advertise address
        # (the host IP; kubernetes/kubernetes cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go,
        # getKubeConfigSpecsBase); the apiserver listens on 127.0.0.1 only.
        for conf in ("admin.conf", "super-admin.conf", "controller-manager.conf",
                     "scheduler.conf", "kubelet.conf"):
            pki.set_kubeconfig_server(self.workdir / conf, f"https://127.0.0.1:{ports['apiserver_port']}")
        log.info("kubeadm created PKI and kubeconfigs in %.1fs", time.monotonic() - t0)

    def down(self, timeout: float = 30) -> None:
        """Stop every process started for this workdir (SIGTERM, deadline, SIGKILL), including
        helpers and leftovers of our binaries that mention the workdir. A node (`up --node`) goes
        first, and every host change it made is undone. Leaves files in the workdir in place."""
        real_node.down(self)
        state = self._load()
        helpers = [n for n in state.processes if n not in components.NAMES]
        self._terminate(helpers, timeout)
        # One at a time, in reverse start order: stopped together with etcd, kube-apiserver's
        # graceful shutdown waits on etcd requests that can no longer finish (~30 s).
        for name in reversed(components.NAMES):
            self._terminate([name], timeout)
        leftovers = self._leftovers()
        if leftovers:
            log.info("stopping leftover processes %s", [p.pid for p in leftovers])
            try:
                procs.terminate([(p.pid, p.starttime) for p in leftovers], self._marker, 10)
            except RuntimeError as exc:
                raise HarnessError(str(exc)) from exc
        for name in helpers:
            self.forget(name)
        remaining = self._leftovers()
        if remaining:
            raise HarnessError("processes still running after down: " + ", ".join(
                f"{p.pid} ({Path(p.argv[0]).name})" for p in remaining))

    def remove(self) -> None:
        """``down``, then delete the workdir: it holds the cluster's CA keys and admin
        credentials. For a workdir the caller made for this cluster alone (the demo's temp
        folder; pytest cleans its own). Refused while anything is still mounted under it:
        deleting through a live bind mount would delete what the mount shows."""
        self.down()
        mounted = real_node.mounts_under(self.workdir)
        if mounted:
            raise HarnessError(f"{self.workdir} kept: still mounted under it: {', '.join(mounted)}")
        shutil.rmtree(self.workdir)

    def _leftovers(self) -> list[procs.ProcInfo]:
        def ours(info: procs.ProcInfo) -> bool:
            return (Path(info.argv[0]).name in _OUR_BINARIES
                    or any(a.endswith("controlplane/blackhole.py") for a in info.argv))
        return [p for p in procs.processes_mentioning(self._marker) if ours(p)]

    def __enter__(self) -> ControlPlane:
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()

    # --- readiness ------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], T], timeout: float, what: str, *,
                 interval: float = 0.5, detail: Callable[[], str] | None = None) -> T:
        """Poll `predicate` until truthy (returned); TimeoutError naming `what` otherwise."""
        return wait_for(predicate, timeout, what, interval=interval, detail=detail)

    def wait_ready(self, timeout: float = 180) -> None:
        """Ready = /readyz is 200, the kube-controller-manager and kube-scheduler Leases are
        held and were renewed by the processes running now, and the ServiceAccount
        default/default exists (made by the controller-manager's serviceaccount controller)."""
        deadline = time.monotonic() + timeout
        self._wait_serving("kube-apiserver", _left(deadline))
        t0 = time.monotonic()
        self.wait_for(self._alive_and(self._leases_renewed_by_current), _left(deadline),
                      "the kube-controller-manager and kube-scheduler leader Leases to be held "
                      "by the running processes", interval=1,
                      detail=lambda: self._tails("kube-controller-manager", "kube-scheduler"))
        self.wait_for(self._alive_and(lambda: self.kubectl(
            "get", "serviceaccount", "default", "-n", "default",
            kubeconfig=self.super_admin_kubeconfig, check=False).returncode == 0),
            _left(deadline), "ServiceAccount default/default", interval=1,
            detail=lambda: self._tails("kube-controller-manager"))
        log.info("leases held and default ServiceAccount present after %.1fs", time.monotonic() - t0)

    def _alive_and(self, predicate: Callable[[], T]) -> Callable[[], T]:
        """Fail fast, with its log, when a component died instead of waiting out the deadline."""
        def check() -> T:
            for name in components.NAMES:
                if not self.pid(name):
                    raise HarnessError(f"{name} is not running (see {self.log_path(name)})",
                                       self._tails(name))
            return predicate()
        return check

    def log_text(self, component: str, *, since_start: bool = True) -> str:
        """A component's log; by default only what its current (last started) process wrote.
        Logs are appended across restarts, each start preceded by a `===== harness:` banner."""
        name = components.canonical(component) or component
        try:
            text = self.log_path(name).read_text(errors="replace")
        except FileNotFoundError:
            return ""
        if since_start:
            banner = text.rfind(f"===== harness: starting {name} at ")
            if banner >= 0:
                text = text[banner:]
        return text

    def _tails(self, *names: str, lines: int = 25) -> str:
        return "\n".join(f"--- last lines of {self.log_path(n)} ---\n{tail(self.log_path(n), lines)}"
                         for n in names)

    def _wait_serving(self, name: str, timeout: float) -> None:
        probe = {
            "etcd": self._etcd_healthy,
            "kube-apiserver": self._apiserver_ready,
            "kube-controller-manager": lambda: self._healthz("controller_manager_port"),
            "kube-scheduler": lambda: self._healthz("scheduler_port"),
        }[name]

        def exit_code() -> int | None:
            """The exit code if it ended, else None. For a child of this process Popen.poll()
            is authoritative; /proc matching (pid, start time, argv) is the fallback for
            processes another harness process started."""
            proc = self._load().processes.get(name)
            child = self._children.get(proc.pid) if proc and proc.pid else None
            if child is not None:
                return child.poll()
            return None if self.pid(name) else -1

        def check() -> bool:
            code = exit_code()
            if code is not None:
                text = tail(self.log_path(name), 40)
                summary = f"{name} exited during startup with code {code} (see {self.log_path(name)})"
                if "address already in use" in text:
                    summary = f"{name} could not bind its port: address already in use"
                raise HarnessError(summary, text)
            return probe()

        what = {"etcd": "etcd /health", "kube-apiserver": "kube-apiserver /readyz"}.get(
            name, f"{name} /healthz")
        t0 = time.monotonic()
        self.wait_for(check, timeout, what, interval=0.25, detail=lambda: self._tails(name))
        log.info("%s serving after %.1fs", name, time.monotonic() - t0)

    def _https(self, port: int, path: str, context: ssl.SSLContext,
               timeout: float = 5) -> tuple[int, bytes] | None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        except ssl.SSLCertVerificationError:
            raise
        except (OSError, http.client.HTTPException):
            return None  # not listening yet, reset during startup, ...
        finally:
            conn.close()

    def _apiserver_ready(self) -> bool:
        try:
            result = self._https(self.apiserver_port, "/readyz", self._ca_context())
        except ssl.SSLCertVerificationError as exc:
            if exc.verify_code != _CERT_HAS_EXPIRED:
                raise HarnessError(f"kube-apiserver serves a certificate that does not verify "
                                   f"against {self.pki_dir / 'ca.crt'}: {exc.verify_message}") from exc
            # Expired on purpose (expire-serving-cert): readiness is still readiness.
            result = self._https(self.apiserver_port, "/readyz", _unverified_context())
        return bool(result and result[0] == 200)

    def _etcd_healthy(self) -> bool:
        ctx = ssl.create_default_context(cafile=str(self.pki_dir / "etcd/ca.crt"))
        ctx.load_cert_chain(self.pki_dir / "etcd/healthcheck-client.crt",
                            self.pki_dir / "etcd/healthcheck-client.key")
        result = self._https(self.etcd_client_port, "/health", ctx)
        if not result or result[0] != 200:
            return False
        return json.loads(result[1]).get("health") == "true"

    def _healthz(self, port_key: str) -> bool:
        # KCM and the scheduler serve a self-signed certificate held in memory (no --cert-dir);
        # /healthz is in their default --authorization-always-allow-paths.
        result = self._https(self._port(port_key), "/healthz", _unverified_context())
        return bool(result and result[0] == 200)

    def _ca_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))

    def served_certificate(self) -> x509.Certificate:
        """The certificate kube-apiserver presents right now (read without verifying it)."""
        with socket.create_connection(("127.0.0.1", self.apiserver_port), timeout=5) as sock:
            with _unverified_context().wrap_socket(sock) as tls:
                der = tls.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der)

    def lease(self, component: str) -> dict | None:
        """spec of Lease kube-system/<component> (holderIdentity, renewTime, ...) or None."""
        name = components.canonical(component) or component
        result = self.kubectl("get", "lease", "-n", "kube-system", name, "-o", "json",
                              kubeconfig=self.super_admin_kubeconfig, check=False)
        if result.returncode != 0:
            return None
        return json.loads(result.stdout).get("spec") or {}

    def _leases_renewed_by_current(self) -> bool:
        state = self._load()
        for name in components.LEADER_ELECTED:
            spec = self.lease(name)
            if not spec or not spec.get("holderIdentity") or not spec.get("renewTime"):
                return False
            # Same host, same clock: a renewTime after this process started proves the running
            # process holds the lease (the previous holder was stopped before it started).
            if _parse_time(spec["renewTime"]).timestamp() < (state.processes[name].started_at or 0):
                return False
        return True

    # --- real CLIs ------------------------------------------------------------------------

    def kubectl(self, *args: str, kubeconfig: Path | str | None = None, check: bool = True,
                input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the real kubectl (default kubeconfig: admin.conf); text output."""
        argv = [str(self.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}",
                f"--cache-dir={self.workdir / '.kube-cache'}", *map(str, args)]
        return self._run(argv, check=check, input=input, timeout=timeout)

    def helm(self, *args: str, kubeconfig: Path | str | None = None, check: bool = True,
             input: str | None = None, timeout: float = 300, major: int = 3) -> subprocess.CompletedProcess:
        """Run the real helm (v3; `major=4`: helm4) (default kubeconfig: admin.conf) with its
        cache/config/data folders inside the workdir, so nothing is read from or written to $HOME."""
        argv = [str(self.helm_binary(major)), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}",
                *map(str, args)]
        return self._run(argv, check=check, input=input, timeout=timeout, env=self.helm_env())

    def helm_binary(self, major: int = 3) -> Path:
        """The built helm of that major version (build.sh pins both)."""
        binaries = helm_binaries(self.bin_dir)
        if major not in binaries:
            raise HarnessError(f"no helm {major} is built; majors: {', '.join(map(str, binaries))}")
        return binaries[major]

    def helm_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        for kind in ("CACHE", "CONFIG", "DATA"):
            env[f"HELM_{kind}_HOME"] = str(self.workdir / "helm" / kind.lower())
        return env

    def _run(self, argv: list[str], *, check: bool, input: str | None, timeout: float,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                input=input, env=env,
                                stdin=None if input is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise CommandFailed(argv, result)
        return result

    # --- faults and repair ----------------------------------------------------------------

    def break_(self, knob: str, *args: str) -> str | None:
        """Apply a fault knob (see faults.KNOBS). Returns a short description or None."""
        return faults.apply(self, knob, list(args))

    def repair(self, timeout: float = 180, *, restart_etcd: bool = False) -> None:
        """The incident's fix: `kubeadm certs renew all`, then new processes for
        kube-apiserver, kube-controller-manager and kube-scheduler (and etcd when asked, or
        when it is not running), then wait until ready with the leases renewed again.

        etcd is not restarted by default: it reloads its certificate files on every TLS
        handshake, so a renewal takes effect without a restart."""
        deadline = time.monotonic() + timeout
        faults.renew_certificates(self)
        order = list(components.NAMES)
        if not restart_etcd and self.pid("etcd"):
            order.remove("etcd")
        for name in order:
            self.restart(name, timeout=_left(deadline))
        self.wait_ready(_left(deadline))

    def restore(self, timeout: float = 180) -> list[str]:
        """Repair only what is broken, judged from the cluster's state (not from what was done
        to it), and return what it did: an empty list when nothing was broken.

        It checks, in this order:
          * certificates: every certificate under pki/ and the client certificate of admin.conf,
            super-admin.conf, controller-manager.conf and scheduler.conf (those present) that
            is not valid now is renewed alone, `kubeadm certs renew NAME`;
          * processes, in start order: a stopped component is started; a running one is
            restarted when a file on its command line (certificate, key, kubeconfig) changed
            after it started, as a renewal does, whether here or earlier without a restart.
            etcd's own serving and peer certificates are the exception: etcd reloads them on
            every TLS handshake (the reason `repair` leaves etcd running too). Before
            kube-controller-manager or kube-scheduler starts, the leader Lease a stopped
            predecessor still holds is released (`_release_lease_of_stopped`);
        then waits as `repair` does (`wait_ready`: /readyz, both leader Leases renewed by the
        processes running now, ServiceAccount default/default). A component that exits during
        that wait (one that lost its lease while the cluster was broken) is started and waited
        for again, twice at most.

        Whatever it cannot judge (a component missing from state.json, an unreadable or expired
        certificate kubeadm does not renew, such as a CA) or a wait that still fails falls back
        to the full `repair()`, named in the result. Like `repair`, it leaves helpers (blackhole)
        and API objects (an APIService, a pending helm release) as they are."""
        deadline = time.monotonic() + timeout
        done: list[str] = []
        try:
            for _ in range(3):
                done += self._restore_once(deadline)
                try:
                    self.wait_ready(_left(deadline))
                    return done
                except HarnessError as exc:
                    if all(self.pid(n) for n in components.NAMES):
                        raise
                    log.info("restore: %s; starting it again", exc.summary)
            raise HarnessError("components kept exiting after being started")
        except Exception as exc:  # anything unclear: the full repair decides
            reason = exc.summary if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
            log.warning("restore of %s fell back to the full repair: %s", self.workdir, reason)
        self.repair(timeout)
        return [*done, f"full repair ({reason})"]

    def _restore_once(self, deadline: float) -> list[str]:
        state = self._load()
        missing = [n for n in components.NAMES if n not in state.processes]
        if missing:
            raise HarnessError(f"state.json has no {', '.join(missing)}")
        done = []
        expired = self.expired_certificates()
        if expired:
            reissued = faults.renew_certificates(self, expired)
            done.append("renewed " + ", ".join(expired)
                        + (f" (re-issued by the harness: {', '.join(reissued)})" if reissued else ""))
        etcd_before = self.pid("etcd")
        for name in components.NAMES:
            if not self.pid(name):
                self._release_lease_of_stopped(name)
                self.start(name, timeout=_left(deadline))
                done.append(f"started {name}")
            elif changed := self.changed_since_start(name):
                self.stop(name)
                self._release_lease_of_stopped(name)
                self.start(name, timeout=_left(deadline))
                done.append(f"restarted {name} ({', '.join(changed)} changed after it started)")
            elif name == "kube-apiserver" and self.pid("etcd") != etcd_before:
                # etcd came back under a running kube-apiserver: ready again before the rest start.
                self._wait_serving(name, _left(deadline))
        if done:
            log.info("restore: %s", "; ".join(done))
        return done

    def _release_lease_of_stopped(self, name: str) -> None:
        """Release the leader Lease a stopped kube-controller-manager or kube-scheduler still
        names, as client-go does on a graceful shutdown with ReleaseOnCancel (holder cleared,
        leaseDurationSeconds 1): the scheduler releases its own, kube-controller-manager never
        does, and a new candidate waits a whole leaseDurationSeconds (15 s) from the moment it
        first reads a held Lease, however stale its renewTime. The holder can only be a stopped
        process of this workdir. Best effort: unreadable or refused, the new process just waits."""
        if name not in components.LEADER_ELECTED or self.pid(name):
            return
        spec = self.lease(name)
        if not spec or not spec.get("holderIdentity"):
            return
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        patch = {"spec": {"holderIdentity": None, "leaseDurationSeconds": 1, "acquireTime": now, "renewTime": now}}
        result = self.kubectl("patch", "lease", name, "-n", "kube-system", "--type=merge", "-p", json.dumps(patch),
                              kubeconfig=self.super_admin_kubeconfig, check=False)
        if result.returncode != 0:
            log.info("could not release the %s lease: %s", name, result.stderr.strip())

    def expired_certificates(self) -> list[str]:
        """kubeadm's names (`apiserver`, `etcd-server`, `scheduler.conf`, ...) of the certificates
        on disk that are not valid now: any under pki/, and the client certificates of the
        kubeconfigs kubeadm renews. HarnessError for one kubeadm cannot renew (a CA)."""
        names = []
        for crt in sorted(self.pki_dir.rglob("*.crt")):
            leaf = crt.relative_to(self.pki_dir).with_suffix("").as_posix()
            if pki.is_valid_now(pki.load_cert(crt)):
                continue
            if leaf not in faults.RENEW_NAME:
                raise HarnessError(f"{crt} is not valid now, and kubeadm does not renew it")
            names.append(faults.RENEW_NAME[leaf])
        for conf in pki.RENEWED_KUBECONFIGS:
            path = self.workdir / conf
            if path.exists() and not pki.is_valid_now(pki.kubeconfig_client_cert(path)):
                names.append(conf)
        return names

    def changed_since_start(self, component: str) -> list[str]:
        """Files on the running component's command line (relative to the workdir) modified
        after it was started, less those it reloads by itself (_RELOADED)."""
        name = self._component(component)
        proc = self._load().processes[name]
        if not self.pid(name):
            return []
        if proc.started_at is None:
            raise HarnessError(f"state.json does not say when {name} (pid {proc.pid}) was started")
        changed = set()
        for arg in proc.argv[1:]:
            flag, eq, value = arg.partition("=")
            if not eq or flag in _RELOADED.get(name, ()) or not value.startswith(self._marker):
                continue
            path = Path(value)
            # started_at is taken just before the exec: anything written before it was read.
            if path.is_file() and path.stat().st_mtime > proc.started_at:
                changed.add(path.relative_to(self.workdir).as_posix())
        return sorted(changed)


# Flags whose files the component re-reads by itself, so a change needs no restart: etcd loads
# its serving and peer key pairs on every TLS handshake (etcd client/pkg/transport, TLSInfo).
_RELOADED = {"etcd": ("--cert-file", "--key-file", "--peer-cert-file", "--peer-key-file")}


def _left(deadline: float) -> float:
    return max(1.0, deadline - time.monotonic())


def _ports_of(name: str) -> tuple[str, ...]:
    if name == "etcd":
        return ("etcd_client_port", "etcd_peer_port")
    key = components.secure_port_key(name)
    return (key,) if key else ()


def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _binary_version(bin_dir: Path) -> str:
    """The Kubernetes version the binaries were stamped with (`kube-apiserver --version`)."""
    try:
        out = subprocess.run([str(bin_dir / "kube-apiserver"), "--version"], capture_output=True,
                             text=True, timeout=60)
    except OSError as exc:
        raise HarnessError(f"cannot run {bin_dir / 'kube-apiserver'}: {exc.strerror}") from exc
    words = out.stdout.split()
    if out.returncode != 0 or len(words) < 2 or not words[-1].startswith("v"):
        raise HarnessError(f"cannot read the version of {bin_dir / 'kube-apiserver'}: "
                           f"{(out.stdout + out.stderr).strip()[:200]}")
    return words[-1]
