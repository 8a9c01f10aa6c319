"""The lint engine: one parse, the stage graph, every rule, settings and inline ignores."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwright.errors import DockerfileError
from dockwright.lint.config import LintConfig
from dockwright.lint.engine import build_context, lint
from dockwright.lint.findings import Severity
from dockwright.lint.rules import ALL_RULES, rule_by_id

MULTISTAGE = """\
FROM golang:1.22 AS base
WORKDIR /src

FROM base AS build
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /out/app .

FROM alpine:3.20 AS final
COPY --from=build /out/app /usr/local/bin/app
ENTRYPOINT ["/usr/local/bin/app"]
"""


def test_final_chain_and_reachable_stages() -> None:
    ctx = build_context(MULTISTAGE)
    assert [s.label for s in ctx.final_chain] == ["final"]
    assert ctx.graph.reachable == {0, 1, 2}
    ctx = build_context(MULTISTAGE, target="build")
    assert [s.label for s in ctx.final_chain] == ["base", "build"]
    assert ctx.graph.reachable == {0, 1}


def test_steps_know_workdir_and_env() -> None:
    ctx = build_context("FROM scratch\nWORKDIR /a\nWORKDIR b\nENV X=1 Y=$X/2\nRUN true\n")
    last = ctx.steps[0][-1]
    assert last.workdir == "/a/b"
    # one ENV expands against the values before it (BuildKit): Y sees no X yet
    assert last.env == {"X": "1", "Y": "/2"}


def test_unknown_target_is_a_located_error() -> None:
    with pytest.raises(DockerfileError, match="could not be found"):
        build_context(MULTISTAGE, target="nope")


def test_bad_dockerfile_raises_a_located_error() -> None:
    with pytest.raises(DockerfileError) as info:
        lint("RUN echo hi\n", "Dockerfile")
    assert info.value.line == 1


def test_rules_are_data_with_unique_ids() -> None:
    ids = [r.id for r in ALL_RULES]
    names = [r.name for r in ALL_RULES]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    assert all(r.doc and r.name and r.id.startswith("DW") for r in ALL_RULES)
    assert rule_by_id("DW001") is rule_by_id("cleanup-in-later-layer")


def test_inline_ignore_and_config() -> None:
    text = "FROM alpine\n# dockwright ignore=DW101\nFROM alpine AS two\n"
    found = {(f.rule, f.line) for f in lint(text)}
    assert ("DW101", 1) in found
    assert ("DW101", 3) not in found
    config = LintConfig(disabled=frozenset({"DW101"}), severities={"DW117": Severity.ERROR})
    assert all(f.rule != "DW101" for f in lint(text, config=config))


def test_findings_are_sorted_and_unique(tmp_path: Path) -> None:
    text = "FROM alpine\nRUN apk add curl\nRUN sudo apk add git\n"
    findings = lint(text)
    assert findings == sorted(
        findings, key=lambda f: (f.file, f.line, f.end_line, f.rule, f.message)
    )
    assert len(findings) == len(set(findings))
