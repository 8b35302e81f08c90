"""A just-filled token may be refused for a moment (the API server checks it against its
informer's copy of the Secret): ``ensure`` retries that 401 for a short grace, no longer."""

from __future__ import annotations

import types
from typing import Any

import pytest

from kube_client._errors import UnauthorizedError
from kube_client._cluster import Identity
from kube_client._deadline import Deadline
from sa_tokens import _ensure

ACCOUNT = Identity(username="system:serviceaccount:ci:jenkins")


def client() -> Any:
    return types.SimpleNamespace(deadline=Deadline(30))


def test_a_401_right_after_the_fill_is_retried_until_the_token_is_known(monkeypatch: pytest.MonkeyPatch, retry_pauses: list[float]) -> None:
    answers: list[Identity | UnauthorizedError] = [UnauthorizedError("Unauthorized", status=401)] * 2 + [ACCOUNT]
    calls: list[str] = []

    def whoami(_client: Any, token: str) -> Identity:
        calls.append(token)
        answer = answers[len(calls) - 1]
        if isinstance(answer, UnauthorizedError):
            raise answer
        return answer

    monkeypatch.setattr(_ensure, "_whoami", whoami)
    assert _ensure._whoami_fresh(client(), "t0ken") == ACCOUNT
    assert calls == ["t0ken"] * 3 and len(retry_pauses) == 2


def test_a_token_still_refused_after_the_grace_is_a_401_that_is_not_retried_further(monkeypatch: pytest.MonkeyPatch,
                                                                                    retry_pauses: list[float]) -> None:
    calls = 0

    def whoami(_client: Any, _token: str) -> Identity:
        nonlocal calls
        calls += 1
        raise UnauthorizedError("Unauthorized", status=401)

    monkeypatch.setattr(_ensure, "_whoami", whoami)
    monkeypatch.setattr(_ensure, "FRESH_TOKEN_GRACE", 0.5)
    with pytest.raises(UnauthorizedError) as err:
        _ensure._whoami_fresh(client(), "t0ken")
    assert err.value.transient is False
    # Pauses recorded, not slept, so the clock hardly moves: the stop is the grace against the next
    # pause itself (0.1, 0.2, 0.4 s fit in 0.5 s; 0.8 s does not), not the 30 s run deadline.
    assert 1 < calls <= 4 and len(retry_pauses) == calls - 1


def test_the_new_token_is_checked_over_the_same_route_as_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same server, CA and proxy: a cluster reached only through a proxy is verified through it."""
    from kube_client._proxy import choose_proxy
    from kube_client._target import Target
    from kube_client._kubeconfig import ClusterEntry, Credentials

    target = Target(context="ci", cluster=ClusterEntry(name="c", server="https://k8s.corp:6443"), credentials=Credentials(user="admin"),
                    namespace="ci", namespace_source="flag", proxy=choose_proxy("https://k8s.corp:6443", "http://jump:8888", {}))
    seen: list[Target] = []

    class Checker:
        def __init__(self, as_account: Target, _deadline: Deadline, **_kw: Any) -> None:
            seen.append(as_account)

        def close(self) -> None:
            pass

    monkeypatch.setattr(_ensure, "KubeClient", Checker)
    monkeypatch.setattr(_ensure, "read_identity", lambda _checker: ACCOUNT)
    assert _ensure._whoami(types.SimpleNamespace(target=target, deadline=Deadline(5)), "t0ken") == ACCOUNT  # type: ignore[arg-type]
    (checked,) = seen
    assert (checked.cluster, checked.proxy) == (target.cluster, target.proxy)
    assert checked.credentials.token is not None and checked.credentials.token.data == b"t0ken"
