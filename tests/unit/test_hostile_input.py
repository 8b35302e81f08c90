"""Hostile files and stdin (issue 20): YAML anchors and aliases, binary stdin. Each is one line,
exit 2, no traceback and no "this is a bug", and nothing is sent to the server first."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_client._errors import ConfigError
from kube_client._yamlsafe import check_aliases
from preflight._cli.main import main
from tests.hostile_server import Answer, hostile_server
from tests.pkifactory import kubeconfig_doc, write_kubeconfig

SELF_LIST = """\
apiVersion: v1
kind: List
items: &items
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
- *items
"""

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
) + "kind: List\napiVersion: v1\nitems: [*i]\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_exit_2(code: int, err: str) -> None:
    assert code == 2 and err.count("\n") == 1 and "bug" not in err and "Traceback" not in err, err


@pytest.mark.parametrize(("text", "says"), [(SELF_LIST, "contains itself"), (LAUGHS, "excessive aliasing")])
def test_hostile_anchors_in_manifests_are_one_line_before_any_request(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                      text: str, says: str) -> None:
    """A List that contains itself was a RecursionError; nested aliases multiply a tiny file."""
    manifests = tmp_path / "rendered.yaml"
    manifests.write_text(text)
    with hostile_server(Answer(500)) as server:
        config = write_kubeconfig(tmp_path / "config", kubeconfig_doc(server=server.url, token="t"))
        code, _out, err = _run(capsys, "check", "--kubeconfig", str(config), "--manifests", str(manifests))
        assert server.log.connections == 0
    _one_line_exit_2(code, err)
    assert says in err and str(manifests) in err


def test_a_self_referencing_exec_extension_is_refused_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It came out as json's 'Circular reference detected' when the plugin's environment was built."""
    config = tmp_path / "config"
    config.write_text("""\
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: &ext {loop: *ext}
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: true, interactiveMode: Never, provideClusterInfo: true}
contexts:
- {name: x, context: {cluster: c, user: u}}
current-context: x
""")
    code, _out, err = _run(capsys, "check", "--kubeconfig", str(config))
    _one_line_exit_2(code, err)
    assert "contains itself" in err and str(config) in err


@pytest.mark.parametrize("data", [b"\xff\xfe\x00binary\x80", b"kind: \xc3", bytes(range(256))])
def test_binary_stdin_for_manifests_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                data: bytes) -> None:
    """--manifests - with binary stdin raised UnicodeEncodeError."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape"))
    with hostile_server(Answer(500)) as server:
        config = write_kubeconfig(tmp_path / "config", kubeconfig_doc(server=server.url, token="t"))
        code, _out, err = _run(capsys, "check", "--kubeconfig", str(config), "--manifests", "-")
        assert server.log.connections == 0
    _one_line_exit_2(code, err)
    assert "stdin" in err


# -- the bound itself, as a property ---------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
_trees = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
                      max_leaves=30)


@given(_trees)
def test_any_tree_without_aliases_is_accepted_unchanged(doc: object) -> None:
    assert check_aliases(doc, source="f") is doc


@settings(max_examples=50)
@given(st.integers(min_value=2, max_value=12), st.integers(min_value=1, max_value=6))
def test_nested_aliases_are_refused_once_they_multiply_the_document(width: int, depth: int) -> None:
    text = "l0: &l0 [x]\n" + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]\n" for i in range(1, depth + 1))
    doc = yaml.safe_load(text)
    leaves = width ** depth  # what walking the last list visits
    if leaves > 200_000:  # a billion laughs in small
        with pytest.raises(ConfigError, match="excessive aliasing"):
            check_aliases(doc, source="f")
    elif 8 * leaves < 10_000:  # reuse, not multiplication: go-yaml allows it, so do we
        assert check_aliases(doc, source="f") is doc


@given(st.integers(min_value=1, max_value=6))
def test_any_cycle_is_refused(length: int) -> None:
    chain: list[object] = [[] for _ in range(length)]
    for a, b in zip(chain, chain[1:] + chain[:1]):
        a.append(b)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="contains itself"):
        check_aliases({"items": chain[0]}, source="f")
