"""BuildKit's own expansion vectors (envVarTest, wordsTest), read from the conformance folder.

envVarTest lines are ``PLATFORM|input|expected``: ``A`` lines run on every platform, ``U`` on
unix and ``W`` on Windows (where variable names compare case-insensitively); ``error`` means
the expansion must fail. wordsTest sets variables with ``ENV`` lines and gives
``input | comma-joined words``. Both are parsed the way BuildKit's lex_test.go parses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from dockwright.dockerfile.shell import ExpansionError, Lexer
from support import conformance_dir

# The environment BuildKit's TestShellParser4EnvVars runs envVarTest with.
ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


@dataclass(frozen=True)
class EnvVarCase:
    line: int
    platform: str
    source: str
    expected: str


@dataclass(frozen=True)
class WordsCase:
    line: int
    source: str
    env: dict[str, str]
    expected: list[str]


def _env_var_cases(folder: Path) -> list[EnvVarCase]:
    cases = []
    text = (folder / "envVarTest").read_text(encoding="utf-8")
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        platform, source, expected = (part.strip() for part in line.split("|"))
        assert platform in {"A", "U", "W"}, f"envVarTest:{number}: bad platform {platform!r}"
        cases.append(EnvVarCase(number, platform, source, expected))
    return cases


def _words_cases(folder: Path) -> list[WordsCase]:
    cases = []
    env: dict[str, str] = {}
    text = (folder / "wordsTest").read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            continue
        if line.startswith("ENV "):
            name, _, value = line[3:].lstrip(" ").partition("=")
            env[name] = value
            continue
        source, expected = line.split("|")
        cases.append(WordsCase(number, source.strip(), dict(env), expected.lstrip(" ").split(",")))
    return cases


def _expand_or_error(lexer: Lexer, source: str) -> str:
    try:
        return lexer.expand(source, ENV_VAR_TEST_ENV)
    except ExpansionError:
        return "error"


@pytest.mark.parametrize("windows", [False, True], ids=["unix", "windows"])
def test_env_var_test(windows: bool) -> None:
    platforms = {"A", "W"} if windows else {"A", "U"}
    cases = [case for case in _env_var_cases(conformance_dir()) if case.platform in platforms]
    lexer = Lexer(windows=windows)
    failures = [
        f"envVarTest:{case.line}: {case.source!r} gave {got!r}, expected {case.expected!r}"
        for case in cases
        if (got := _expand_or_error(lexer, case.source)) != case.expected
    ]
    assert not failures, "\n".join(failures)
    # Every line of the file counted: 226 A lines, and 2 U (or 2 W) lines.
    assert len(cases) == 228


def test_env_var_test_has_the_expected_lines() -> None:
    cases = _env_var_cases(conformance_dir())
    counts = {p: sum(case.platform == p for case in cases) for p in "AUW"}
    assert counts == {"A": 226, "U": 2, "W": 2}


def test_words_test() -> None:
    cases = _words_cases(conformance_dir())
    assert len(cases) == 24
    lexer = Lexer()
    failures = []
    for case in cases:
        try:
            got = lexer.expand_words(case.source, case.env)
        except ExpansionError:
            got = ["error"]
        if got != case.expected:
            failures.append(f"wordsTest:{case.line}: {case.source!r} gave {got!r}")
    assert not failures, "\n".join(failures)


def test_words_test_keeps_trailing_spaces_of_env_lines() -> None:
    # The file warns that its ENV trailing= line must keep 3 trailing spaces; make sure the
    # reader did not strip them (the expected words depend on it).
    cases = _words_cases(conformance_dir())
    assert any(case.env.get("trailing") == "ab c   " for case in cases)
