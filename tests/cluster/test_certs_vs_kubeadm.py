"""``preflight certs`` agrees with the real ``kubeadm certs check-expiration`` on a PKI that
the real kubeadm made: same rows, same expiry dates, same residual-time strings."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

pytestmark = pytest.mark.cluster


def kubeadm_expiration(cp: Any, output: str) -> str:
    done = subprocess.run([str(cp.bin_dir / "kubeadm"), "certs", "check-expiration", "--config", str(cp.kubeadm_config), "-o", output],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_certs_rows_match_what_kubeadm_itself_reports(cluster: Any, preflight: Any) -> None:
    doc = json.loads(kubeadm_expiration(cluster, "json"))
    rows = {r["name"]: r for r in doc["certificates"] + doc["certificateAuthorities"] if not r["missing"]}
    # kubeadm reads *.conf only from the hard-coded /etc/kubernetes, so here it sees the PKI rows
    assert {"apiserver", "apiserver-etcd-client", "etcd-server", "front-proxy-client", "ca", "etcd-ca", "front-proxy-ca"} <= set(rows)
    text = kubeadm_expiration(cluster, "text")
    residual = {cols[0]: cols[2] for line in text.splitlines() if len(cols := re.split(r"\s{2,}", line.strip())) >= 4}
    # a kubelet folder of its own: the host's /var/lib/kubelet belongs to the node tier's kubelet when it runs
    code, findings, _ = preflight("certs", "--pki-dir", str(cluster.workdir), "--kubelet-dir", str(cluster.workdir / "no-kubelet"))
    assert code == 0
    for name, row in rows.items():
        ours = findings[f"pki.{name}"]["evidence"]
        assert ours["not_after"] == row["expirationDate"], name
        assert ours["residual"] == residual[name], name
        assert ours["externally_managed"] == row["externallyManaged"], name
        if row.get("caName"):
            assert findings[f"pki.{name}"]["evidence"]["ca"] == row["caName"] and ours["issuer_ok"] is True, name
