"""``--deep``: the token-controller canary, and ``Cleanups``, the undo list for what a collector
creates.

Objects the canary creates are registered in ``Cleanups`` before anything can fail, and the CLI
drains it from the main thread, also after Ctrl-C: collectors run in daemon threads, whose
``finally`` blocks do not run when the process exits. This is the only collector that writes,
and only with ``--deep``.
"""

from __future__ import annotations

import secrets as random_names

import threading
import time
from collections.abc import Callable
from urllib.parse import quote

from kube_client._cluster import SA_NAME_ANNOTATION, SA_TOKEN_TYPE
from kube_client._deadline import Deadline
from kube_client._errors import ClusterError, NotFoundError
from kube_client._http import KubeClient

from .._facts.cluster import CanaryResult

__all__ = ["CLEANUP_SECONDS", "Cleanups", "run_token_canary"]

CLEANUP_SECONDS = 10.0


class Cleanups:
    """Undo actions for what collectors created; safe to run twice and from any thread."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def add(self, what: str, action: Callable[[], None]) -> None:
        with self._lock:
            self._actions.append((what, action))

    def run(self) -> list[str]:
        """Run every pending action (newest first); return what could not be undone."""
        with self._lock:
            pending, self._actions = self._actions[::-1], []
        failed = []
        for what, action in pending:
            try:
                action()
            except ClusterError as exc:
                if not isinstance(exc, NotFoundError):
                    failed.append(f"{what}: {exc}")
        return failed


def run_token_canary(client: KubeClient, namespace: str, cleanups: Cleanups, *, wait: float) -> CanaryResult:
    """Create a throwaway ServiceAccount and token Secret; report whether the token
    controller fills it within ``wait`` seconds. Both are deleted afterwards."""
    name = f"preflight-canary-{random_names.token_hex(3)}"
    base = f"/api/v1/namespaces/{quote(namespace)}"

    def deleter(path: str) -> Callable[[], None]:
        def delete() -> None:
            # Its own budget: clean-ups also run after the run's deadline is spent (or Ctrl-C).
            client.delete(path, deadline=Deadline(CLEANUP_SECONDS))

        return delete

    # Register each undo before the create: a create whose answer is lost still gets deleted.
    cleanups.add(f"ServiceAccount {namespace}/{name}", deleter(f"{base}/serviceaccounts/{name}"))
    client.post(f"{base}/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
    cleanups.add(f"Secret {namespace}/{name}", deleter(f"{base}/secrets/{name}"))
    created = client.post(
        f"{base}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": SA_TOKEN_TYPE,
            "metadata": {"name": name, "annotations": {SA_NAME_ANNOTATION: name}},
        },
    ).data
    started = time.monotonic()
    filled = bool((created.get("data") or {}).get("token"))
    version = str((created.get("metadata") or {}).get("resourceVersion") or "0")
    if not filled:
        for event in client.watch(f"{base}/secrets", resource_version=version, timeout=wait, fieldSelector=f"metadata.name={name}"):
            obj = event.get("object") or {}
            if event.get("type") in ("ADDED", "MODIFIED") and (obj.get("data") or {}).get("token"):
                filled = True
                break
            if event.get("type") == "DELETED":
                break
    waited = time.monotonic() - started
    failed = cleanups.run()
    return CanaryResult(filled=filled, waited_seconds=waited, secret=f"{namespace}/{name}", cleaned_up=not failed, detail="; ".join(failed))
