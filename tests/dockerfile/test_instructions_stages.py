"""A whole Dockerfile: directives, global ARGs, stages split at FROM, and the structure errors."""

from __future__ import annotations

import pytest

from dockwright.dockerfile import Arg, Copy, Dockerfile, From, Run, parse_dockerfile
from dockwright.errors import DockerfileError

MULTISTAGE = """\
# syntax=docker/dockerfile:1
# escape=\\
ARG GO_VERSION=1.22
ARG BASE
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \\
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app .

FROM build AS test
RUN go test ./...

FROM ${BASE:-scratch}
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
"""


def test_stages_and_global_args() -> None:
    dockerfile = parse_dockerfile(MULTISTAGE, "ci/Dockerfile")
    assert isinstance(dockerfile, Dockerfile)
    assert dockerfile.file == "ci/Dockerfile"
    assert dockerfile.directive("syntax") == "docker/dockerfile:1"
    assert dockerfile.directive("check") is None
    assert dockerfile.escape == "\\"
    assert [a.args[0].name for a in dockerfile.global_args] == ["GO_VERSION", "BASE"]
    assert [(s.index, s.name, s.base) for s in dockerfile.stages] == [
        (0, "build", "golang:${GO_VERSION}"),
        (1, "test", "build"),
        (2, None, "${BASE:-scratch}"),
    ]
    build = dockerfile.stages[0]
    assert [type(i) for i in build.instructions] == [Arg, Run]
    assert isinstance(dockerfile.stages[2].instructions[0], Copy)
    assert len(dockerfile.instructions) == 10
    assert sum(isinstance(i, From) for i in dockerfile.instructions) == 3
    assert dockerfile.stage("BUILD") is build
    assert dockerfile.stage("2") is dockerfile.stages[2]
    assert dockerfile.stage("nope") is None
    assert dockerfile.stage("7") is None
    assert dockerfile.parsed is not None
    assert dockerfile.parsed.line_text(5).startswith("FROM --platform")


def test_only_arg_may_come_before_from() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile("ARG A\n\n  RUN x\nFROM a\n", "df")
    error = caught.value
    assert (error.file, error.line, error.column) == ("df", 3, 3)
    assert "no build stage in current context" in error.message
    assert error.hint == "only ARG may come before the first FROM"


def test_a_dockerfile_needs_a_from() -> None:
    with pytest.raises(DockerfileError, match="dockerfile contains no stages to build") as caught:
        parse_dockerfile("ARG A\nARG B\n")
    assert caught.value.line == 2


def test_warnings_are_passed_on() -> None:
    dockerfile = parse_dockerfile("FROM a\nRUN x \\\n\n  y\n")
    assert len(dockerfile.warnings) == 1


def test_errors_from_any_stage_are_located() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile("FROM a\nRUN x\nFROM b\nCOPY --frm=a x y\n")
    assert (caught.value.line, caught.value.column) == (4, 6)
    assert caught.value.hint == "did you mean --from?"
