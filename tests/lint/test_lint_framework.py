"""Lint findings, their formats, configuration files and inline ignores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockwright.errors import UsageError
from dockwright.lint.config import drop_ignored, inline_ignores, load_config
from dockwright.lint.findings import (
    Finding,
    Rule,
    Severity,
    render_json,
    render_sarif,
    render_text,
    sort_findings,
)

F1 = Finding("DW001", Severity.WARNING, "Dockerfile", 7, 9, "cleanup frees nothing", "final", "x")
F2 = Finding("DW002", Severity.ERROR, "Dockerfile", 3, 3, "source outside context")


def test_json_shape_is_the_documented_one() -> None:
    data = json.loads(render_json([F1]))
    assert data == {
        "findings": [
            {
                "rule": "DW001",
                "severity": "warning",
                "file": "Dockerfile",
                "line": 7,
                "end_line": 9,
                "stage": "final",
                "message": "cleanup frees nothing",
                "fix": "x",
            }
        ]
    }


def test_text_and_order() -> None:
    ordered = sort_findings([F1, F2])
    assert ordered == [F2, F1]
    text = render_text(ordered)
    assert text.splitlines()[0] == "Dockerfile:3 DW002 error: source outside context"
    assert "    fix: x" in text


def test_sarif_lists_rules_and_results() -> None:
    rule: Rule[object] = Rule("DW001", "useless-cleanup", Severity.WARNING, "doc", lambda _c: [])
    log = json.loads(render_sarif([F1], [rule]))
    run = log["runs"][0]
    assert run["tool"]["driver"]["rules"][0]["id"] == "DW001"
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 7
    assert log["version"] == "2.1.0"


def test_severity_parse() -> None:
    assert Severity.parse("Error") is Severity.ERROR
    assert Severity.WARNING < Severity.ERROR
    with pytest.raises(UsageError):
        Severity.parse("fatal")


def test_config_from_pyproject_and_dockwright_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.dockwright.lint]\ndisable = ["DW001"]\nseverity = {DW002 = "info"}\n'
    )
    sub = tmp_path / "svc"
    sub.mkdir()
    config = load_config(sub)
    assert config.disabled == {"DW001"}
    assert config.apply([F1, F2]) == [
        Finding("DW002", Severity.INFO, "Dockerfile", 3, 3, "source outside context")
    ]
    (sub / ".dockwright.toml").write_text('[lint]\ndisable = ["DW002"]\n')
    assert load_config(sub).disabled == {"DW002"}
    (sub / ".dockwright.toml").write_text("[lint]\ndisable = 3\n")
    with pytest.raises(UsageError, match="disable"):
        load_config(sub)


def test_inline_ignore_covers_its_line_and_the_next() -> None:
    lines = ["FROM x", "# dockwright ignore=DW002, DW001", "RUN a", "RUN b"]
    ignores = inline_ignores(lines)
    at3 = Finding("DW001", Severity.WARNING, "Dockerfile", 3, 3, "m")
    at4 = Finding("DW001", Severity.WARNING, "Dockerfile", 4, 4, "m")
    assert drop_ignored([at3, at4], ignores) == [at4]
