"""The import direction, as a fact the suite keeps rather than a sentence in the README.

Between packages: kube_client at the bottom, the two tools on it, neither on the other.
``preflight check --ensure-token`` is the one place the tools meet, and it is the command
level's business (preflight/_cli/check.py hands sa_tokens' ensure to the collectors).

Inside preflight, one folder per stage, each importing only the stages before it:
_engine <- _facts <- _checks <- _collect <- _cli. The judges (``_checks``) do no I/O: importing
one loads no HTTP client, ssl or subprocess. No module imports itself back through others.
Function-level imports count too: a late import is still a dependency.
"""

from __future__ import annotations

import ast
import functools
import inspect
import subprocess
import sys
import typing
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kube_client", "preflight", "sa_tokens")
COMMAND_LEVEL = {"preflight/_cli/check.py"}
STAGES = ("_engine", "_facts", "_checks", "_collect", "_cli")  # each may import only those before it
MAX_FUNCTION_LINES = 80
MAX_MODULES_PER_FOLDER = 12
IO_MODULES = ("urllib3", "ssl", "subprocess", "requests", "http.client", "kube_client._http", "kube_client._transport")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(package: str) -> list[Path]:
    found = sorted((ROOT / package).rglob("*.py"))
    assert found, f"no sources under {package}/"
    return found


ALL_SOURCES = [path for package in PACKAGES for path in sources(package)]
MODULES = {module_name(path) for path in ALL_SOURCES}


Function = tuple[str, int, int]  # name, first line, last line


@functools.cache
def scan(path: Path) -> tuple[tuple[str, ...], tuple[Function, ...]]:
    """What the tests here read of a source, parsed and walked once per session: its imports
    (see ``imports_of``) and its functions. Only these are kept, not the syntax tree (a cached
    tree would add ~140,000 objects to every later garbage collection)."""
    nodes = list(ast.walk(ast.parse(path.read_text(), str(path))))
    functions = tuple((node.name, node.lineno, node.end_lineno or node.lineno)
                      for node in nodes if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))
    return tuple(_scan_imports(path, nodes)), functions


def imports_of(path: Path) -> tuple[str, ...]:
    """Every module ``path`` imports, absolute, at module or function level; ``from P import m``
    counts as importing the submodule ``P.m`` when there is one."""
    return scan(path)[0]


def _scan_imports(path: Path, nodes: list[ast.AST]) -> Iterator[str]:
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in MODULES)


def imported_packages(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imports_of(path)}


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


def stage_of(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.index(parts[1]) if parts[0] == "preflight" and len(parts) > 1 and parts[1] in STAGES else None


def test_each_stage_imports_only_the_stages_before_it() -> None:
    wrong = []
    for path in sources("preflight"):
        mine = stage_of(module_name(path))
        if mine is None:
            continue
        for imported in imports_of(path):
            theirs = stage_of(imported)
            if theirs is not None and theirs > mine:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert wrong == []


def test_no_module_imports_itself_back() -> None:
    graph = {module_name(p): {m for m in imports_of(p) if m in MODULES and m != module_name(p)} for p in ALL_SOURCES}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    cycles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the stack, 2 done

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            if state[dep] == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep):], dep]))
            elif state[dep] == 0:
                visit(dep, [*stack, dep])
        state[module] = 2

    for module in sorted(graph):
        if state[module] == 0:
            visit(module, [module])
    assert cycles == []


def test_no_function_is_longer_than_the_limit() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{first} {name} ({last - first + 1} lines)"
        for path in ALL_SOURCES
        for name, first, last in scan(path)[1]
        if last - first + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_no_folder_of_preflight_holds_more_modules_than_the_limit() -> None:
    crowded = {
        str(folder.relative_to(ROOT)): count
        for folder in [ROOT / "preflight", *(p for p in (ROOT / "preflight").rglob("*") if p.is_dir())]
        if (count := len(list(folder.glob("*.py")))) > MAX_MODULES_PER_FOLDER
    }
    assert crowded == {}


def test_importing_any_judge_loads_no_io_module() -> None:
    judges = sorted(module_name(p) for p in (ROOT / "preflight" / "_checks").rglob("*.py"))
    probe = (
        "import importlib, sys\n"
        f"for name in {judges!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in {IO_MODULES!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"a judge loads {out.stdout.strip()}"


def test_the_scan_sees_late_and_relative_imports(tmp_path: Path) -> None:
    probe = ROOT / "preflight" / "_checks" / "api.py"
    assert "preflight._engine.model" in set(imports_of(probe))
    late = tmp_path / "m.py"
    late.write_text("def f():\n    from sa_tokens._ensure import ensure_token\n    import preflight.x\n")
    assert {n.split(".")[0] for n in ast_imports(late)} == {"sa_tokens", "preflight"}


def ast_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _tables() -> Iterator[tuple[str, object]]:
    from kube_client._kubeconfig import ClusterEntry, Credentials
    from kube_client._target import Target
    from preflight._cli.check import check_table, node_checks
    from preflight._cli.explain import explain_table
    from preflight._cli.offline import pki_checks

    target = Target(context="c", cluster=ClusterEntry(name="c", server="https://127.0.0.1:6443"), credentials=Credentials(user="u"),
                    namespace="n", namespace_source="flag")
    for check in [*check_table(target, deep=True, release="web", node=True, admission=True), *node_checks(), *explain_table(), *pki_checks()]:
        yield check.id, check


@pytest.mark.parametrize(("check_id", "check"), list(_tables()), ids=lambda v: v if isinstance(v, str) else "")
def test_each_rows_needs_and_tolerates_are_its_judges_signature(check_id: str, check: object) -> None:
    """``needs`` names the judge's fact parameters (after the policy and what the table bound),
    and ``tolerates`` exactly those annotated ``... | FactError``: the wiring restates nothing."""
    from preflight._engine.runner import Check

    assert isinstance(check, Check)
    run = check.run
    bound = set(run.keywords) if isinstance(run, partial) else set()
    params = list(inspect.signature(run).parameters.values())
    facts = [p for p in params[1:] if p.kind is not p.KEYWORD_ONLY and p.name not in bound]
    assert params[0].name == "policy" or (isinstance(run, partial) and run.args), check_id
    assert tuple(p.name for p in facts) == check.needs, check_id
    judge = run.func if isinstance(run, partial) else run
    try:
        hints = {name: str(hint) for name, hint in typing.get_type_hints(judge).items()}
    except NameError:  # an annotation imported only for type checking: read it as written
        hints = {p.name: str(p.annotation) for p in params}
    assert {p.name for p in facts if "FactError" in hints[p.name]} == set(check.tolerates), check_id


def test_a_plain_check_loads_no_pki_reader_and_no_helm_storage_decoder() -> None:
    """``--node`` is the only reason a check reads a kubeadm folder, and ``--release`` the only
    reason it decodes Helm's storage: without them, those modules (the certificate table, gzip)
    stay unloaded. The PKI reader had cost every check about 5 ms, for an absent --node."""
    unwanted = ("preflight._collect.pki", "preflight._facts.pki", "preflight._facts.helm")
    probe = ("import sys\nimport preflight._cli.check\nfrom preflight._cli.main import _kubeadm_dir\n"
             f"assert _kubeadm_dir(None) is None\nprint(sorted(m for m in {unwanted!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
