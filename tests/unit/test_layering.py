"""The import direction: kube_client at the bottom, the two tools on it, neither on the other.

``preflight check --ensure-token`` is the one place the tools meet, and it is the command
level's business (preflight/_check_command.py hands sa_tokens' ensure to the collectors).
Function-level imports count too: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND_LEVEL = {"preflight/_check_command.py"}


def imported_packages(path: Path) -> set[str]:
    tops = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


def sources(package: str) -> list[Path]:
    found = sorted((ROOT / package).rglob("*.py"))
    assert found, f"no sources under {package}/"
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("kube_client", {"preflight", "sa_tokens"}), ("sa_tokens", {"preflight"}), ("preflight", {"sa_tokens"})],
)
def test_packages_import_only_downwards(package: str, forbidden: set[str]) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & forbidden)
        for path in sources(package)
        if str(path.relative_to(ROOT)) not in COMMAND_LEVEL and imported_packages(path) & forbidden
    }
    assert wrong == {}


def test_the_command_level_is_where_the_tools_meet() -> None:
    # If this stops being true the exemption above is stale and should go.
    assert all("sa_tokens" in imported_packages(ROOT / path) for path in COMMAND_LEVEL)


def test_the_scan_sees_late_imports(tmp_path: Path) -> None:
    probe = tmp_path / "m.py"
    probe.write_text("def f():\n    from sa_tokens._ensure import ensure_token\n    import preflight.x\n")
    assert imported_packages(probe) == {"sa_tokens", "preflight"}
