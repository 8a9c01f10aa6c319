"""``dockwright outline``: stages, bases, args, which stages run; text and JSON; errors
with the source line and a caret, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_dockwright

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

PER_ARCH = """\
FROM alpine AS base-amd64
FROM alpine AS base-arm64
FROM base-$TARGETARCH
"""


def write(tmp_path: Path, text: str, name: str = "Dockerfile") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_text_outline(tmp_path: Path) -> None:
    path = write(tmp_path, GO_MULTISTAGE)
    result = run_dockwright("outline", "-f", path, "--platform", "linux/arm64")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"{path}: 3 stages, target #2 (unnamed), platform linux/arm64 (built on ")
    build_block = out.split("#0 build  (lines 2-4)\n")[1].split("#1 debug")[0]
    assert "    base:      golang:1.23 (image)\n" in build_block
    assert "    args:      BUILDPLATFORM, GO, TARGETARCH, TARGETOS\n" in build_block
    assert "    needs:     -\n" in build_block
    assert "    runs:      yes\n" in build_block
    assert "    platform:  linux/arm64 (the target platform)\n" in out
    assert "    runs:      skipped: not needed by target stage-2\n" in out
    assert "    base:      scratch (empty)\n" in out
    assert "    needs:     #0 build (COPY --from)\n" in out
    assert "    runs:      yes (target)\n" in out
    assert out.rstrip().endswith("build order: #0 build -> #2 (unnamed)")


def test_json_outline_with_target(tmp_path: Path) -> None:
    path = write(tmp_path, GO_MULTISTAGE)
    result = run_dockwright(
        "outline", "-f", path, "--format", "json", "--target", "debug", "--platform", "linux/amd64"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["target"] == 1
    assert doc["order"] == [1]
    assert doc["platform"] == "linux/amd64"
    assert doc["args"]["TARGETSTAGE"] == "debug"
    build, debug, final = doc["stages"]
    assert {"index", "name", "base", "base_stage", "platform", "args", "depends_on", "runs"} <= set(
        build
    )
    assert build["args"] == ["BUILDPLATFORM", "GO", "TARGETARCH", "TARGETOS"]
    assert build["platform"] == "linux/amd64"
    assert (build["runs"], debug["runs"], final["runs"]) == (False, True, False)
    assert debug["in_final_image"] is True
    assert final["depends_on"] == [0]
    assert final["base_stage"] is None


def test_build_arg_selects_the_base_stage(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ARG VARIANT=slim\nFROM alpine AS base-slim\nFROM alpine AS base-full\n"
        "FROM base-${VARIANT}\n",
    )
    default = json.loads(run_dockwright("outline", "-f", path, "--format", "json").stdout)
    assert default["order"] == [0, 2]
    chosen = run_dockwright(
        "outline", "-f", path, "--format", "json", "--build-arg", "VARIANT=full"
    )
    assert json.loads(chosen.stdout)["order"] == [1, 2]
    from_env = run_dockwright(
        "outline", "-f", path, "--format", "json", "--build-arg", "VARIANT", env={"VARIANT": "full"}
    )
    assert json.loads(from_env.stdout)["stages"][2]["base_stage"] == 1


def test_several_platforms(tmp_path: Path) -> None:
    path = write(tmp_path, PER_ARCH)
    result = run_dockwright(
        "outline", "-f", path, "--format", "json", "--platform", "linux/amd64,linux/arm64"
    )
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)["platforms"]
    assert [(d["platform"], d["order"]) for d in docs] == [
        ("linux/amd64", [0, 2]),
        ("linux/arm64", [1, 2]),
    ]
    text = run_dockwright("outline", "-f", path, "--platform", "linux/amd64,linux/arm64").stdout
    assert text.count("build order:") == 2


def test_docker_default_platform(tmp_path: Path) -> None:
    path = write(tmp_path, PER_ARCH)
    result = run_dockwright(
        "outline", "-f", path, "--format", "json", env={"DOCKER_DEFAULT_PLATFORM": "linux/arm64"}
    )
    assert json.loads(result.stdout)["order"] == [1, 2]


def test_dockerfile_from_stdin() -> None:
    result = run_dockwright("outline", "-f", "-", input="FROM alpine AS only\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<stdin>: 1 stage, target #0 only")


def test_plan_error_shows_the_line_and_a_caret(tmp_path: Path) -> None:
    path = write(tmp_path, "ARG S=a\nFROM alpine AS a\nFROM scratch\nCOPY --from=$S /x /x\n")
    result = run_dockwright("outline", "-f", path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"dockwright: error: {path}:4:13: variable expansion is not supported for --from, "
        "define a new stage with FROM using ARG from global scope as a workaround"
    )
    assert lines[1] == "4 | COPY --from=$S /x /x"
    assert lines[2] == "  |             ^"
    assert lines[3].startswith("dockwright: hint: ")
    assert "Traceback" not in result.stderr


def test_parse_error_shows_the_line_and_a_caret(tmp_path: Path) -> None:
    path = write(tmp_path, "FROM alpine\nRUN --mount=type=cahce,target=/x make\n")
    result = run_dockwright("outline", "-f", path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"dockwright: error: {path}:2:")
    assert lines[1] == "2 | RUN --mount=type=cahce,target=/x make"
    assert lines[2].startswith("  |") and lines[2].endswith("^")
    assert "Traceback" not in result.stderr


def test_unknown_target(tmp_path: Path) -> None:
    path = write(tmp_path, GO_MULTISTAGE)
    result = run_dockwright("outline", "-f", path, "--target", "bulid")
    assert result.returncode == 2
    assert f'{path}:2:1: target stage "bulid" could not be found' in result.stderr
    assert "did you mean 'build'? the stages are: build (line 2), debug (line 6)" in result.stderr


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "Dockerfile"
    result = run_dockwright("outline", "-f", missing)
    assert result.returncode == 2
    assert result.stderr == f"dockwright: error: no such file: {missing}\n"
    directory = run_dockwright("outline", "-f", tmp_path)
    assert directory.returncode == 2
    assert directory.stderr == f"dockwright: error: {tmp_path} is a directory, not a Dockerfile\n"


def test_default_file_is_dockerfile_in_the_current_folder(tmp_path: Path) -> None:
    write(tmp_path, "FROM alpine\n")
    result = run_dockwright("outline", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Dockerfile: 1 stage, target #0 (unnamed)")
