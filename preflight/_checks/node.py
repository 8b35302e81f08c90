"""node.served-certs and node.restarts: renewed on disk, but is it what runs?"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kube_client._pem import load_certificates

from .._engine.expiry import expiring
from .._engine.model import Finding, Outcome
from .._facts.node import NodeFacts
from .._facts.x509 import describe, rfc3339
from .common import RESTART_HOWTO

__all__ = ["node_restarts", "node_served_certs"]

# A process's start is known to a clock tick (10 ms) after a boot time known to 10 ms
# (/proc/uptime); mtimes to the nanosecond. A file written within this of the start was written
# before the process read it (kubeadm writes, then starts); one written later was not loaded.
SAME_MOMENT = timedelta(milliseconds=50)


def _pair_name(path: str) -> str:
    """``pki/front-proxy-client.crt`` and ``.key`` are one pair: name it once."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if name.endswith((".crt", ".key")) else name


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "an unknown time"


def node_served_certs(policy: Any, node: NodeFacts) -> Finding:
    evidence: dict[str, Any] = {"kubeadm_dir": node.kubeadm_dir, "endpoints": []}
    stale, checked = [], 0
    for s in node.served:
        row: dict[str, Any] = {"component": s.component, "endpoint": s.endpoint, "disk": s.disk_path, "problem": s.problem}
        evidence["endpoints"].append(row)
        if s.served_der is None or s.disk_der is None:
            continue
        checked += 1
        served = describe(load_certificates(s.served_der, source=f"{s.component} at {s.endpoint}")[0])
        disk = describe(load_certificates(s.disk_der, source=s.disk_path)[0])
        row.update(served_serial=served.serial, served_not_after=rfc3339(served.not_after),
                   disk_serial=disk.serial, disk_not_after=rfc3339(disk.not_after), same=served.sha256 == disk.sha256)
        # the served certificate as a calendar entry of its own, next to the file's pki.* row
        row.update(subject=served.subject, issuer=served.issuer, serial=served.serial, sha256=served.sha256,
                   not_before=rfc3339(served.not_before), not_after=rfc3339(served.not_after), matches_disk=row["same"],
                   **expiring(s.component, "served", f"renew {s.disk_path}, then restart {s.component} for real: {RESTART_HOWTO}",
                              endpoint=s.endpoint))
        if served.sha256 != disk.sha256:
            stale.append(
                f"{s.component} at {s.endpoint} serves serial {served.serial} (expires {_when(served.not_after)}), but "
                f"{s.disk_path} is serial {disk.serial} (written {_when(s.disk_mtime)}): {s.component} has not loaded the renewed certificate"
            )
    if stale:
        return Finding(outcome=Outcome.FAIL, message="; ".join(stale), evidence=evidence,
                       remediation=f"restart it for real: {RESTART_HOWTO}")
    if not checked:
        reasons = "; ".join(f"{s.component}: {s.problem or 'no certificate on disk'}" for s in node.served)
        return Finding(outcome=Outcome.SKIP, message=f"could not compare served and on-disk certificates ({reasons})", evidence=evidence)
    return Finding(outcome=Outcome.PASS, evidence=evidence,
                   message=", ".join(f"{s.component} serves the certificate on disk" for s in node.served if s.served_der and s.disk_der))


def node_restarts(policy: Any, node: NodeFacts) -> Finding:
    if not node.processes:
        where = "this machine shows no /proc" if not node.proc_visible else f"no process uses files under {node.kubeadm_dir}"
        return Finding(outcome=Outcome.SKIP, evidence={"kubeadm_dir": node.kubeadm_dir},
                       message=f"no control-plane process found ({where}); run on a control-plane node, in the host's PID namespace")
    evidence: dict[str, Any] = {"processes": []}
    behind = []
    for p in node.processes:
        newer = {f: a for f, a in p.files.items() if a.modified > p.started + SAME_MOMENT}
        must_restart = {f: a for f, a in newer.items() if not a.reloaded}
        evidence["processes"].append({
            "component": p.component, "pid": p.pid, "started": rfc3339(p.started),
            "renewed_after_start": {f: {"flag": a.flag, "modified": rfc3339(a.modified), "reloaded_by_itself": a.reloaded}
                                    for f, a in sorted(newer.items())},
        })
        if must_restart:
            last = max(a.modified for a in must_restart.values())
            names = ", ".join(sorted({_pair_name(f) for f in must_restart}))
            behind.append(f"{names} renewed at {_when(last)} but {p.component} (pid {p.pid}) has run since {_when(p.started)}: restart it")
    if behind:
        return Finding(outcome=Outcome.FAIL, evidence=evidence, message="; ".join(behind),
                       remediation=f"restart each for real: {RESTART_HOWTO}")
    names = ", ".join(sorted({p.component for p in node.processes}))
    return Finding(outcome=Outcome.PASS, evidence=evidence, message=f"{names} started after their certificates and kubeconfigs were last written")
