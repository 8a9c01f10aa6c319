"""The planner against a real BuildKit (the test dockerd's): the stages a build runs and the
ARG/ENV values RUN sees are what :func:`build_graph` and :func:`stage_scope` predict.

Every stage prints ``ran-<name>``; RUN lines that print ``val:…`` are compared with the same
text expanded in the stage's scope. Docker 20.10's BuildKit predates ONBUILD dependencies,
the forward ``--from`` check and TARGETSTAGE, so those rules are tested without it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from dockwright.dockerfile import Run, parse_dockerfile
from dockwright.plan import build_graph, stage_scopes
from support import DockerDaemon

MULTISTAGE = """\
ARG G=global
FROM BB AS builder
ARG TARGETARCH
ARG G
RUN echo "val:builder:arch=[$TARGETARCH] g=[$G]" && echo ran-builder && echo data > /out
FROM BB AS unused
RUN echo ran-unused
FROM BB AS mounted
RUN echo ran-mounted && echo data > /m
FROM builder AS tools
ENV E=env
ARG X=x1
RUN echo "val:tools:X=[$X] E=[$E] arch=[$TARGETARCH]" && echo ran-tools
FROM tools AS final
COPY --from=0 /out /out
ARG TARGETPLATFORM
RUN --mount=from=mounted,target=/mnt cat /mnt/m /out && echo ran-final
RUN echo "val:final:X=[$X] E=[$E] arch=[$TARGETARCH] plat=[$TARGETPLATFORM] G=[$G]"
"""

SCOPES = """\
ARG TARGETPLATFORM=linux/fake
ARG V=global
FROM BB AS final
RUN echo "val:undeclared:[$TARGETARCH][$BUILDARCH][$TARGETPLATFORM][$V]" && echo ran-final
ARG TARGETARCH
ARG TARGETPLATFORM
ARG BUILDPLATFORM
ARG TARGETVARIANT
ARG V
ARG W=wdefault
RUN echo "val:declared:[$TARGETARCH][$TARGETPLATFORM][$BUILDPLATFORM][${TARGETVARIANT-unset}]"
RUN echo "val:args:[$V][$W]"
ENV A=env
ARG A=arg
ARG B=b1
ENV B=envb C=$B
RUN echo "val:order:[$A][$B][$C]"
"""

CASES = [
    ("default", MULTISTAGE, ()),
    ("target", MULTISTAGE, ("--target", "tools")),
    ("target-builder", MULTISTAGE, ("--target", "BUILDER")),
    (
        "build-args",
        MULTISTAGE,
        ("--build-arg", "X=cli", "--build-arg", "TARGETARCH=zzz", "--build-arg", "G=gcli"),
    ),
    ("scopes", SCOPES, ()),
    ("scopes-build-args", SCOPES, ("--build-arg", "W=wcli", "--build-arg", "V=vcli")),
    (
        "platform-override",
        SCOPES,
        ("--build-arg", "TARGETPLATFORM=linux/s390x", "--build-arg", "TARGETARCH=s390x"),
    ),
]
_OUTPUT = re.compile(r"^#\d+ \d+\.\d+ (.*)$")


def _build_arg_pairs(args: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    target = None
    build_args: dict[str, str] = {}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag == "--target":
            target = value
        else:
            key, _, val = value.partition("=")
            build_args[key] = val
    return target, build_args


@pytest.mark.docker
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_buildkit_runs_the_planned_stages_with_the_planned_values(
    dockerd: DockerDaemon,
    busybox_image: str,
    tmp_path: Path,
    case: tuple[str, str, tuple[str, ...]],
) -> None:
    _, template, args = case
    text = template.replace("BB", busybox_image)
    (tmp_path / "Dockerfile").write_text(text)
    result = dockerd.buildkit_build(tmp_path, "--no-cache", *args)
    printed = [m.group(1) for line in result.stderr.splitlines() if (m := _OUTPUT.match(line))]
    ran = {line.removeprefix("ran-") for line in printed if line.startswith("ran-")}
    values = Counter(line for line in printed if line.startswith("val:"))

    target, build_args = _build_arg_pairs(args)
    dockerfile = parse_dockerfile(text)
    graph = build_graph(dockerfile, target=target, build_args=build_args)
    assert ran == {graph.stages[i].display_name for i in graph.reachable}, result.stderr

    expected: Counter[str] = Counter()
    for scope in stage_scopes(graph, dockerfile):
        if not graph.runs(scope.stage):
            continue
        for step in scope.steps:
            command = step.instruction.command.shell if isinstance(step.instruction, Run) else None
            if command and command.startswith('echo "val:'):
                echoed = command.removeprefix("echo ").split(" && ")[0]
                expected[scope.expand(step.instruction, echoed).value] += 1
    assert values, result.stderr
    assert values == expected, result.stderr
