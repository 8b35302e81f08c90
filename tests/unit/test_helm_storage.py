"""Helm release records: decoded as helm's storage driver writes them, only identities kept."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from kube_client._errors import ConfigError
from preflight._facts.cluster import revisions_of
from preflight._facts.helm import decode_release, read_record
from tests.unit.explain_recordings import recording

JOB = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: %s}\nspec: {template: {spec: {containers: []}}}\n"


def secret(release: dict[str, Any], *, gzipped: bool = True) -> dict[str, Any]:
    raw = json.dumps(release).encode()
    inner = base64.b64encode(gzip.compress(raw) if gzipped else raw)
    return {"metadata": {"name": "sh.helm.release.v1.web.v2", "labels": {"version": "2"}}, "data": {"release": base64.b64encode(inner).decode()}}


def test_a_recorded_secret_decodes_twice_and_gunzips() -> None:
    doc = decode_release(recording("hook")["release_secrets"][0])
    assert doc["name"] == "c" and doc["info"]["status"] == "failed"


def test_configmap_storage_holds_helms_base64_only_once_and_old_records_are_not_gzipped() -> None:
    item = secret({"name": "web", "version": 2}, gzipped=False)
    configmap = {"metadata": item["metadata"], "data": {"release": base64.b64decode(item["data"]["release"]).decode()}}
    assert decode_release(configmap, driver="configmaps")["version"] == 2
    assert decode_release(item)["name"] == "web"


@pytest.mark.parametrize("data", [{}, {"release": "not base64!"}, {"release": base64.b64encode(base64.b64encode(b"\x1f\x8b\x08junk")).decode()}])
def test_anything_else_is_one_config_error(data: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="sh.helm.release.v1.web.v2"):
        decode_release({"metadata": {"name": "sh.helm.release.v1.web.v2"}, "data": data})


def test_hooks_of_this_operation_run_first_by_weight_and_others_are_left_out() -> None:
    doc = {
        "version": 2, "namespace": "shop", "info": {"status": "failed", "description": "Upgrade \"web\" failed: timed out"},
        "config": {"db": {"password": "hunter22"}},
        "manifest": "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n",
        "hooks": [
            {"name": "late", "kind": "Job", "manifest": JOB % "late", "events": ["pre-upgrade"], "weight": 5, "last_run": {"phase": "Succeeded"}},
            {"name": "early", "kind": "Job", "manifest": JOB % "early", "events": ["pre-install", "pre-upgrade"], "weight": -1,
             "last_run": {"phase": "Failed"}},
            {"name": "install-only", "kind": "Job", "manifest": JOB % "install-only", "events": ["pre-install"]},
            {"name": "smoke", "kind": "Pod", "manifest": "apiVersion: v1\nkind: Pod\nmetadata: {name: smoke}\n", "events": ["test"]},
            {"name": "after", "kind": "Job", "manifest": JOB % "after", "events": ["post-upgrade"], "last_run": {"phase": "Unknown"}},
        ],
    }
    record = read_record(doc, release="web", namespace="shop")
    assert record.operation == "upgrade"
    assert [r.name for r in record.resources] == ["early", "late", "web", "after"]
    assert [r.hook_phase for r in record.resources] == ["Failed", "Succeeded", "", ""]
    assert "hunter22" not in repr(record)  # the release's values are not kept


def test_revisions_come_from_the_storage_labels() -> None:
    items = [{"metadata": {"labels": {"version": "1", "status": "superseded", "modifiedAt": "1700000000"}}},
             {"metadata": {"labels": {"version": "2", "status": "failed"}}},
             {"metadata": {"labels": {"version": "x"}}}]
    assert [(r.version, r.status) for r in revisions_of(items)] == [(1, "superseded"), (2, "failed")]
