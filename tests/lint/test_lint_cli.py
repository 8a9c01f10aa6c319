"""``dockwright lint``: formats, exit codes, located errors and ``--fix``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockwright.cli import main

CHMOD = """\
FROM alpine:3.20
COPY run.sh /usr/local/bin/run.sh
RUN chmod 0755 /usr/local/bin/run.sh
ENTRYPOINT ["/usr/local/bin/run.sh"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    (tmp_path / ".dockerignore").write_text(".git\n")
    return path


def test_exit_codes_follow_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, CHMOD)
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:3 DW002 warning:" in out
    assert main(["lint", str(path), "--fail-on", "error"]) == 0
    assert main(["lint", str(path), "--fail-on", "never"]) == 0
    clean = _write(tmp_path, 'FROM alpine:3.20\nCMD ["true"]\n')
    capsys.readouterr()
    assert main(["lint", str(clean)]) == 0
    assert capsys.readouterr().out == ""


def test_json_output_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, CHMOD)
    main(["lint", str(path), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["findings"]
    (finding,) = [f for f in data["findings"] if f["rule"] == "DW002"]
    assert set(finding) == {
        "rule",
        "severity",
        "file",
        "line",
        "end_line",
        "stage",
        "message",
        "fix",
    }
    assert finding["line"] == 3
    assert finding["stage"] == "0"
    assert finding["severity"] == "warning"


def test_sarif_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, CHMOD)
    main(["lint", str(path), "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    run = log["runs"][0]
    assert any(r["id"] == "DW002" for r in run["tool"]["driver"]["rules"])
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3


def test_syntax_error_is_located_with_a_caret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "FROM alpine\nRUN --mount=type=cahce,target=/x make\n")
    assert main(["lint", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:13: unsupported mount type" in err
    assert "2 | RUN --mount=type=cahce,target=/x make" in err
    assert "  |             ^" in err
    assert "Traceback" not in err


def test_missing_file_and_bad_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(tmp_path / "nope")]) == 2
    path = _write(tmp_path, CHMOD)
    assert main(["lint", str(path), "--context", str(tmp_path / "nope")]) == 2
    assert main(["lint", str(path), "--target", "nope"]) == 2
    assert "could not be found" in capsys.readouterr().err


def test_fix_turns_run_chmod_into_copy_chmod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, CHMOD)
    assert main(["lint", str(path), "--fix"]) == 0
    out = capsys.readouterr().out
    assert "-RUN chmod 0755 /usr/local/bin/run.sh" in out
    assert "+COPY --chmod=0755 run.sh /usr/local/bin/run.sh" in out
    assert path.read_text() == (
        "FROM alpine:3.20\n"
        "COPY --chmod=0755 run.sh /usr/local/bin/run.sh\n"
        'ENTRYPOINT ["/usr/local/bin/run.sh"]\n'
    )
    assert main(["lint", str(path), "--fix"]) == 0
    assert "nothing to fix" in capsys.readouterr().err


def test_pyproject_settings_and_inline_ignores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, 'FROM alpine\n# dockwright ignore=DW105\nCMD run\nCMD ["x"]\n')
    main(["lint", str(path), "--format", "json", "--fail-on", "never"])
    rules = {(f["rule"], f["line"]) for f in json.loads(capsys.readouterr().out)["findings"]}
    assert ("DW105", 3) not in rules
    assert ("DW101", 1) in rules
    assert ("DW108", 3) in rules
    (tmp_path / "pyproject.toml").write_text(
        '[tool.dockwright.lint]\ndisable = ["DW101"]\nseverity = {DW108 = "error"}\n'
    )
    assert main(["lint", str(path), "--format", "json", "--fail-on", "error"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert {(f["rule"], f["severity"]) for f in findings} == {("DW108", "error")}
    (tmp_path / "pyproject.toml").write_text("[tool.dockwright.lint]\ndisable = 3\n")
    assert main(["lint", str(path)]) == 2
    assert "must be a list" in capsys.readouterr().err


def test_stdin_and_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    text = "FROM alpine:3.20 AS build\nUSER root\nFROM alpine:3.20\nUSER 1000\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["lint", "-"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["lint", "-", "--target", "build"]) == 1
    assert "<stdin>:2 DW107 warning" in capsys.readouterr().out
