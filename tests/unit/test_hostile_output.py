"""Output that breaks reports or leaks (issue 20): every renderer's text is printable and valid
XML whatever a message holds; an exec plugin's stderr never carries a token into a report."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_client._errors import scrub_secrets
from preflight._cli.main import main
from preflight._engine.model import Finding, Outcome, Report
from preflight._engine.render import render_json, render_junit, render_markdown, render_table
from tests.pkifactory import kubeconfig_doc, write_kubeconfig

# Any code point, lone surrogates and every control character included.
_anything = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=60)
_C0_BUT_TAB_LF = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@given(_anything, _anything, _anything, st.sampled_from(list(Outcome)), st.booleans())
def test_any_message_gives_valid_xml_and_printable_text(message: str, remediation: str, evidence: str, outcome: Outcome,
                                                        strict: bool) -> None:
    report = Report(findings=[Finding(id="api.reachable", outcome=outcome, message=message, remediation=remediation,
                                      evidence={"detail": evidence, "list": [evidence]})],
                    meta={"target": {"context": evidence}})
    xml = render_junit(report, strict=strict)
    ET.fromstring(xml.encode("utf-8"))  # what Jenkins' junit step needs: it parses
    suite = next(iter(junitparser.JUnitXml.fromstring(xml.encode("utf-8"))))
    assert len(list(suite)) == 1
    for text in (render_table(report, strict=strict), render_markdown(report, strict=strict)):
        assert not _C0_BUT_TAB_LF.search(text), repr(text)
        text.encode("utf-8")  # no lone surrogate left to break the file write
    doc = json.loads(render_json(report, strict=strict))
    assert "\n" not in doc["checks"][0]["message"] and not _C0_BUT_TAB_LF.search(doc["checks"][0]["message"])


def test_evidence_keeps_its_line_breaks() -> None:
    role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
    report = Report(findings=[Finding(id="auth.permissions", outcome=Outcome.FAIL, message="m", evidence={"role": role})])
    assert json.loads(render_json(report))["checks"][0]["evidence"]["role"] == role


def _jwt() -> str:
    part = lambda doc: base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")  # noqa: E731
    return f"{part({'alg': 'RS256'})}.{part({'sub': 'system:serviceaccount:ci:jenkins'})}.{secrets.token_urlsafe(32)}"


@given(st.sampled_from(["jwt", "urlsafe", "hex", "b64"]), st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=30))
def test_token_shaped_text_is_scrubbed_wherever_it_sits(kind: str, around: str) -> None:
    token = {"jwt": _jwt(), "urlsafe": "sha256~" + secrets.token_urlsafe(32) + "Aa1", "hex": secrets.token_hex(24),
             "b64": base64.b64encode(secrets.token_bytes(30)).decode() + "aA1"}[kind]
    assert token not in scrub_secrets(f"{around} {token} {around}")


@pytest.mark.parametrize("text", ["error: could not get token: exit status 1", "/usr/local/bin/kubectl-oidc_login not found",
                                  "Unable to connect to https://login.example.com/oauth2/v2.0/token (timeout)"])
def test_ordinary_error_lines_are_kept(text: str) -> None:
    assert scrub_secrets(text) == text


def test_an_exec_plugin_printing_colour_and_its_token_on_stderr_leaks_neither(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its last stderr line went into the report, 12 times in the JUnit file, colour codes
    (invalid XML) and token included."""
    token = _jwt()
    plugin = tmp_path / "bad-plugin"
    plugin.write_text(f"#!/bin/sh\nprintf '\\033[31mrefresh failed\\033[0m for token {token}\\n' >&2\nexit 1\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    doc = kubeconfig_doc(server="https://127.0.0.1:9")
    doc["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),  # type: ignore[index]
                                        "interactiveMode": "Never"}}
    config = write_kubeconfig(tmp_path / "config", doc)
    junit, markdown = tmp_path / "r.xml", tmp_path / "r.md"
    code = main(["check", "--kubeconfig", str(config), "--junit", str(junit), "--markdown", str(markdown), "-o", "json"])
    out, err = capsys.readouterr()
    written = junit.read_text() + markdown.read_text()
    assert code == 1
    assert token not in out + err + written and token.split(".")[2] not in out + err + written
    assert "refresh failed" in out and "[redacted]" in out  # the line is still useful
    ET.fromstring(junit.read_bytes())
    assert "\x1b" not in out + written
    assert oct(os.stat(junit).st_mode & 0o777) == "0o644"
