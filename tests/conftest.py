"""Shared fixtures. Cluster-backed tests (marked ``cluster``) run against the real upstream
control plane that tests/controlplane builds; a failed build or start fails them loudly.
Tests marked ``integration`` need no cluster but are slow (a real ``pip install``): ``make test``
runs them, the unit tier (``make test-fast``: ``-m "not cluster and not integration"``) does not.
When ``-m`` leaves out ``cluster`` outright, tests/cluster and tests/controlplane are not even
imported (every test there is marked ``cluster``; a full run checks that it stays so). The unit
tier runs on two pytest-xdist workers (``-n 2``); a cluster test refuses to start in one (each
worker would start its own control planes: session fixtures are one per process).

Hypothesis profiles, chosen once here before any test module builds its ``settings``:
``HYPOTHESIS_PROFILE`` if set, else ``ci`` when ``CI`` is set (CI runs ``.ci/run`` with
``CI=true``), else ``dev``.

- ``dev``: 60 examples per property, random (a new sample each run; a failure is saved in
  ``.hypothesis/`` and replayed first next time): the unit tier stays fast.
- ``ci``: 300 examples, on Hypothesis' own ``ci`` profile: derandomized (the same examples each
  run, so a red CI is reproducible), no example database, the failing blob printed.

Neither has a deadline: the suite asserts no timings, and a 2-core machine under load would make
a per-example deadline fail at random. A test that sets ``max_examples`` itself keeps it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile("ci", settings.get_profile("ci"), max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI", "").lower() not in ("", "0", "false") else "dev"))


HERE = Path(__file__).parent
CLUSTER_FOLDERS = frozenset({HERE / "cluster", HERE / "controlplane"})


def _leaves_out_cluster(config: pytest.Config) -> bool:
    """``-m`` is a plain conjunction with ``not cluster`` in it (``"not cluster and not integration"``):
    no test marked ``cluster`` can be selected. Anything with ``or`` or parentheses is left to pytest."""
    expr = " ".join(str(config.getoption("markexpr", "") or "").split())
    if not expr or "(" in expr or re.search(r"\bor\b", expr):
        return False
    return "not cluster" in (term.strip() for term in re.split(r"\band\b", expr))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # Importing and assertion-rewriting the cluster tests only to deselect them cost the unit tier ~0.6 s.
    if collection_path in CLUSTER_FOLDERS and _leaves_out_cluster(config):
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items
                if any(folder in item.path.parents for folder in CLUSTER_FOLDERS) and item.get_closest_marker("cluster") is None]
    if unmarked:
        raise pytest.UsageError(f"tests under tests/cluster and tests/controlplane must be marked cluster (the unit tier does not "
                                f"collect those folders): {', '.join(unmarked)}")


@pytest.hookimpl(tryfirst=True)  # before any fixture of the test is set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") and item.get_closest_marker("cluster"):  # set in each pytest-xdist worker
        pytest.fail("cluster tests share their control planes within one pytest process, and each -n worker would start "
                    "its own: run them without -n", pytrace=False)


@pytest.fixture(scope="session")
def bin_dir() -> Path:
    from tests.controlplane import build_binaries

    return build_binaries()


@pytest.fixture(scope="session")
def helm_bins(bin_dir: Path) -> dict[int, Path]:
    """The real helm CLIs build.sh pins, by major version: {3: .../helm, 4: .../helm4}."""
    from tests.controlplane import helm_binaries

    return helm_binaries(bin_dir)


def _control_plane(name: str, bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.controlplane import ControlPlane

    with ControlPlane(tmp_path_factory.mktemp(name), bin_dir) as cp:
        yield cp


@pytest.fixture(scope="session")
def cluster(bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A healthy control plane shared by the tests that only read it (or clean up after)."""
    yield from _control_plane("healthy", bin_dir, tmp_path_factory)


@pytest.fixture(scope="session")
def _breakable_session(bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from _control_plane("breakable", bin_dir, tmp_path_factory)


@pytest.fixture
def breakable(_breakable_session: Any) -> Iterator[Any]:
    """A control plane a test may break; afterwards it is really repaired, as far as it is broken:
    `ControlPlane.restore` renews the certificates that are not valid, starts what is stopped,
    restarts what runs on replaced files, and waits until ready (the full `repair` otherwise).
    API objects a test adds (an APIService, namespaces) are the test's to remove."""
    yield _breakable_session
    _breakable_session.restore()


@pytest.fixture
def retry_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses the one retry policy (kube_client._retry) asks for between attempts, recorded
    instead of slept: a test asserts the pause it chose (e.g. Retry-After's), not a clock, and does
    not sit it out. The policy stays real (tenacity's stop and wait); only its ``sleep`` is taken."""
    import functools

    import tenacity  # the policy imports it from there when a request must be retried

    asked: list[float] = []
    monkeypatch.setattr(tenacity, "Retrying", functools.partial(tenacity.Retrying, sleep=asked.append))
    return asked


Runner = Callable[..., tuple[int, dict[str, Any], str]]


def _run(main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def preflight() -> Runner:
    """Run ``preflight ... -o json`` in-process: (exit code, {id: finding}, stderr)."""
    from preflight._cli.main import main

    def run(*argv: str) -> tuple[int, dict[str, Any], str]:
        code, out, err = _run(main, [*argv, "-o", "json"])
        findings = {c["id"]: c for c in json.loads(out)["checks"]} if out else {}
        return code, findings, err

    return run


@pytest.fixture
def sa_tokens_cli() -> Callable[..., tuple[int, str, str]]:
    from sa_tokens._cli import main

    return lambda *argv: _run(main, list(argv))
