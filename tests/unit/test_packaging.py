"""A real (non-editable) ``pip install .`` ships every module: editable installs hide gaps.

An integration test (a pip install of the tree, about 5 s): it runs in ``make test``, not in the
unit tier (``make test-fast``, ``-m "not cluster and not integration"``)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_pip_install_gives_working_commands_with_every_subpackage(tmp_path: Path) -> None:
    # Build from a clean copy: setuptools reuses a build/ folder left in the checkout, which
    # can hide a missing package. --no-deps: the dependencies are already beside this interpreter.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".*cache", ".hypothesis"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(tmp_path / "site"), str(source)],
                   check=True, timeout=300)
    site = tmp_path / "site"
    assert (site / "preflight" / "_checks" / "api.py").is_file()
    assert (site / "preflight" / "py.typed").is_file() and (site / "sa_tokens" / "py.typed").is_file()
    # the Helm plugin folders ship as package data, their scripts still executable (helm runs them directly)
    for script in ("preflight/preflight.sh", "preflight-post-render/post-render.sh"):
        assert os.access(site / "preflight" / "_cli" / "helm" / "plugins" / script, os.X_OK), script
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import preflight._cli.check, sa_tokens._cli, preflight._checks.node; "
             "import preflight; print(preflight.__file__)")
    out = subprocess.run([sys.executable, "-c", probe, str(site)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(site)), "imported the checkout, not the installed copy"
