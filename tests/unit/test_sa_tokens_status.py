"""How ``status`` classifies tokens: TokenSecret.projected_cleanup and AccountStatus.kind.

The last tests feed ``join_status`` ServiceAccount and Secret objects as the API server
returns them from a LIST (recorded shapes); no HTTP is involved.
The real LISTs, pagination and the request count are covered in tests/cluster.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from sa_tokens import AccountStatus, TokenSecret
from sa_tokens._status import join_status

CREATED = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)


def token(**overrides: Any) -> TokenSecret:
    fields: dict[str, Any] = {"name": "ci-token", "filled": True, "listed": False, "uid_ok": True, "created": CREATED,
                              "last_used": "", "invalid_since": ""}
    return TokenSecret(**{**fields, **overrides})


def account(*secrets: TokenSecret) -> AccountStatus:
    return AccountStatus(namespace="ci", name="jenkins", secrets=secrets)


# -- projected_cleanup -----------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "expected"), [
    ({"listed": False}, ""),
    ({"listed": False, "invalid_since": "2026-03-01", "last_used": "2025-01-01"}, ""),  # the cleaner ignores unlisted Secrets
    ({"listed": True}, "invalidated after 2026-06-01"),  # never used: a year after creation
    ({"listed": True, "last_used": "2026-01-10"}, "invalidated after 2027-01-10"),
    ({"listed": True, "last_used": "yesterday"}, "invalidated after 2026-06-01"),  # unreadable label: from creation
    ({"listed": True, "last_used": "", "created": None}, ""),  # nothing to count from
    ({"listed": True, "invalid_since": "2026-03-01", "last_used": "2025-01-01"}, "deleted after 2027-03-01"),
    ({"listed": True, "invalid_since": "soon"}, "deletion pending"),
])
def test_projected_cleanup_follows_the_legacy_token_cleaner(fields: dict[str, Any], expected: str) -> None:
    assert token(**fields).projected_cleanup == expected


# -- kind and usable -------------------------------------------------------------------------------

def test_an_account_without_token_secrets_is_none_and_unusable() -> None:
    assert (account().kind, account().usable) == ("none", False)


def test_an_unlisted_token_secret_is_manual() -> None:
    a = account(token())
    assert (a.kind, a.usable) == ("manual", True)


def test_a_token_secret_listed_in_the_account_is_auto_even_next_to_a_manual_one() -> None:
    a = account(token(name="ci-token"), token(name="ci-token-abcde", listed=True))
    assert (a.kind, a.usable) == ("auto", True)


def test_a_token_secret_of_an_earlier_account_with_the_same_name_counts_as_none() -> None:
    a = account(token(uid_ok=False), token(name="old-listed", uid_ok=False, listed=True))
    assert (a.kind, a.usable) == ("none", False)


def test_an_invalidated_token_keeps_its_kind_but_is_not_usable() -> None:
    a = account(token(listed=True, invalid_since="2026-03-01"))
    assert (a.kind, a.usable) == ("auto", False)


def test_a_token_secret_not_yet_filled_is_manual_but_not_usable() -> None:
    a = account(token(filled=False))
    assert (a.kind, a.usable) == ("manual", False)


# -- join_status on recorded LIST items -----------------------------------------------------------

def _sa(ns: str, name: str, uid: str, listed: tuple[str, ...] = ()) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": name, "namespace": ns, "uid": uid, "resourceVersion": "100",
                                        "creationTimestamp": "2026-11-28T21:00:00Z"}}
    if listed:
        obj["secrets"] = [{"name": n} for n in listed]
    return obj


def _secret(ns: str, name: str, account: str | None, uid: str | None, *, filled: bool = True,
            labels: dict[str, str] | None = None) -> dict[str, Any]:
    annotations = {k: v for k, v in (("kubernetes.io/service-account.name", account),
                                     ("kubernetes.io/service-account.uid", uid)) if v is not None}
    obj: dict[str, Any] = {"type": "kubernetes.io/service-account-token",
                           "metadata": {"name": name, "namespace": ns, "uid": f"secret-{name}", "resourceVersion": "101",
                                        "creationTimestamp": "2026-11-28T21:00:05Z", "annotations": annotations,
                                        "labels": labels or {}}}
    if filled:
        obj["data"] = {"token": base64.b64encode(b"eyJhbGciOi.recorded.token").decode(),
                       "ca.crt": base64.b64encode(b"-----BEGIN CERTIFICATE-----").decode(),
                       "namespace": base64.b64encode(ns.encode()).decode()}
    return obj


ACCOUNTS = [
    _sa("ci", "manual-bot", "uid-m"),
    _sa("ci", "listed-bot", "uid-l", listed=("listed-bot-token",)),
    _sa("ci", "no-token", "uid-n"),
    _sa("ci", "recreated", "uid-new"),
    _sa("ci", "stale-bot", "uid-s", listed=("stale-bot-token",)),
    _sa("other", "manual-bot", "uid-o"),
]
SECRETS = [
    _secret("ci", "manual-bot-token", "manual-bot", "uid-m", labels={"kubernetes.io/legacy-token-last-used": "2026-11-28"}),
    _secret("ci", "listed-bot-token", "listed-bot", "uid-l"),
    _secret("ci", "recreated-token", "recreated", "uid-old"),
    _secret("ci", "stale-bot-token", "stale-bot", "uid-s", labels={"kubernetes.io/legacy-token-invalid-since": "2026-10-01"}),
    _secret("ci", "pending-token", "manual-bot", None, filled=False),
    _secret("ci", "ownerless", None, None),
]


def test_status_joins_recorded_accounts_and_secrets_by_namespace_and_name() -> None:
    rows = {(a.namespace, a.name): a for a in join_status(ACCOUNTS, SECRETS)}
    assert list(rows) == sorted(rows)
    assert {k: (a.kind, a.usable) for k, a in rows.items()} == {
        ("ci", "listed-bot"): ("auto", True),
        ("ci", "manual-bot"): ("manual", True),
        ("ci", "no-token"): ("none", False),
        ("ci", "recreated"): ("none", False),
        ("ci", "stale-bot"): ("auto", False),
        ("other", "manual-bot"): ("none", False),  # same name in another namespace: not its Secrets
    }
    manual = rows[("ci", "manual-bot")]
    assert [s.name for s in manual.secrets] == ["manual-bot-token", "pending-token"]  # sorted by name
    assert [(s.filled, s.uid_ok, s.last_used) for s in manual.secrets] == [(True, True, "2026-11-28"), (False, True, "")]
    assert rows[("ci", "recreated")].secrets[0].uid_ok is False
    stale = rows[("ci", "stale-bot")].as_dict()
    assert stale["secrets"] == [{"name": "stale-bot-token", "filled": True, "listed": True, "uid_ok": True, "last_used": None,
                                 "invalid_since": "2026-10-01", "projected_cleanup": "deleted after 2027-10-01"}]


def test_status_rows_never_carry_the_token() -> None:
    accounts = join_status(ACCOUNTS, SECRETS)
    recorded_token = base64.b64encode(b"eyJhbGciOi.recorded.token").decode()
    text = repr(accounts) + repr([a.as_dict() for a in accounts])
    assert "eyJhbGciOi" not in text and recorded_token not in text
