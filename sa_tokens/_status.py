"""``status``: every ServiceAccount's long-lived token, from two paginated LISTs.

One LIST of ServiceAccounts and one of Secrets filtered server-side by
``fieldSelector=type=kubernetes.io/service-account-token``, joined in memory: the number of
requests is the number of pages, never one GET per ServiceAccount.

Kinds (KEP-2799): a token Secret listed in the ServiceAccount's ``secrets`` is *auto*
(generated before 1.24, or listed by hand) and is what the legacy token cleaner acts on
(1.29+: marked invalid after a year unused, deleted a year after that); an unlisted one is
*manual* and the cleaner never touches it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from kube_client._cluster import INVALID_SINCE_LABEL, LAST_USED_LABEL, SA_NAME_ANNOTATION, SA_TOKEN_TYPE, SA_UID_ANNOTATION, parse_time, token_filled
from kube_client._http import KubeClient

__all__ = ["AccountStatus", "StatusReport", "TokenSecret", "join_status", "token_status"]

CLEANUP_PERIOD = timedelta(days=365)  # --legacy-service-account-token-clean-up-period default


@dataclass(frozen=True, kw_only=True)
class TokenSecret:
    name: str
    filled: bool
    listed: bool
    uid_ok: bool
    created: datetime | None
    last_used: str
    invalid_since: str

    @property
    def projected_cleanup(self) -> str:
        """When the legacy token cleaner would act, for listed Secrets left unused."""
        if not self.listed:
            return ""
        if self.invalid_since:
            when = _day(self.invalid_since)
            return f"deleted after {(when + CLEANUP_PERIOD).isoformat()}" if when else "deletion pending"
        used = _day(self.last_used) or (self.created.date() if self.created else None)
        return f"invalidated after {(used + CLEANUP_PERIOD).isoformat()}" if used else ""


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True, kw_only=True)
class AccountStatus:
    namespace: str
    name: str
    secrets: tuple[TokenSecret, ...]

    @property
    def kind(self) -> str:
        usable = [s for s in self.secrets if s.uid_ok]
        if any(s.listed for s in usable):
            return "auto"
        return "manual" if usable else "none"

    @property
    def usable(self) -> bool:
        return any(s.filled and s.uid_ok and not s.invalid_since for s in self.secrets)

    def as_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "token": self.kind,
            "usable": self.usable,
            "secrets": [
                {"name": s.name, "filled": s.filled, "listed": s.listed, "uid_ok": s.uid_ok, "last_used": s.last_used or None,
                 "invalid_since": s.invalid_since or None, "projected_cleanup": s.projected_cleanup or None}
                for s in self.secrets
            ],
        }


@dataclass(frozen=True, kw_only=True)
class StatusReport:
    accounts: tuple[AccountStatus, ...]
    requests: int


def token_status(client: KubeClient, namespace: str | None) -> StatusReport:
    """All ServiceAccounts of ``namespace`` (None: every namespace) and their tokens."""
    before = client.stats.requests
    scope = f"/api/v1/namespaces/{quote(namespace)}" if namespace else "/api/v1"
    accounts = list(client.list_all(f"{scope}/serviceaccounts"))
    secrets = list(client.list_all(f"{scope}/secrets", fieldSelector=f"type={SA_TOKEN_TYPE}"))
    return StatusReport(accounts=join_status(accounts, secrets), requests=client.stats.requests - before)


def join_status(accounts: list[dict[str, Any]], secrets: list[dict[str, Any]]) -> tuple[AccountStatus, ...]:
    """ServiceAccounts joined with the token Secrets that name them (pure: no I/O)."""
    by_account: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for secret in secrets:
        meta = secret.get("metadata") or {}
        owner = (meta.get("annotations") or {}).get(SA_NAME_ANNOTATION)
        if owner:
            by_account[(str(meta.get("namespace")), owner)].append(secret)
    rows = []
    for account in accounts:
        meta = account.get("metadata") or {}
        ns, name, uid = str(meta.get("namespace")), str(meta.get("name")), str(meta.get("uid") or "")
        listed = {str(r.get("name")) for r in account.get("secrets") or [] if isinstance(r, dict)}
        tokens = []
        for secret in by_account.get((ns, name), []):
            smeta = secret.get("metadata") or {}
            labels = smeta.get("labels") or {}
            tokens.append(TokenSecret(
                name=str(smeta.get("name")),
                filled=token_filled(secret),
                listed=smeta.get("name") in listed,
                uid_ok=(smeta.get("annotations") or {}).get(SA_UID_ANNOTATION) in (None, "", uid),
                created=parse_time(smeta.get("creationTimestamp")),
                last_used=str(labels.get(LAST_USED_LABEL) or ""),
                invalid_since=str(labels.get(INVALID_SINCE_LABEL) or ""),
            ))
        rows.append(AccountStatus(namespace=ns, name=name, secrets=tuple(sorted(tokens, key=lambda t: t.name))))
    rows.sort(key=lambda r: (r.namespace, r.name))
    return tuple(rows)
