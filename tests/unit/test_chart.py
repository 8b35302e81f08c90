"""check --chart, offline parts: the API catalog helm renders with, finding helm, its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kube_client._errors import ConfigError
from preflight._collect.chart import ChartSource, catalog_from_aggregated, catalog_from_legacy, helm_error_line, helm_executable

RECORDED = Path(__file__).resolve().parent / "recorded"


def recorded_catalog() -> object:
    core = json.loads((RECORDED / "discovery-api.json").read_text())
    groups = json.loads((RECORDED / "discovery-apis.json").read_text())
    return catalog_from_aggregated(core, groups)


def test_aggregated_discovery_gives_helms_version_set_with_kinds_and_subresource_kinds() -> None:
    catalog = recorded_catalog()
    versions = set(catalog.version_set)  # type: ignore[attr-defined]
    assert {"v1", "v1/Pod", "apps/v1", "apps/v1/Deployment", "policy/v1/PodDisruptionBudget"} <= versions
    # helm's GetVersionSet joins the listing's group/version with every Kind, subresources included
    assert "apps/v1/Scale" in versions
    assert catalog.resources[("apps/v1", "Deployment")] == ("deployments", True)  # type: ignore[attr-defined]
    assert catalog.resources[("rbac.authorization.k8s.io/v1", "ClusterRole")] == ("clusterroles", False)  # type: ignore[attr-defined]
    assert list(catalog.version_set) == sorted(versions)  # type: ignore[attr-defined]


def test_a_stale_aggregated_version_is_left_out_as_client_go_does() -> None:
    doc = {"items": [{"metadata": {"name": "metrics.k8s.io"}, "versions": [{"version": "v1beta1", "freshness": "Stale"}]},
                     {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "resources": [
                         {"resource": "deployments", "scope": "Namespaced", "responseKind": {"kind": "Deployment"}}]}]}]}
    catalog = catalog_from_aggregated(doc)
    assert catalog.version_set == ("apps/v1", "apps/v1/Deployment")


def test_legacy_discovery_keeps_a_group_whose_resources_failed_as_helm_does() -> None:
    docs = [{"groupVersion": "apps/v1", "resources": [{"name": "deployments", "kind": "Deployment", "namespaced": True},
                                                      {"name": "deployments/scale", "kind": "Scale", "namespaced": True}]}]
    catalog = catalog_from_legacy(docs, ["v1", "apps/v1", "metrics.k8s.io/v1beta1"])
    assert set(catalog.version_set) == {"v1", "apps/v1", "apps/v1/Deployment", "apps/v1/Scale", "metrics.k8s.io/v1beta1"}
    assert catalog.resources == {("apps/v1", "Deployment"): ("deployments", True)}


def test_helm_is_found_through_helm_bin_or_path_and_its_absence_is_one_config_error(tmp_path: Path) -> None:
    helm = tmp_path / "helm"
    helm.write_text("#!/bin/sh\n")
    helm.chmod(0o755)
    assert helm_executable({"PATH": str(tmp_path)}) == str(helm)
    assert helm_executable({"HELM_BIN": str(helm), "PATH": ""}) == str(helm)
    with pytest.raises(ConfigError, match=r"helm not found \('helm' from PATH\).*install helm, or set HELM_BIN"):
        helm_executable({"PATH": str(tmp_path / "empty")})
    with pytest.raises(ConfigError, match="from HELM_BIN"):
        helm_executable({"HELM_BIN": str(tmp_path / "nope"), "PATH": str(tmp_path)})


def test_helms_error_line_is_kept_trimmed_and_set_values_masked() -> None:
    stderr = (b"walk.go:74: found symbolic link in path\n"
              b"Error: template: web/templates/x.yaml:3:4: executing \"x\" at <fail>: error calling fail: db password hunter22 rejected\n")
    line = helm_error_line(stderr, secrets=["hunter22"])
    assert line.startswith("template: web/templates/x.yaml:3:4") and "hunter22" not in line and "***" in line
    assert len(helm_error_line(b"Error: " + b"x" * 1000)) <= 240
    assert helm_error_line(b"") == "no error message"


def test_chart_source_refuses_missing_files_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="chart .* does not exist"):
        ChartSource(path=str(tmp_path / "nope")).validate()
    with pytest.raises(ConfigError, match="values file .* cannot be read"):
        ChartSource(path=str(tmp_path), values_files=(str(tmp_path / "v.yaml"),)).validate()
    with pytest.raises(ConfigError, match="has no value"):
        ChartSource(path=str(tmp_path), set_args=(("set", "image.tag"),)).validate()
    source = ChartSource(path=str(tmp_path), values_files=("a.yaml", "b.yaml"),
                         set_args=(("set", "x=1"), ("set-string", "y=2"), ("set", "z=3")))
    assert source.helm_args() == ["--values", "a.yaml", "--values", "b.yaml", "--set", "x=1", "--set-string", "y=2", "--set", "z=3"]


@pytest.mark.timeout(30)  # a hang guard: without the bound, helm (and this test) would wait forever
def test_a_helm_that_hangs_is_killed_with_what_it_started_at_the_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """helm is bounded by the timeout, and a timeout kills its whole process group (what helm
    started too), not only helm."""
    import os
    import time

    from preflight._collect import chart
    from preflight._collect.chart import ApiCatalog, render_kinds

    # A real run gives helm at least 1 s; the shell below has written its pids within milliseconds.
    monkeypatch.setattr(chart, "HELM_MIN_SECONDS", 0.3)
    pids = tmp_path / "pids"
    hang = tmp_path / "helm"
    hang.write_text(f"#!/bin/sh\nsleep 60 &\necho $$ $! > {pids}\nwait\n")
    hang.chmod(0o755)
    with pytest.raises(ConfigError, match=r"helm did not finish within 0\.3s and was stopped"):
        render_kinds(ChartSource(path=str(tmp_path), helm=str(hang)), kube_version="v1.37.2", catalog=ApiCatalog(version_set=()), timeout=0.3)
    for pid in map(int, pids.read_text().split()):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # reaped by init once killed; wait on that, not a sleep
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            if open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z":
                break
            time.sleep(0.01)
        else:
            raise AssertionError(f"process {pid} survived the timeout")
