"""The stage graph: bases, COPY/mount/ONBUILD dependencies, the target, reachability, order,
and the located errors BuildKit gives while planning."""

from __future__ import annotations

import pytest

from dockwright.dockerfile import parse_dockerfile
from dockwright.errors import DockerfileError
from dockwright.image.platform import Platform
from dockwright.plan import BuildGraph, build_graph

AMD64 = Platform.parse("linux/amd64")


def plan(text: str, **kwargs: object) -> BuildGraph:
    kwargs.setdefault("build_platform", AMD64)
    return build_graph(parse_dockerfile(text), **kwargs)  # type: ignore[arg-type]


def plan_error(text: str, **kwargs: object) -> DockerfileError:
    with pytest.raises(DockerfileError) as info:
        plan(text, **kwargs)
    return info.value


GO_MULTISTAGE = """\
ARG GO=1.23
FROM --platform=$BUILDPLATFORM golang:${GO} AS build
ARG TARGETOS TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app

FROM alpine:3.20 AS debug
RUN apk add curl

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
"""


def test_builder_copied_from_runs_but_is_not_the_final_image() -> None:
    graph = plan(GO_MULTISTAGE)
    assert graph.target == 2
    assert graph.reachable == {0, 2}
    assert graph.order == (0, 2)
    assert graph.final_chain == (2,)
    build, debug, final = graph.stages
    assert (build.name, build.base, build.base_stage) == ("build", "golang:1.23", None)
    assert build.platform == "linux/amd64"
    assert build.from_args == ("BUILDPLATFORM", "GO")
    assert (build.start_line, build.end_line) == (2, 4)
    assert final.copies_from == (0,)
    assert final.depends_on == (0,)
    assert (final.base, final.name, final.display_name) == ("scratch", None, "stage-2")
    assert not graph.runs(debug.index)


def test_unused_stage_is_skipped_and_target_selects_it() -> None:
    graph = plan(GO_MULTISTAGE, target="debug")
    assert graph.target == 1
    assert graph.reachable == {1}
    assert graph.order == (1,)
    assert graph.final_chain == (1,)
    assert graph.args["TARGETSTAGE"] == "debug"


def test_target_is_case_insensitive() -> None:
    assert plan(GO_MULTISTAGE, target="DeBuG").target == 1


def test_from_stage_chain_is_the_final_image() -> None:
    graph = plan(
        "FROM alpine AS base\nRUN apk add git\n"
        "FROM base AS tools\nRUN git --version\n"
        "FROM alpine AS other\n"
        "FROM tools\nRUN echo done\n"
    )
    assert graph.final_chain == (3, 1, 0)
    assert graph.reachable == {0, 1, 3}
    assert graph.order == (0, 1, 3)
    assert graph.stages[1].base_stage == 0
    assert graph.stages[3].base_stage == 1
    assert graph.stages[3].depends_on == (1,)


def test_run_mount_from_a_stage_is_a_dependency() -> None:
    graph = plan(
        "FROM golang AS deps\nRUN go mod download\n"
        "FROM golang AS unused\n"
        "FROM golang\n"
        "RUN --mount=type=cache,target=/c --mount=from=deps,source=/go,target=/go "
        "--mount=type=tmpfs,target=/t --mount=type=bind,from=busybox:1.36,target=/bb go build\n"
    )
    final = graph.stages[2]
    assert final.mounts_from == (0,)
    assert final.copies_from == ()
    assert final.external_from == ("busybox:1.36",)
    assert graph.reachable == {0, 2}
    assert graph.final_chain == (2,)


def test_cache_mount_seeded_from_a_stage() -> None:
    graph = plan(
        "FROM alpine AS seed\nFROM alpine\nRUN --mount=type=cache,from=seed,target=/c ls\n"
    )
    assert graph.stages[1].mounts_from == (0,)
    assert graph.reachable == {0, 1}


def test_onbuild_of_a_base_stage_fires_in_the_child() -> None:
    text = (
        "FROM alpine AS dep\nRUN echo dep > /d\n"
        "FROM alpine AS mountdep\n"
        "FROM alpine AS base\n"
        "ONBUILD COPY --from=dep /d /d\n"
        "ONBUILD RUN --mount=from=mountdep,target=/m ls /m\n"
        "FROM base\nRUN cat /d\n"
    )
    graph = plan(text)
    assert graph.stages[3].onbuild_from == (0, 1)
    assert graph.stages[3].copies_from == ()
    assert graph.reachable == {0, 1, 2, 3}
    assert graph.order == (0, 1, 2, 3)
    # The triggers do not fire in the stage that declares them.
    assert plan(text, target="base").reachable == {2}


def test_onbuild_fires_only_in_the_immediate_child() -> None:
    graph = plan(
        "FROM alpine AS dep\n"
        "FROM alpine AS base\nONBUILD COPY --from=dep /d /d\n"
        "FROM alpine AS other\n"
        "FROM base AS child\n"
        "FROM child\n"
    )
    assert graph.stages[3].onbuild_from == (0,)
    assert graph.stages[4].onbuild_from == ()
    assert graph.reachable == {0, 1, 3, 4}


@pytest.mark.parametrize(
    ("reference", "expected"), [("0", 0), ("1", 1), ("+1", 1), ("01", 1), ("-0", 0)]
)
def test_numeric_copy_from_is_a_stage_index(reference: str, expected: int) -> None:
    graph = plan(f"FROM alpine\nFROM alpine AS two\nFROM scratch\nCOPY --from={reference} /a /a\n")
    assert graph.stages[2].copies_from == (expected,)
    assert graph.reachable == {expected, 2}


@pytest.mark.parametrize("reference", ["3", "-1", "99"])
def test_copy_from_index_out_of_range(reference: str) -> None:
    error = plan_error(f"FROM alpine\nFROM alpine\nFROM scratch\nCOPY --from={reference} /a /a\n")
    assert error.message == f"Dockerfile:4:13: invalid stage index {int(reference)}"
    assert error.hint == "stage indexes go from 0 to 2"


def test_copy_from_name_without_case_and_the_last_of_duplicates() -> None:
    graph = plan("FROM alpine AS a\nFROM alpine AS a\nFROM scratch\nCOPY --from=A /x /x\n")
    assert graph.stages[2].copies_from == (1,)
    assert graph.reachable == {1, 2}


def test_copy_from_an_image() -> None:
    graph = plan("FROM scratch\nCOPY --from=alpine:3.20 /etc/os-release /\n")
    assert graph.stages[0].external_from == ("alpine:3.20",)
    assert graph.stages[0].copies_from == ()


def test_from_a_later_stage_name_or_an_index_is_an_image() -> None:
    graph = plan("FROM later AS first\nFROM 0 AS second\nFROM alpine AS later\n", target="first")
    first, second, _ = graph.stages
    assert (first.base, first.base_stage) == ("later", None)
    assert (second.base, second.base_stage) == ("0", None)
    assert graph.reachable == {0}


def test_from_its_own_name_is_the_image() -> None:
    graph = plan("FROM alpine AS alpine\nRUN true\n")
    assert graph.stages[0].base_stage is None


def test_from_with_global_args() -> None:
    text = "ARG BASE=alpine\nARG TAG\nFROM ${BASE}:${TAG:-3.20} AS a\nFROM $BASE AS b\n"
    graph = plan(text)
    assert graph.stages[0].base == "alpine:3.20"
    assert graph.stages[0].from_args == ("BASE",)
    assert graph.stages[0].from_unset == ("TAG",)
    assert plan(text, build_args={"TAG": "3.19"}).stages[0].base == "alpine:3.19"
    assert plan(text, build_args={"BASE": "a"}).stages[1].base_stage == 0


def test_from_stage_named_by_an_arg() -> None:
    text = (
        "ARG VARIANT=slim\nFROM alpine AS base-slim\nFROM alpine AS base-full\n"
        "FROM base-${VARIANT}\n"
    )
    assert plan(text).reachable == {0, 2}
    assert plan(text, build_args={"VARIANT": "full"}).reachable == {1, 2}


def test_build_arg_not_declared_globally_is_not_visible_in_from() -> None:
    error = plan_error("FROM ${IMAGE}\n", build_args={"IMAGE": "alpine"})
    assert error.message == "Dockerfile:1:6: base name (${IMAGE}) should not be blank"


def test_global_arg_default_sees_earlier_args() -> None:
    graph = plan("ARG A=alp\nARG B=${A}ine\nFROM $B\n")
    assert graph.stages[0].base == "alpine"
    assert graph.args["B"] == "alpine"


def test_uppercase_stage_reference_in_from_is_an_invalid_image() -> None:
    error = plan_error("FROM alpine AS builder\nFROM Builder\n")
    assert error.line == 2
    assert error.column == 6
    assert 'failed to parse stage name "Builder"' in error.message
    assert "repository names must be lowercase" in error.message
    assert error.hint == "stage names are lowercase: write 'builder'"


def test_invalid_image_in_an_unused_stage_still_fails() -> None:
    error = plan_error("FROM Alpine AS unused\nFROM alpine\n")
    assert error.line == 1


def test_variable_in_copy_from_is_rejected() -> None:
    error = plan_error("ARG S=a\nFROM alpine AS a\nFROM scratch\nCOPY --from=$S /x /x\n")
    assert error.message.startswith(
        "Dockerfile:4:13: variable expansion is not supported for --from"
    )


def test_copy_from_itself_is_a_cycle() -> None:
    error = plan_error("FROM alpine AS a\nCOPY --from=a /x /x\n")
    assert error.message == "Dockerfile:2:13: circular dependency detected on stage: a"
    assert error.hint is not None and "a reads a (line 2)" in error.hint


def test_cycle_between_stages_fails_even_when_unused() -> None:
    error = plan_error(
        "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nCOPY --from=a /y /y\n"
        "FROM scratch\n"
    )
    assert "circular dependency detected on stage: a" in error.message
    assert error.line == 4


def test_copy_from_a_later_stage_fails_when_it_runs() -> None:
    text = "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nRUN touch /x\n"
    error = plan_error(text, target="a")
    assert error.message == (
        'Dockerfile:2:13: cannot copy from stage "b", it needs to be defined before current '
        'stage "a"'
    )
    # Nothing runs stage a when b is the target: BuildKit builds it.
    assert plan(text).reachable == {1}


def test_mount_from_a_later_stage_does_not_run_it() -> None:
    graph = plan(
        "FROM alpine AS a\nRUN --mount=from=b,target=/m ls /m\nFROM alpine AS b\n", target="a"
    )
    assert graph.stages[0].mounts_from == (1,)
    assert graph.stages[0].depends_on == ()
    assert graph.reachable == {0}


def test_bad_onbuild_trigger_fails_only_in_a_child_that_runs() -> None:
    text = "FROM alpine AS base\nONBUILD COPY --from=7 /x /x\nFROM base AS child\nFROM alpine\n"
    assert plan(text).reachable == {2}
    error = plan_error(text, target="child")
    assert error.message == "Dockerfile:2:21: invalid stage index 7"


def test_unknown_target_lists_the_stages() -> None:
    error = plan_error(GO_MULTISTAGE, target="bulid")
    assert error.message == 'Dockerfile:2:1: target stage "bulid" could not be found'
    assert error.hint == ("did you mean 'build'? the stages are: build (line 2), debug (line 6)")


def test_unknown_target_without_named_stages() -> None:
    error = plan_error("FROM alpine\n", target="x")
    assert error.hint is not None and "no stage has a name" in error.hint


def test_order_puts_dependencies_first_and_keeps_file_order() -> None:
    graph = plan(
        "FROM alpine AS a\nFROM alpine AS b\nCOPY --from=c /x /x\n"
        "FROM alpine AS c\nFROM alpine AS d\nCOPY --from=0 / /\n"
        "FROM scratch\nCOPY --from=d / /\nCOPY --from=c / /\n"
    )
    assert graph.reachable == {0, 2, 3, 4}
    assert graph.order == (0, 2, 3, 4)


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("FROM ${X:?required}\n", 'failed to process "${X:?required}": X: required', 1, 6),
        ("ARG P\nFROM --platform=$P alpine\n", "empty platform value from expression $P", 2, 17),
        (
            "FROM --platform=linux/nonsense alpine\n",
            "failed to parse platform linux/nonsense: unknown architecture",
            1,
            17,
        ),
        ("ARG A=${B:?nope}\nFROM alpine\n", 'failed to process "${B:?nope}": B: nope', 1, 7),
    ],
)
def test_from_line_errors_are_located(text: str, message: str, line: int, column: int) -> None:
    error = plan_error(text)
    assert message in error.message
    assert (error.line, error.column) == (line, column)


def test_stage_lookup_helpers() -> None:
    graph = plan(GO_MULTISTAGE)
    assert graph.stage("BUILD") is graph.stages[0]
    assert graph.stage(2) is graph.stages[2]
    assert graph.stage("nope") is None
    assert graph.stage(9) is None
    assert graph.target_stage is graph.stages[2]


def test_errors_point_at_the_from_value_not_an_earlier_match() -> None:
    error = plan_error("FROM alpine AS a\nCOPY --chown=app --from=a /a /a\n")
    assert (error.line, error.column) == (2, 25)
    error = plan_error("FROM alpine\nRUN --mount=target=/app,from=Bad make\n")
    assert (error.line, error.column) == (2, 30)
