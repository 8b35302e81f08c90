"""``preflight check --chart`` with the real helm (3 and 4) against the real control plane.

helm is reached through a recording wrapper on PATH that logs its argv and environment, so
the tests can say what the child really got: the live version and API list, and no token.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube_client._deadline import Deadline
from kube_client._http import KubeClient
from kube_client._target import resolve_target
from preflight._collect.reads import read_catalog
from sa_tokens import ensure, kubeconfig_for

pytestmark = pytest.mark.cluster

CHARTS = Path(__file__).resolve().parent / "charts"
WEB = CHARTS / "web"

# Enough for the chart's ConfigMap, Service and Deployment and Helm's storage; not for the
# kinds that only appear with other values or with the live cluster's Capabilities.
DEPLOYER_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: web-deployer, namespace: chart-a}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, create, update, delete]
- apiGroups: [""]
  resources: [configmaps, services]
  verbs: [get, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, create, patch, delete]
"""


def recording_helm(tmp_path: Path, real: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `helm` on PATH that logs argv (one per line) and env, then execs the real one."""
    wrapper_dir = tmp_path / "bin"
    wrapper_dir.mkdir()
    log = tmp_path / "helm-calls"
    wrapper = wrapper_dir / "helm"
    wrapper.write_text(f'#!/bin/sh\n{{ echo "=== argv"; printf "%s\\n" "$@"; echo "=== env"; env; }} >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.delenv("HELM_BIN", raising=False)
    monkeypatch.setenv("PATH", f"{wrapper_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    for kind in ("CACHE", "CONFIG", "DATA"):
        monkeypatch.setenv(f"HELM_{kind}_HOME", str(tmp_path / "helm" / kind.lower()))
    return log


def deployer_kubeconfig(cp: Any, path: Path) -> tuple[Path, str]:
    cp.kubectl("create", "namespace", "chart-a")
    cp.kubectl("apply", "-f", "-", input=DEPLOYER_ROLE)
    cp.kubectl("create", "rolebinding", "web-deployer", "-n", "chart-a", "--role", "web-deployer", "--serviceaccount", "chart-a:deployer")
    result = ensure("chart-a", "deployer", kubeconfig=str(cp.admin_kubeconfig), create_sa=True)
    path.write_text(kubeconfig_for(server=cp.server, ca_pem=(cp.pki_dir / "ca.crt").read_bytes(), namespace="chart-a",
                                   account="deployer", token=result.token))
    return path, result.token


def test_chart_permissions_follow_its_values_and_the_live_capabilities_and_helm_gets_no_token(
        cluster: Any, preflight: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = recording_helm(tmp_path, cluster.helm_binary(3), monkeypatch)
    conf, token = deployer_kubeconfig(cluster, tmp_path / "deployer.conf")
    values = tmp_path / "values.yaml"
    values.write_text("persistence: true\n")
    code, findings, err = preflight("check", "--kubeconfig", str(conf), "--chart", str(WEB), "-f", str(values), "--set", "hook=true")
    missing = findings["auth.permissions"]["evidence"]["missing"]
    assert code == 1 and findings["auth.permissions"]["outcome"] == "fail"
    # from -f, from --set, and from what only the live cluster's Capabilities render
    assert "create persistentvolumeclaims" in missing and "create jobs.batch" in missing
    assert "create poddisruptionbudgets.policy" in missing and "create networkpolicies.networking.k8s.io" in missing
    assert not any(p.split()[1] in ("configmaps", "services", "deployments.apps") for p in missing), missing
    assert "statefulsets.apps" not in " ".join(missing)  # the default table's kinds are not asked for
    calls = log.read_text()
    argv = calls.split("=== argv\n", 1)[1].split("=== env\n", 1)[0].splitlines()
    assert argv[:2] == ["template", "release-name"] and argv[argv.index("--kube-version") + 1] == "v1.37.2"
    api_versions = argv[argv.index("--api-versions") + 1].split(",")
    assert "policy/v1/PodDisruptionBudget" in api_versions and "apps/v1/Deployment" in api_versions
    assert argv[argv.index("--namespace") + 1] == "chart-a"
    assert token not in calls and "--kube-token" not in calls and "--kubeconfig" not in argv
    assert "KUBECONFIG=/dev/null" in calls.splitlines() and "HELM_KUBETOKEN" not in calls


@pytest.mark.parametrize("major", [3, 4])
def test_a_chart_that_fails_to_render_is_one_line_exit_2_with_helms_error(
        cluster: Any, preflight: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, major: int) -> None:
    monkeypatch.setenv("HELM_BIN", str(cluster.helm_binary(major)))
    for kind in ("CACHE", "CONFIG", "DATA"):
        monkeypatch.setenv(f"HELM_{kind}_HOME", str(tmp_path / "helm" / kind.lower()))
    values = tmp_path / "values.yaml"
    values.write_text("fail: the database password is required\n")
    code, findings, err = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "--chart", str(WEB), "-f", str(values))
    lines = err.strip().splitlines()
    assert code == 2 and findings == {} and "Traceback" not in err and len(lines) == 2  # the progress line, then the error
    assert lines[-1].startswith("preflight: error: helm template ") and "the chart does not render" in lines[-1]
    assert "web/templates/configmap.yaml" in lines[-1] and "the database password is required" in lines[-1]
    # a --set value helm echoes back is masked: it may be a secret typed on the command line
    code, _, err = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "--chart", str(WEB), "--set", "fail=hunter2-secret")
    assert code == 2 and "hunter2-secret" not in err and "execution error at (web/templates/configmap.yaml" in err and "***" in err


@pytest.mark.parametrize("major", [3, 4])
def test_the_chart_renders_with_helm_3_and_4_into_the_same_checks(
        cluster: Any, preflight: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, major: int) -> None:
    monkeypatch.setenv("HELM_BIN", str(cluster.helm_binary(major)))
    for kind in ("CACHE", "CONFIG", "DATA"):
        monkeypatch.setenv(f"HELM_{kind}_HOME", str(tmp_path / "helm" / kind.lower()))
    from tests.cluster.test_admission import fake_node

    with fake_node(cluster, taint=False):  # admission.capacity: the harness has no node of its own
        code, findings, _ = preflight("check", "--kubeconfig", str(cluster.admin_kubeconfig), "--chart", str(WEB), "--set", "persistence=true")
    assert code == 0, {i: f["message"] for i, f in findings.items() if f["outcome"] != "pass"}
    assert findings["auth.permissions"]["outcome"] == "pass"
    # ConfigMap, Service, Deployment, PVC, PodDisruptionBudget, NetworkPolicy (x4 verbs) + Helm storage (5)
    assert findings["auth.permissions"]["evidence"]["checked"] == 6 * 4 + 5


@pytest.mark.parametrize("major", [3, 4])
def test_the_offline_api_list_is_exactly_what_helm_sees_live(cluster: Any, tmp_path: Path, major: int) -> None:
    """helm template reads Capabilities from the cluster (action.GetVersionSet) with --validate
    (helm 3: ClientOnly = !validate) or --dry-run=server (helm 4, where --validate is deprecated):
    the catalog preflight builds from aggregated discovery must be the same set."""
    live_flag = "--validate" if major == 3 else "--dry-run=server"
    rendered = cluster.helm("template", "caps", str(CHARTS / "capabilities"), live_flag, major=major).stdout
    live = json.loads(yaml.safe_load(rendered)["data"]["apiVersions"])
    target = resolve_target(kubeconfig=str(cluster.admin_kubeconfig), context=None, namespace=None)
    catalog = read_catalog(KubeClient(target, Deadline(10)))
    assert sorted(live) == list(catalog.version_set)
    assert catalog.aggregated
