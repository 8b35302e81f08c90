"""charts/preflight-hook against the plain control plane (no node needed): it renders and lints
with the real helm 3 and 4, its objects are hooks in the right order, its Pod passes PodSecurity
`restricted` (a server-side dry-run in a namespace that enforces it), and `preflight check
--hook --from-release` run as the hook's own ServiceAccount, with only the chart's RBAC, reads
the release's record and simulates its manifest. The node tier (test_hook.py) runs the hook for real.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.test_admission import namespace

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
HOOK = REPO / "charts" / "preflight-hook"
WEB = Path(__file__).resolve().parent / "charts" / "web"
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")


def render(cp: Any, major: int, ns: str, *values: str, release: str = "web") -> list[dict[str, Any]]:
    out = cp.helm("template", release, str(HOOK), "-n", ns, *values, major=major).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.mark.parametrize("major", [3, 4])
def test_the_chart_lints_and_renders_hooks_in_order(cluster: Any, major: int) -> None:
    lint = cluster.helm("lint", str(HOOK), major=major, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    docs = render(cluster, major, "shop")
    assert sorted(d["kind"] for d in docs) == sorted([*RBAC_KINDS, "Pod"])  # a bare Pod, no Job
    notes = {d["kind"]: d["metadata"]["annotations"] for d in docs}
    for ann in notes.values():
        assert ann["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert all(int(notes[k]["helm.sh/hook-weight"]) < int(notes["Pod"]["helm.sh/hook-weight"]) for k in RBAC_KINDS)
    pod = next(d for d in docs if d["kind"] == "Pod")
    assert notes["Pod"]["helm.sh/hook-output-log-policy"] == "hook-failed"
    assert notes["Pod"]["sidecar.istio.io/inject"] == "false"
    assert pod["spec"]["activeDeadlineSeconds"] < 300  # below helm's default --timeout
    args = pod["spec"]["containers"][0]["args"]
    assert args[:2] == ["check", "--hook"] and "--namespace=shop" in args and "--release=web" in args
    assert "--from-release=1" in args and f"--helm-major={major}" in args
    assert pod["spec"]["containers"][0]["terminationMessagePolicy"] == "FallbackToLogsOnError"
    cluster_role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert {v for rule in cluster_role["rules"] for v in rule["verbs"]} <= {"get", "list"}  # read-only
    role = next(d for d in docs if d["kind"] == "Role")
    secrets = [r for r in role["rules"] if "secrets" in r["resources"] and "get" in r["verbs"] and "create" not in r["verbs"]]
    assert secrets == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["sh.helm.release.v1.web.v1"], "verbs": ["get"]}]
    # without readRelease: no Secret read, no dry-run grants, no --from-release
    plain = render(cluster, major, "shop", "--set", "readRelease=false", "--set", "clusterRead=false")
    assert sorted(d["kind"] for d in plain) == sorted(["ServiceAccount", "Role", "RoleBinding", "Pod"])
    plain_role = next(d for d in plain if d["kind"] == "Role")
    assert not any("secrets" in r["resources"] or "create" in r["verbs"] for r in plain_role["rules"])
    assert not any(a.startswith("--from-release") for a in next(d for d in plain if d["kind"] == "Pod")["spec"]["containers"][0]["args"])
    digest = render(cluster, major, "shop", "--set", "image.digest=sha256:" + "a" * 64)
    assert next(d for d in digest if d["kind"] == "Pod")["spec"]["containers"][0]["image"] == (
        "preflight.test/kube-preflight@sha256:" + "a" * 64)


@pytest.mark.parametrize("major", [3, 4])
def test_the_hook_pod_passes_podsecurity_restricted(cluster: Any, major: int) -> None:
    with namespace(cluster, f"hook-psa-{major}", **{"pod-security.kubernetes.io/enforce": "restricted",
                                                    "pod-security.kubernetes.io/warn": "restricted"}) as ns:
        docs = render(cluster, major, ns)
        pod = next(d for d in docs if d["kind"] == "Pod")
        sa = next(d for d in docs if d["kind"] == "ServiceAccount")
        cluster.kubectl("apply", "-f", "-", input=json.dumps(sa))  # the ServiceAccount admission plugin needs it
        result = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
        assert result.returncode == 0, result.stderr
        assert "PodSecurity" not in result.stderr and "Warning" not in result.stderr, result.stderr
        # the same check refuses a pod that does not comply: the namespace really enforces it
        bad = json.loads(json.dumps(pod))
        bad["spec"]["containers"][0]["securityContext"] = {}
        refused = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(bad), check=False)
        assert refused.returncode != 0 and 'violates PodSecurity "restricted:latest"' in refused.stderr


def _token_kubeconfig(cp: Any, ns: str, sa: str, path: Path) -> Path:
    token = cp.kubectl("create", "token", sa, "-n", ns, "--duration=1h").stdout.strip()
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "hook",
           "clusters": [{"name": "c", "cluster": {"server": cp.server, "certificate-authority": str(cp.pki_dir / "ca.crt")}}],
           "users": [{"name": "hook", "user": {"token": token}}],
           "contexts": [{"name": "hook", "context": {"cluster": "c", "user": "hook", "namespace": ns}}]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    return path


def test_the_hooks_identity_reads_its_release_and_simulates_it(cluster: Any, preflight: Any, tmp_path: Path) -> None:
    with namespace(cluster, "hook-rel") as ns:
        cluster.helm("install", "web", str(WEB), "-n", ns)  # revision 1, stored (no node: not waited for)
        # the RBAC hooks as helm creates them before the pod: of release web (stored), and of a
        # release "argo" that Argo CD would render without Helm storage (its record never exists)
        rbac = [d for release in ("web", "argo") for d in render(cluster, 3, ns, release=release) if d["kind"] in RBAC_KINDS]
        cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac}))
        try:
            kubeconfig = _token_kubeconfig(cluster, ns, "web-preflight", tmp_path / "hook.kubeconfig")
            code, findings, err = preflight("check", "--kubeconfig", str(kubeconfig), "--hook", "-n", ns, "--release", "web",
                                            "--from-release", "1")
            argo = _token_kubeconfig(cluster, ns, "argo-preflight", tmp_path / "argo.kubeconfig")
            missing_code, missing, missing_err = preflight("check", "--kubeconfig", str(argo), "--hook", "-n", ns,
                                                           "--release", "argo", "--from-release", "1")
        finally:
            cluster.kubectl("delete", "-f", "-", "--wait=false", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac}),
                            check=False)
    assert "Traceback" not in err
    assert "release web revision 1 (deployed): 5 objects of its manifest simulated" in err  # ConfigMap, Service, Deployment, ...
    assert code == 0, {i: f["message"] for i, f in findings.items() if f["outcome"] not in ("pass", "warn")}
    assert "auth.permissions" not in findings and "serviceaccount.token" not in findings and "helm.release" not in findings
    assert findings["admission.dry-run"]["outcome"] == "pass"
    assert findings["admission.pods"]["outcome"] == "pass"
    assert findings["controlplane.leases"]["outcome"] == "pass"  # the read-only ClusterRole is enough
    # no record (Argo CD keeps none): a note, the namespace-level checks only
    assert "no Helm release record secrets/sh.helm.release.v1.argo.v1" in missing_err
    assert not any(i.startswith("admission.") for i in missing)
    assert missing_code == 0
