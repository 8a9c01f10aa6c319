"""BuildKit's automatic platform ARGs: their values, where they are visible, what overrides
them (BUILDKIT-SEMANTICS.md, "Automatic platform ARGs")."""

from __future__ import annotations

import pytest

from dockwright.dockerfile import parse_dockerfile
from dockwright.image.platform import Platform
from dockwright.plan import AUTOMATIC_ARGS, build_graph, platform_args, stage_scope
from dockwright.plan import graph as graph_module

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")


@pytest.mark.parametrize(
    ("target", "platform", "os", "arch", "variant"),
    [
        ("linux/amd64", "linux/amd64", "linux", "amd64", ""),
        ("linux/amd64/v1", "linux/amd64", "linux", "amd64", ""),
        ("linux/amd64/v3", "linux/amd64/v3", "linux", "amd64", "v3"),
        ("linux/arm64", "linux/arm64", "linux", "arm64", ""),
        ("linux/arm64/v8", "linux/arm64", "linux", "arm64", ""),
        ("linux/arm", "linux/arm/v7", "linux", "arm", "v7"),
        ("linux/arm/v7", "linux/arm/v7", "linux", "arm", "v7"),
        ("linux/arm/v6", "linux/arm/v6", "linux", "arm", "v6"),
        ("aarch64", "linux/arm64", "linux", "arm64", ""),
        ("linux/s390x", "linux/s390x", "linux", "s390x", ""),
        ("windows/amd64", "windows/amd64", "windows", "amd64", ""),
    ],
)
def test_target_platform_values(
    target: str, platform: str, os: str, arch: str, variant: str
) -> None:
    args = platform_args(Platform.parse(target), AMD64, "final")
    assert args["TARGETPLATFORM"] == platform
    assert (args["TARGETOS"], args["TARGETARCH"], args["TARGETVARIANT"]) == (os, arch, variant)
    assert args["TARGETOSVERSION"] == ""


@pytest.mark.parametrize(
    ("build", "platform", "arch", "variant"),
    [
        ("linux/amd64", "linux/amd64", "amd64", ""),
        ("linux/arm64/v8", "linux/arm64", "arm64", ""),
        ("linux/arm/v7", "linux/arm/v7", "arm", "v7"),
    ],
)
def test_build_platform_values(build: str, platform: str, arch: str, variant: str) -> None:
    args = platform_args(AMD64, Platform.parse(build), "x")
    assert args["BUILDPLATFORM"] == platform
    assert (args["BUILDOS"], args["BUILDARCH"], args["BUILDVARIANT"]) == ("linux", arch, variant)
    assert args["BUILDOSVERSION"] == ""


def test_every_automatic_arg_is_set_and_os_version_shows_in_targetplatform() -> None:
    windows = Platform("windows", "amd64", os_version="10.0.17763.1")
    args = platform_args(windows, windows, "")
    assert tuple(args) == AUTOMATIC_ARGS
    assert args["TARGETPLATFORM"] == "windows(10.0.17763.1)/amd64"
    assert args["BUILDPLATFORM"] == "windows/amd64"
    assert args["TARGETOSVERSION"] == args["BUILDOSVERSION"] == "10.0.17763.1"
    assert args["TARGETSTAGE"] == "default"


@pytest.mark.parametrize(
    ("text", "target", "stage"),
    [
        ("FROM alpine AS build\nFROM scratch AS final\n", None, "final"),
        ("FROM alpine AS build\nFROM scratch AS final\n", "build", "build"),
        ("FROM alpine AS build\nFROM scratch AS final\n", "BUILD", "BUILD"),
        ("FROM alpine AS build\nFROM scratch\n", None, "default"),
        ("FROM alpine\n", None, "default"),
    ],
)
def test_targetstage(text: str, target: str | None, stage: str) -> None:
    graph = build_graph(parse_dockerfile(text), target=target, build_platform=AMD64)
    assert graph.args["TARGETSTAGE"] == stage


def test_without_platform_target_and_build_are_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_module, "host_platform", lambda: ARM64)
    graph = build_graph(parse_dockerfile("FROM alpine\n"))
    assert graph.args["TARGETPLATFORM"] == graph.args["BUILDPLATFORM"] == "linux/arm64"
    assert graph.target_platform == graph.build_platform == "linux/arm64"


def test_target_platform_defaults_to_the_build_platform() -> None:
    graph = build_graph(parse_dockerfile("FROM alpine\n"), build_platform=ARM64)
    assert graph.args["TARGETARCH"] == "arm64"
    graph = build_graph(
        parse_dockerfile("FROM alpine\n"), build_platform=ARM64, target_platform=AMD64
    )
    assert (graph.args["TARGETARCH"], graph.args["BUILDARCH"]) == ("amd64", "arm64")


# Each case: global lines, the automatic ARG's name, the stage's own declaration, --build-arg
# values, then the value the FROM line sees and the value a RUN in the stage sees (None:
# unset). Target linux/arm64, built on linux/amd64, the stage is called "final".
CASES = [
    ("", "TARGETARCH", "", {}, "arm64", None),
    ("", "TARGETARCH", "ARG TARGETARCH", {}, "arm64", "arm64"),
    ("", "TARGETOS", "ARG TARGETOS", {}, "linux", "linux"),
    ("", "BUILDARCH", "ARG BUILDARCH", {}, "amd64", "amd64"),
    ("", "BUILDPLATFORM", "", {}, "linux/amd64", None),
    ("", "TARGETSTAGE", "ARG TARGETSTAGE", {}, "final", "final"),
    ("", "TARGETARCH", "ARG TARGETARCH", {"TARGETARCH": "zzz"}, "zzz", "zzz"),
    ("", "TARGETARCH", "", {"TARGETARCH": "zzz"}, "zzz", None),
    ("ARG TARGETARCH", "TARGETARCH", "ARG TARGETARCH", {}, "arm64", "arm64"),
    ("ARG TARGETARCH=fixed", "TARGETARCH", "ARG TARGETARCH", {}, "fixed", "fixed"),
    ("", "TARGETARCH", "ARG TARGETARCH=mine", {}, "arm64", "mine"),
    ("", "TARGETARCH", "ARG TARGETARCH=mine", {"TARGETARCH": "cli"}, "cli", "cli"),
    (
        "ARG TARGETPLATFORM=linux/amd64",
        "TARGETPLATFORM",
        "ARG TARGETPLATFORM",
        {},
        "linux/amd64",
        "linux/amd64",
    ),
    (
        "ARG TARGETPLATFORM=linux/amd64",
        "TARGETPLATFORM",
        "ARG TARGETPLATFORM",
        {"TARGETPLATFORM": "linux/s390x"},
        "linux/s390x",
        "linux/s390x",
    ),
    ("ARG TARGETPLATFORM=linux/amd64", "TARGETPLATFORM", "", {}, "linux/amd64", None),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_automatic_arg_scope(
    case: tuple[str, str, str, dict[str, str], str, str | None],
) -> None:
    globals_, name, decl, build_args, in_from, in_run = case
    text = f"{globals_}\nFROM img/${{{name}}} AS final\n{decl}\nRUN echo ${name}\n"
    dockerfile = parse_dockerfile(text)
    graph = build_graph(
        dockerfile, build_args=build_args, target_platform=ARM64, build_platform=AMD64
    )
    assert graph.stages[0].base == f"img/{in_from}".lower()
    assert graph.stages[0].from_args == (name,)
    run = stage_scope(graph, dockerfile, 0).steps[-1]
    assert run.env.get(name) == in_run
    assert (name in run.used) == (in_run is not None)
    assert (name in run.unset) == (in_run is None)


def test_global_default_does_not_change_the_platform_built() -> None:
    graph = build_graph(
        parse_dockerfile("ARG TARGETPLATFORM=linux/amd64\nFROM alpine\n"),
        target_platform=ARM64,
        build_platform=AMD64,
    )
    assert graph.args["TARGETPLATFORM"] == "linux/amd64"
    assert graph.target_platform == "linux/arm64"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("$BUILDPLATFORM", "linux/amd64"), ("$TARGETPLATFORM", "linux/arm64"), ("linux/386", None)],
)
def test_from_platform_flag_expands(platform: str, expected: str | None) -> None:
    graph = build_graph(
        parse_dockerfile(f"FROM --platform={platform} golang AS build\n"),
        target_platform=ARM64,
        build_platform=AMD64,
    )
    assert graph.stages[0].platform == (expected or platform)


def test_variant_is_set_but_empty() -> None:
    text = (
        "FROM alpine\nARG TARGETVARIANT\nRUN echo ${TARGETVARIANT-unset} ${TARGETVARIANT:-none}\n"
    )
    dockerfile = parse_dockerfile(text)
    graph = build_graph(dockerfile, target_platform=ARM64, build_platform=AMD64)
    scope = stage_scope(graph, dockerfile, 0)
    run = scope.steps[-1]
    assert run.env["TARGETVARIANT"] == ""
    assert scope.expand(run.instruction, "[${TARGETVARIANT-unset}]").value == "[]"
    arm = build_graph(
        dockerfile, target_platform=Platform.parse("linux/arm/v7"), build_platform=AMD64
    )
    assert stage_scope(arm, dockerfile, 0).steps[-1].env["TARGETVARIANT"] == "v7"
