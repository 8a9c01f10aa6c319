"""``outline``: a Dockerfile's stages, their bases and ARGs, and which stages a build runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dockwright.cli.render import print_dockerfile_error
from dockwright.dockerfile import Dockerfile, parse_dockerfile
from dockwright.errors import DockerfileError, UsageError
from dockwright.image.platform import Platform, parse_platforms
from dockwright.plan import BuildGraph, StageNode, build_graph, stage_scopes


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a Dockerfile") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def parse_build_args(items: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """``--build-arg`` values as docker reads them: ``KEY=VALUE``, or ``KEY`` alone for the
    value of the environment variable ``KEY`` (left out when it is not set)."""
    out: dict[str, str] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid --build-arg {item!r}: the name is empty")
        if equals:
            out[key] = value
        elif key in environ:
            out[key] = environ[key]
    return out


def _platforms(text: str | None) -> list[Platform | None]:
    text = text or os.environ.get("DOCKER_DEFAULT_PLATFORM") or None
    if not text:
        return [None]
    return list(parse_platforms(text))


def _runs(graph: BuildGraph, node: StageNode) -> str:
    if not graph.runs(node.index):
        return f"skipped: not needed by target {graph.target_stage.display_name}"
    if node.index == graph.target:
        return "yes (target)"
    if node.index in graph.final_chain:
        return "yes (base of the final image)"
    return "yes"


def _needs(graph: BuildGraph, node: StageNode) -> list[tuple[int, str]]:
    reasons: dict[int, list[str]] = {}
    if node.base_stage is not None:
        reasons.setdefault(node.base_stage, []).append("FROM")
    for label, indexes in (
        ("COPY --from", node.copies_from),
        ("RUN --mount", node.mounts_from),
        ("ONBUILD of its base", node.onbuild_from),
    ):
        for index in indexes:
            if index in node.depends_on:
                reasons.setdefault(index, []).append(label)
    return [(index, ", ".join(reasons[index])) for index in sorted(reasons)]


def _outline(
    dockerfile: Dockerfile,
    target: str | None,
    build_args: Mapping[str, str],
    platform: Platform | None,
) -> dict[str, Any]:
    graph = build_graph(dockerfile, target=target, build_args=build_args, target_platform=platform)
    scopes = stage_scopes(graph, dockerfile)
    stages = []
    for node in graph.stages:
        stages.append(
            {
                "index": node.index,
                "name": node.name,
                "base": node.base,
                "base_stage": node.base_stage,
                "platform": node.platform,
                "args": list(scopes[node.index].args_used),
                "depends_on": list(node.depends_on),
                "runs": graph.runs(node.index),
                "in_final_image": node.index in graph.final_chain,
                "images": list(node.external_from),
                "start_line": node.start_line,
                "end_line": node.end_line,
                "_needs": _needs(graph, node),
                "_runs": _runs(graph, node),
            }
        )
    return {
        "target": graph.target,
        "platform": graph.target_platform,
        "build_platform": graph.build_platform,
        "args": dict(graph.args),
        "stages": stages,
        "order": list(graph.order),
    }


def _public(outline: dict[str, Any]) -> dict[str, Any]:
    stages = [{k: v for k, v in s.items() if not k.startswith("_")} for s in outline["stages"]]
    return {**outline, "stages": stages}


def _label(stage: Mapping[str, Any]) -> str:
    return f"#{stage['index']} {stage['name'] or '(unnamed)'}"


def _render_text(file: str, outline: dict[str, Any]) -> list[str]:
    stages = outline["stages"]
    target = stages[outline["target"]]
    lines = [
        f"{file}: {len(stages)} stage{'s' if len(stages) != 1 else ''}, "
        f"target {_label(target)}, platform {outline['platform']} "
        f"(built on {outline['build_platform']})",
        "",
    ]
    for stage in stages:
        span = f"line {stage['start_line']}"
        if stage["end_line"] > stage["start_line"]:
            span = f"lines {stage['start_line']}-{stage['end_line']}"
        lines.append(f"{_label(stage)}  ({span})")
        if stage["base_stage"] is not None:
            base = f"{stage['base']} (stage #{stage['base_stage']})"
        elif stage["base"] == "scratch":
            base = "scratch (empty)"
        else:
            base = f"{stage['base']} (image)"
        lines.append(f"    base:      {base}")
        platform = stage["platform"] or f"{outline['platform']} (the target platform)"
        lines.append(f"    platform:  {platform}")
        lines.append(f"    args:      {', '.join(stage['args']) or '-'}")
        needs = [f"{_label(stages[i])} ({why})" for i, why in stage["_needs"]]
        lines.append(f"    needs:     {', '.join(needs) or '-'}")
        if stage["images"]:
            lines.append(f"    images:    {', '.join(stage['images'])}")
        lines.append(f"    runs:      {stage['_runs']}")
    order = " -> ".join(_label(stages[i]) for i in outline["order"])
    lines += ["", f"build order: {order}"]
    return lines


def run_outline(args: argparse.Namespace) -> int:
    """Print the stages of ``args.file`` and which of them a build of the target runs."""
    path: str = args.file
    text = _read(path)
    build_args = parse_build_args(args.build_arg, os.environ)
    platforms = _platforms(args.platform)
    shown = "<stdin>" if path == "-" else path
    try:
        dockerfile = parse_dockerfile(text, file=shown)
        outlines = [_outline(dockerfile, args.target, build_args, p) for p in platforms]
    except DockerfileError as exc:
        print_dockerfile_error(exc, text, sys.stderr)
        return exc.exit_code
    if args.format == "json":
        if len(outlines) == 1:
            document: dict[str, Any] = _public(outlines[0])
        else:
            document = {"platforms": [_public(o) for o in outlines]}
        print(json.dumps(document, indent=2))
        return 0
    blocks = [_render_text(shown, o) for o in outlines]
    print("\n\n".join("\n".join(block) for block in blocks))
    return 0
