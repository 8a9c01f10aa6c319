"""BuildKit's parser vectors: 33 dumps, 4 rejected files and the line-number file.

The vectors are BuildKit's own (``frontend/dockerfile/parser/testfiles*``), read from the
shared conformance folder. ``result`` is ``Node.Dump()`` of the whole AST plus a newline;
the expected line ranges of ``testfile-line`` come from BuildKit's
``TestParseIncludesLineNumbers`` (the file itself carries no comments saying so).
"""

from __future__ import annotations

import pytest

from dockwright.dockerfile import dump, parse
from dockwright.errors import DockerfileError
from support import conformance_dir

POSITIVE = (
    "ADD-COPY-with-JSON",
    "args",
    "brimstone-consuldock",
    "brimstone-docker-consul",
    "continue-at-eof",
    "continueIndent",
    "cpuguy83-nagios",
    "docker",
    "env",
    "escape",
    "escape-after-comment",
    "escape-nonewline",
    "escape-with-syntax",
    "escapes",
    "flags",
    "health",
    "influxdb",
    "jeztah-invalid-json-json-inside-string",
    "jeztah-invalid-json-json-inside-string-double",
    "jeztah-invalid-json-single-quotes",
    "jeztah-invalid-json-unterminated-bracket",
    "jeztah-invalid-json-unterminated-string",
    "json",
    "kartar-entrypoint-oddities",
    "lk4d4-the-edge-case-generator",
    "mail",
    "multiple-volumes",
    "mumble",
    "nginx",
    "tf2",
    "trailing-backslash",
    "weechat",
    "znc",
)
NEGATIVE = ("empty_dockerfile", "env_no_value", "only_comments", "shykes-nested-json")


def test_the_vector_folders_are_the_ones_pinned_here() -> None:
    root = conformance_dir()
    assert tuple(sorted(p.name for p in (root / "testfiles").iterdir())) == tuple(sorted(POSITIVE))
    assert tuple(sorted(p.name for p in (root / "testfiles-negative").iterdir())) == NEGATIVE


@pytest.mark.parametrize("case", POSITIVE)
def test_dump_matches_buildkit(case: str) -> None:
    folder = conformance_dir() / "testfiles" / case
    result = parse((folder / "Dockerfile").read_bytes(), f"{case}/Dockerfile")
    assert dump(result) == (folder / "result").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", NEGATIVE)
def test_negative_case_is_rejected_with_a_location(case: str) -> None:
    folder = conformance_dir() / "testfiles-negative" / case
    with pytest.raises(DockerfileError) as caught:
        parse((folder / "Dockerfile").read_bytes(), f"{case}/Dockerfile")
    assert caught.value.file == f"{case}/Dockerfile"
    assert caught.value.line >= 1


def test_negative_cases_say_why() -> None:
    root = conformance_dir() / "testfiles-negative"
    messages = {}
    for case in NEGATIVE:
        with pytest.raises(DockerfileError) as caught:
            parse((root / case / "Dockerfile").read_bytes(), case)
        messages[case] = (caught.value.line, caught.value.column, str(caught.value))
    assert "file with no instructions" in messages["empty_dockerfile"][2]
    assert "file with no instructions" in messages["only_comments"][2]
    assert messages["env_no_value"][:2] == (3, 5)
    assert "ENV must have two arguments" in messages["env_no_value"][2]
    assert messages["shykes-nested-json"][:2] == (1, 5)
    assert "arrays must be comprised of strings only" in messages["shykes-nested-json"][2]


def test_line_numbers_match_buildkit() -> None:
    result = parse((conformance_dir() / "testfile-line" / "Dockerfile").read_bytes())
    assert [(node.start_line, node.end_line) for node in result.nodes] == [
        (5, 5),
        (11, 12),
        (17, 31),
    ]
    assert result.directives[0].name == "escape"
