"""Load a recording of tests/unit/recorded/ into the facts explain's analyzers judge."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from kube_client._cluster import LeaseState, Leases, parse_time
from preflight._facts.helm import decode_release, read_record
from preflight._facts.release import LiveObject, ReleaseFacts

RECORDED = Path(__file__).resolve().parent / "recorded"


def recording(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((RECORDED / f"explain-{name}.json").read_text())
    return doc


def leases_of(doc: dict[str, Any]) -> Leases:
    items = {}
    for item in doc["leases"]:
        spec = item["spec"]
        items[item["metadata"]["name"]] = LeaseState(
            name=item["metadata"]["name"], holder=spec.get("holderIdentity") or "", renew_time=parse_time(spec.get("renewTime")),
            duration_seconds=int(spec.get("leaseDurationSeconds") or 15), acquire_time=parse_time(spec.get("acquireTime")))
    return Leases(items=items, server_time=server_time(doc))


def server_time(doc: dict[str, Any]) -> datetime:
    when = parse_time(doc["server_time"])
    assert when is not None
    return when


def release_facts(doc: dict[str, Any]) -> ReleaseFacts:
    """The latest revision decoded as the collector decodes it, each object found by kind and name."""
    latest = max(doc["release_secrets"], key=lambda s: int(s["metadata"]["labels"]["version"]))
    record = read_record(decode_release(latest), release=doc["release"], namespace=doc["namespace"])
    found = {(o["kind"], o["metadata"]["name"]): o for o in doc["objects"]}
    objects = tuple(LiveObject(resource=r, namespace=r.namespace or doc["namespace"], obj=found.get((r.kind, r.name)))
                    for r in record.resources)
    return ReleaseFacts(record=record, objects=objects, server_time=server_time(doc))


def explain_inputs(doc: dict[str, Any]) -> dict[str, Any]:
    return {"release": release_facts(doc), "pods": doc["pods"], "replicasets": doc["replicasets"],
            "endpointslices": doc["endpointslices"], "events": doc["events"], "nodes": doc["nodes"], "leases": leases_of(doc)}
