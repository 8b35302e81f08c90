"""The kubeadm PKI table and the node audit over generated kubeadm trees."""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kube_client._errors import ConfigError
from preflight._engine.model import Outcome
from preflight._facts.pki import KUBEADM_PKI, Kind
from preflight._collect.pki import collect_pki, kubeadm_dir
from preflight._checks.pki import judge_entry
from preflight._facts.policy import ExpiryPolicy
from tests.pkifactory import NOW, YEAR, kubeadm_tree, kubeconfig_doc, make_ca, make_leaf, rsa_key, write, write_kubeconfig

DAY = timedelta(days=1)

# What `kubeadm certs check-expiration` prints (renewal/manager.go), in its own words.
KUBEADM_ROWS = {
    "apiserver", "apiserver-kubelet-client", "apiserver-etcd-client", "front-proxy-client", "etcd-server",
    "etcd-peer", "etcd-healthcheck-client", "admin.conf", "super-admin.conf", "controller-manager.conf",
    "scheduler.conf", "ca", "etcd-ca", "front-proxy-ca",
}


def audit(tree_root: Path, kubelet: Path) -> dict[str, Any]:
    """Findings by id, judged an hour after the tree was made (as after ``kubeadm init``)."""
    entries = collect_pki(tree_root, kubelet)
    return {f.id: f for f in (judge_entry(e, NOW + timedelta(hours=1), ExpiryPolicy()) for e in entries)}


# -- the table's own invariants -------------------------------------------------------------

def test_table_covers_every_row_kubeadm_prints_plus_what_it_leaves_out() -> None:
    names = {s.name for s in KUBEADM_PKI}
    assert KUBEADM_ROWS <= names
    assert {"kubelet.conf", "kubelet-client-current.pem", "kubelet-serving", "sa"} <= names


def test_names_are_unique_and_make_stable_lowercase_ids() -> None:
    names = [s.name for s in KUBEADM_PKI]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.-]*", n) for n in names)


def test_every_signer_is_a_ca_row_listed_before_what_it_signs() -> None:
    seen_cas: set[str] = set()
    for spec in KUBEADM_PKI:
        if spec.ca:
            assert spec.ca in seen_cas, f"{spec.name} is signed by {spec.ca}, which is not an earlier CA row"
        if spec.kind is Kind.CA:
            seen_cas.add(spec.name)


def test_rows_are_frozen() -> None:
    with pytest.raises(AttributeError):
        KUBEADM_PKI[0].name = "other"  # type: ignore[misc]


# -- the audit ------------------------------------------------------------------------------

def test_fresh_kubeadm_tree_passes_every_row(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    findings = audit(tree.root, tree.kubelet)
    assert set(findings) == {f"pki.{s.name}" for s in KUBEADM_PKI}
    assert {f.outcome for f in findings.values()} == {Outcome.PASS}
    assert findings["pki.apiserver"].evidence["residual"] == "364d"
    assert findings["pki.ca"].evidence["residual"] == "9y"
    assert findings["pki.apiserver"].evidence["issuer_ok"] is True


def test_expired_leaf_fails_with_date_and_tells_to_restart_for_real(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path, overrides={"apiserver": {"not_before": -YEAR - 35 * DAY}})
    f = audit(tree.root, tree.kubelet)["pki.apiserver"]
    assert f.outcome is Outcome.FAIL
    assert "expired 35d ago" in f.message
    assert f.evidence["expired"] is True and f.evidence["missing"] is False
    assert f.evidence["residual"] == "<invalid>"
    assert "kubeadm certs renew apiserver" in f.remediation and "mirror pod" in f.remediation


def test_expiring_kubeconfig_warns_and_names_the_component(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path, overrides={"scheduler.conf": {"lifetime": 20 * DAY}})
    f = audit(tree.root, tree.kubelet)["pki.scheduler.conf"]
    assert f.outcome is Outcome.WARN
    assert "kube-scheduler" in f.remediation


def test_missing_file_is_missing_not_expired(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    (tree.pki / "apiserver-kubelet-client.crt").unlink()
    f = audit(tree.root, tree.kubelet)["pki.apiserver-kubelet-client"]
    assert f.outcome is Outcome.FAIL
    assert "missing" in f.message and "expired" not in f.message
    assert f.evidence["missing"] is True and f.evidence["not_after"] is None


def test_missing_super_admin_conf_is_normal_on_secondary_control_planes(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    (tree.root / "super-admin.conf").unlink()
    f = audit(tree.root, tree.kubelet)["pki.super-admin.conf"]
    assert f.outcome is Outcome.WARN and "first control-plane node" in f.message


def test_ca_without_its_key_is_externally_managed(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    (tree.pki / "front-proxy-ca.key").unlink()
    f = audit(tree.root, tree.kubelet)["pki.front-proxy-ca"]
    assert f.outcome is Outcome.PASS
    assert f.evidence["externally_managed"] is True
    assert "externally managed" in f.message


def test_leaf_signed_by_another_ca_fails_issuer_check(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    foreign = make_leaf(make_ca("kubernetes"), "kube-apiserver", server=True)
    write(tree.pki / "apiserver.crt", foreign.cert_pem)
    write(tree.pki / "apiserver.key", foreign.key_pem)
    f = audit(tree.root, tree.kubelet)["pki.apiserver"]
    assert f.outcome is Outcome.FAIL
    assert f.evidence["issuer_ok"] is False and "not signed by ca" in f.message


def test_certificate_with_the_wrong_key_fails(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    write(tree.pki / "etcd" / "server.key", tree.leaves["etcd-peer"].key_pem)
    f = audit(tree.root, tree.kubelet)["pki.etcd-server"]
    assert f.outcome is Outcome.FAIL and f.evidence["key_matches"] is False


def test_kubeconfig_embedding_another_clusters_ca_fails(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    client = make_leaf(tree.cas["ca"], "kubernetes-admin", orgs=("kubeadm:cluster-admins",))
    write_kubeconfig(tree.root / "admin.conf", kubeconfig_doc(ca=make_ca(), client=client))
    f = audit(tree.root, tree.kubelet)["pki.admin.conf"]
    assert f.outcome is Outcome.FAIL and f.evidence["ca_matches_pki"] is False


def test_corrupt_node_kubeconfig_is_a_failed_row_not_a_crash(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    write(tree.root / "controller-manager.conf", "clusters: [unclosed")
    f = audit(tree.root, tree.kubelet)["pki.controller-manager.conf"]
    assert f.outcome is Outcome.FAIL and "not valid YAML" in f.message


def test_kubelet_conf_pointing_at_rotated_pem_is_followed(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    pem = tree.kubelet / "pki" / "kubelet-client-current.pem"
    doc = kubeconfig_doc(ca=tree.cas["ca"], user="system:node:node")
    doc["users"] = [{"name": "system:node:node", "user": {"client-certificate": str(pem), "client-key": str(pem)}}]
    write_kubeconfig(tree.root / "kubelet.conf", doc)
    f = audit(tree.root, tree.kubelet)["pki.kubelet.conf"]
    assert f.outcome is Outcome.PASS
    assert f.evidence["client_certificate_file"] == str(pem)


def test_no_kubelet_dir_and_no_local_etcd_are_skipped_not_failed(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path, kubelet=False)
    import shutil

    shutil.rmtree(tree.pki / "etcd")
    findings = audit(tree.root, tree.kubelet)
    for name in ("kubelet-client-current.pem", "kubelet-serving", "etcd-ca", "etcd-server", "apiserver-etcd-client"):
        assert findings[f"pki.{name}"].outcome is Outcome.SKIP, name


def test_mismatched_service_account_keys_explain_rejected_tokens(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    other = kubeadm_tree(tmp_path / "other", sa_key=rsa_key())  # its own key pair: trees share one otherwise
    write(tree.pki / "sa.pub", (other.pki / "sa.pub").read_bytes())
    f = audit(tree.root, tree.kubelet)["pki.sa"]
    assert f.outcome is Outcome.FAIL and "reject" in f.message


def test_pki_folder_itself_is_accepted_and_a_random_folder_refused(tmp_path: Path) -> None:
    tree = kubeadm_tree(tmp_path)
    assert kubeadm_dir(tree.pki) == tree.root
    with pytest.raises(ConfigError, match="not a kubeadm layout"):
        kubeadm_dir(tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        kubeadm_dir(tmp_path / "nope")
