"""Variables used where they are not defined (BuildKit's UndefinedVar, UndefinedArgInFrom).

BuildKit knows the base image's ENV; dockwright does not (it does not pull), so a name that
is merely not declared in the Dockerfile may come from the base image. Only what is certain
is reported: names undefined in FROM lines; any undefined name in a stage built on
``scratch``; and in any stage, a name declared elsewhere (a global ARG, an ARG or ENV of
another stage, an automatic platform ARG) but not in this stage's scope — the classic
forgotten ``ARG TARGETARCH`` — or a near miss of a name in scope (a typo).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping

from dockwright.dockerfile import (
    Add,
    Arg,
    Copy,
    Env,
    Expose,
    Instruction,
    Label,
    Run,
    Stopsignal,
    User,
    Volume,
    Workdir,
)
from dockwright.dockerfile.shell import ExpansionError, Lexer
from dockwright.lint.engine import LintContext, Step
from dockwright.lint.findings import Finding, Rule, Severity
from dockwright.lint.graph import PLATFORM_ARGS

__all__ = ["UNDEFINED_VARIABLE"]

_GUARDED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?[-+?]")
_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_SINGLE_QUOTED = re.compile(r"'[^']*'")
_ASSIGNED = re.compile(
    r"(?:^|[\s;&|(])(?:export\s+|local\s+|readonly\s+|declare\s+(?:-\w+\s+)?)?"
    r"([A-Za-z_][A-Za-z0-9_]*)=|\b(?:for|read|export)\s+(?:-\w+\s+)*([A-Za-z_][A-Za-z0-9_]*)"
)
# Set for every build step by BuildKit whatever the image says.
_ALWAYS = frozenset({"PATH"})


def _texts(instruction: Instruction) -> list[str]:
    if isinstance(instruction, Copy):
        flags = [instruction.chown, instruction.chmod, instruction.from_]
        return [*instruction.sources, instruction.dest, *[f for f in flags if f]]
    if isinstance(instruction, Add):
        flags = [instruction.chown, instruction.chmod, instruction.checksum]
        return [*instruction.sources, instruction.dest, *[f for f in flags if f]]
    if isinstance(instruction, Env | Label):
        return [p.value for p in instruction.pairs]
    if isinstance(instruction, Arg):
        return [d.default for d in instruction.args if d.default]
    if isinstance(instruction, Workdir):
        return [instruction.path]
    if isinstance(instruction, User):
        return [instruction.user]
    if isinstance(instruction, Expose):
        return list(instruction.ports)
    if isinstance(instruction, Volume):
        return list(instruction.paths)
    if isinstance(instruction, Stopsignal):
        return [instruction.signal]
    return []


def _unset(text: str, env: Mapping[str, str], lexer: Lexer) -> set[str]:
    if "$" not in text:
        return set()
    try:
        result = lexer.process(text, env)
    except ExpansionError:
        return set()
    return set(result.unset_used) - set(_GUARDED.findall(text))


def _elsewhere(ctx: LintContext) -> dict[str, str]:
    """ARG names declared somewhere in the file, and where (for the message).

    ENV names are left out: a base image may set the same name.
    """
    where: dict[str, str] = {name: "a global ARG" for name in ctx.graph.global_args}
    for name in PLATFORM_ARGS:
        where.setdefault(name, "an automatic platform ARG")
    for info in ctx.stages:
        for step in ctx.steps[info.index]:
            instruction = step.instruction
            if isinstance(instruction, Arg):
                for decl in instruction.args:
                    where.setdefault(decl.name, f"an ARG of stage {info.label}")
    return where


def _report(
    ctx: LintContext, step: Step, name: str, elsewhere: Mapping[str, str], scratch: bool
) -> Finding | None:
    near = difflib.get_close_matches(name, sorted(step.declared), n=1, cutoff=0.85)
    if name in elsewhere:
        origin = elsewhere[name]
        if origin.endswith(f"stage {step.stage.label}"):
            origin = "an ARG declared later in this stage"
        message = (
            f"${name} is not defined in stage {step.stage.label}: it is {origin}, which this "
            "stage does not see until it declares it"
        )
        fix = f"add `ARG {name}` to the stage before this line"
    elif near:
        message = f"${name} is not defined; did you mean ${near[0]}?"
        fix = f"use ${near[0]}, or define {name} with ARG or ENV"
    elif scratch:
        message = f"${name} is not defined: the stage is built on scratch and never sets it"
        fix = f"define {name} with ARG or ENV first"
    else:
        return None
    return ctx.finding(UNDEFINED_VARIABLE, step.instruction, message, stage=step.stage, fix=fix)


def _check(ctx: LintContext) -> Iterator[Finding]:
    lexer = Lexer(ctx.dockerfile.escape)
    elsewhere = _elsewhere(ctx)
    global_env = {name: value or "" for name, value in ctx.graph.global_args.items()}
    global_env.update(dict.fromkeys(PLATFORM_ARGS, "x"))
    for info in ctx.stages:
        from_ = info.stage.from_
        for text in (from_.image, from_.platform or ""):
            for name in sorted(_unset(text, global_env, lexer)):
                message = (
                    f"${name} is not defined for FROM: only global ARGs (before the first "
                    "FROM) and the automatic platform ARGs are"
                )
                yield ctx.finding(
                    UNDEFINED_VARIABLE,
                    from_,
                    message,
                    stage=info,
                    fix=f"declare `ARG {name}=<default>` before the first FROM",
                )
        scratch = ctx.graph.root_is_scratch(info.index)
        for step in ctx.steps[info.index]:
            env = {name: step.env.get(name, "") for name in step.declared | _ALWAYS}
            names: set[str] = set()
            if isinstance(step.instruction, Run):
                names = _run_names(ctx, step, elsewhere)
            else:
                for text in _texts(step.instruction):
                    names |= _unset(text, env, lexer)
            for name in sorted(names):
                finding = _report(ctx, step, name, elsewhere, scratch)
                if finding is not None:
                    yield finding


def _run_names(ctx: LintContext, step: Step, elsewhere: Mapping[str, str]) -> set[str]:
    """Names a RUN script uses that are declared elsewhere but not in scope, nor set by it."""
    assert isinstance(step.instruction, Run)
    script = _SINGLE_QUOTED.sub("", ctx.run_facts(step.instruction).script)
    used = set(_REF.findall(script))
    assigned = {a or b for a, b in _ASSIGNED.findall(script)}
    return {
        name
        for name in used
        if name in elsewhere and name not in step.declared and name not in assigned
    }


UNDEFINED_VARIABLE: Rule[LintContext] = Rule(
    id="DW112",
    name="undefined-variable",
    severity=Severity.WARNING,
    doc=(
        "BuildKit's UndefinedVar and UndefinedArgInFrom: a variable used where it is not "
        "defined expands to nothing. Reported where certain without the base image's ENV: in "
        "FROM lines; a global ARG, platform ARG or another stage's ARG/ENV used in a stage "
        "(including RUN) that does not declare it; a near miss of a defined name; any "
        "undefined name in a stage built on scratch. `${NAME:-default}` forms are not judged."
    ),
    check=_check,
)
