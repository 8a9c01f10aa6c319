"""BuildKit's build checks (``docker build --check``), stage-aware where it matters.

Each rule's doc names the BuildKit check it follows. Rules about the image's config (CMD,
ENTRYPOINT, USER) judge the final image's stages only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from dockwright.dockerfile import (
    Cmd,
    Copy,
    Entrypoint,
    Healthcheck,
    Maintainer,
    Run,
    Shell,
    Stage,
    User,
    Workdir,
)
from dockwright.lint.engine import LintContext
from dockwright.lint.findings import Finding, Rule, Severity
from dockwright.lint.graph import expand_from, stage_ref

__all__ = [
    "BASE_IMAGE_NOT_PINNED",
    "DUPLICATE_STAGE_NAME",
    "JSON_ARGS_RECOMMENDED",
    "LAST_USER_ROOT",
    "MAINTAINER_DEPRECATED",
    "MULTIPLE_INSTRUCTIONS",
    "RESERVED_STAGE_NAME",
    "UNKNOWN_STAGE_REFERENCE",
    "WORKDIR_RELATIVE_PATH",
]

_IMAGE_LIKE = re.compile(r"[/:@.]")


def _tag_of(reference: str) -> tuple[str | None, bool]:
    """(tag, has digest) of an image reference."""
    if "@" in reference:
        return None, True
    last = reference.rsplit("/", 1)[-1]
    return (last.split(":", 1)[1] if ":" in last else None), False


def _check_pinned(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        if info.base_stage is not None or info.is_scratch or "$" in info.base:
            continue
        tag, digest = _tag_of(info.base)
        if digest or (tag is not None and tag != "latest"):
            continue
        what = "has no tag" if tag is None else "uses the tag latest"
        message = (
            f"base image {info.base} {what}: each build may get a different image, and a "
            "rebuild is not reproducible"
        )
        fix = f"pin a version tag ({info.base.split(':')[0]}:<version>), or a digest (@sha256:…)"
        yield ctx.finding(BASE_IMAGE_NOT_PINNED, info.stage.from_, message, stage=info, fix=fix)


BASE_IMAGE_NOT_PINNED: Rule[LintContext] = Rule(
    id="DW101",
    name="base-image-not-pinned",
    severity=Severity.WARNING,
    doc=(
        "A FROM image with no tag or the tag `latest` (hadolint DL3006/DL3007) changes under "
        "the build. Stages and scratch are not images and are not judged; every stage's "
        "base is (a builder's base decides what ships as much as the final one's)."
    ),
    check=_check_pinned,
)


def _check_refs(ctx: LintContext) -> Iterator[Finding]:
    stages = ctx.dockerfile.stages
    args = ctx.graph.global_args
    for info in ctx.stages:
        base = info.base
        later = stage_ref(base, stages)
        if info.base_stage is None and later is not None and later >= info.index:
            yield ctx.finding(
                UNKNOWN_STAGE_REFERENCE,
                info.stage.from_,
                f"FROM {base} names stage {base}, which is not defined before this one: "
                f"BuildKit pulls an image called {base} instead",
                stage=info,
                fix="move that stage above this one",
            )
        for step in ctx.steps[info.index]:
            instruction = step.instruction
            refs: list[str] = []
            if isinstance(instruction, Copy) and instruction.from_:
                refs.append(instruction.from_)
            elif isinstance(instruction, Run):
                refs.extend(m.from_ for m in instruction.mounts if m.from_)
            for raw in refs:
                ref = expand_from(raw, ctx.dockerfile, args)
                if "$" in ref:
                    continue
                target = stage_ref(ref, stages)
                message: str | None = None
                if target == info.index:
                    message = f"--from={raw} refers to this very stage: a circular dependency"
                elif ref.isdecimal() and (target is None or target > info.index):
                    message = f"--from={raw} refers to a current or future build stage"
                elif target is None and not _IMAGE_LIKE.search(ref):
                    names = ", ".join(s.name for s in stages if s.name) or "none"
                    message = (
                        f"--from={raw} is not a stage of this Dockerfile (stages: {names}): "
                        f"BuildKit tries to pull an image called {ref}"
                    )
                if message is not None:
                    yield ctx.finding(
                        UNKNOWN_STAGE_REFERENCE,
                        instruction,
                        message,
                        stage=info,
                        fix="name a stage defined in this Dockerfile (FROM … AS name)",
                    )


UNKNOWN_STAGE_REFERENCE: Rule[LintContext] = Rule(
    id="DW102",
    name="unknown-stage-reference",
    severity=Severity.ERROR,
    doc=(
        "COPY --from / RUN --mount=from= naming no stage of the Dockerfile (hadolint DL3022, "
        "DL3023): BuildKit then pulls an image of that name, which is seldom what a typo "
        "meant; --from naming its own stage, or a stage index not before this one; FROM naming "
        "a stage defined later. References that look like image names (with / : @ or .) "
        "are images by intent and are not judged."
    ),
    check=_check_refs,
)


def _check_duplicates(ctx: LintContext) -> Iterator[Finding]:
    seen: dict[str, Stage] = {}
    for info in ctx.stages:
        name = info.name
        if name is None:
            continue
        first = seen.get(name)
        if first is not None:
            message = (
                f"stage name {name} is already used by the stage on line {first.from_.start_line}"
            )
            yield ctx.finding(
                DUPLICATE_STAGE_NAME,
                info.stage.from_,
                message,
                stage=info,
                fix="give each stage its own name",
            )
        else:
            seen[name] = info.stage


DUPLICATE_STAGE_NAME: Rule[LintContext] = Rule(
    id="DW103",
    name="duplicate-stage-name",
    severity=Severity.ERROR,
    doc="BuildKit's DuplicateStageName (hadolint DL3024): stage names must be unique.",
    check=_check_duplicates,
)


def _check_reserved(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        if info.name in ("scratch", "context"):
            yield ctx.finding(
                RESERVED_STAGE_NAME,
                info.stage.from_,
                f"stage name {info.name} is reserved",
                stage=info,
                fix="choose another name",
            )


RESERVED_STAGE_NAME: Rule[LintContext] = Rule(
    id="DW104",
    name="reserved-stage-name",
    severity=Severity.ERROR,
    doc="BuildKit's ReservedStageName: `scratch` and `context` cannot name a stage.",
    check=_check_reserved,
)


def _check_json_args(ctx: LintContext) -> Iterator[Finding]:
    custom_shell = False
    for step in ctx.chain_steps():
        instruction = step.instruction
        if isinstance(instruction, Shell):
            custom_shell = True
        if not isinstance(instruction, Cmd | Entrypoint) or custom_shell:
            continue
        command = instruction.command
        if command.exec_form or not command.args or not "".join(command.args).strip():
            continue
        text = command.shell or ""
        words = ", ".join(f'"{w}"' for w in text.split())
        message = (
            f"{instruction.keyword} in shell form runs under /bin/sh -c: the program is not "
            "PID 1 and does not get SIGTERM on `docker stop` (it is killed after the timeout)"
        )
        fix = f"{instruction.keyword} [{words}] (exec form: a JSON array of words)"
        yield ctx.finding(JSON_ARGS_RECOMMENDED, instruction, message, stage=step.stage, fix=fix)


JSON_ARGS_RECOMMENDED: Rule[LintContext] = Rule(
    id="DW105",
    name="json-args-recommended",
    severity=Severity.WARNING,
    doc=(
        "BuildKit's JSONArgsRecommended (hadolint DL3025): CMD and ENTRYPOINT in shell form "
        "wrap the program in /bin/sh -c, so signals do not reach it. Judged on the final "
        "image's stages only, and not after a SHELL instruction."
    ),
    check=_check_json_args,
)


def _check_workdir(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        absolute = False
        parent = info.base_stage
        while parent is not None:
            if any(
                isinstance(s.instruction, Workdir) and s.instruction.path.startswith(("/", "$"))
                for s in ctx.steps[parent]
            ):
                absolute = True
            parent = ctx.stages[parent].base_stage
        for step in ctx.steps[info.index]:
            instruction = step.instruction
            if not isinstance(instruction, Workdir):
                continue
            path = instruction.path
            if path.startswith(("/", "$")) or re.match(r"^[A-Za-z]:[\\/]", path):
                absolute = True
                continue
            if not absolute:
                message = (
                    f"WORKDIR {path} is relative and no absolute WORKDIR comes before it: it "
                    "depends on the base image's working directory"
                )
                yield ctx.finding(
                    WORKDIR_RELATIVE_PATH,
                    instruction,
                    message,
                    stage=info,
                    fix=f"WORKDIR /{path.lstrip('./')}",
                )


WORKDIR_RELATIVE_PATH: Rule[LintContext] = Rule(
    id="DW106",
    name="workdir-relative-path",
    severity=Severity.WARNING,
    doc=(
        "BuildKit's WorkdirRelativePath (hadolint DL3000): a relative WORKDIR before any "
        "absolute one resolves against the base image's working directory."
    ),
    check=_check_workdir,
)


def _check_user(ctx: LintContext) -> Iterator[Finding]:
    last = None
    for step in ctx.chain_steps():
        if isinstance(step.instruction, User):
            last = step
    if last is None:
        return
    assert isinstance(last.instruction, User)
    user = last.instruction.user.split(":")[0]
    if user in ("root", "0"):
        message = (
            f"the last USER of the final image is {last.instruction.user}: the program runs as root"
        )
        yield ctx.finding(
            LAST_USER_ROOT,
            last.instruction,
            message,
            stage=last.stage,
            fix="switch to an unprivileged user after the steps that need root (USER 65532)",
        )


LAST_USER_ROOT: Rule[LintContext] = Rule(
    id="DW107",
    name="last-user-root",
    severity=Severity.WARNING,
    doc=(
        "hadolint DL3002: the final image's last USER is root. Builder stages may switch to "
        "root freely; only the final image's stages are judged."
    ),
    check=_check_user,
)


def _check_multiple(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        for kind in (Cmd, Entrypoint, Healthcheck):
            found = [
                s.instruction for s in ctx.steps[info.index] if isinstance(s.instruction, kind)
            ]
            for earlier in found[:-1]:
                last = found[-1]
                message = (
                    f"{earlier.keyword} has no effect: the {last.keyword} on line "
                    f"{last.start_line} replaces it"
                )
                yield ctx.finding(
                    MULTIPLE_INSTRUCTIONS,
                    earlier,
                    message,
                    stage=info,
                    fix=f"keep one {earlier.keyword} per stage",
                )


MULTIPLE_INSTRUCTIONS: Rule[LintContext] = Rule(
    id="DW108",
    name="multiple-instructions",
    severity=Severity.WARNING,
    doc=(
        "BuildKit's MultipleInstructionsDisallowed (hadolint DL4003, DL4004, DL3012): only the "
        "last CMD, ENTRYPOINT or HEALTHCHECK of a stage counts."
    ),
    check=_check_multiple,
)


def _check_maintainer(ctx: LintContext) -> Iterator[Finding]:
    for step in ctx.all_steps():
        instruction = step.instruction
        if isinstance(instruction, Maintainer):
            yield ctx.finding(
                MAINTAINER_DEPRECATED,
                instruction,
                "MAINTAINER is deprecated",
                stage=step.stage,
                fix=f'LABEL org.opencontainers.image.authors="{instruction.maintainer}"',
            )


MAINTAINER_DEPRECATED: Rule[LintContext] = Rule(
    id="DW109",
    name="maintainer-deprecated",
    severity=Severity.INFO,
    doc="BuildKit's MaintainerDeprecated (hadolint DL4000): use a LABEL instead.",
    check=_check_maintainer,
)
