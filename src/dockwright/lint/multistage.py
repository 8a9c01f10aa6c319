"""``--fix`` for DW005: a single-stage Go build that compiles becomes a multistage one.

Done only when the outputs are known: every ``go build`` in the stage names its output with
``-o`` (resolved against WORKDIR and any ``cd``). The rewrite:

- the original stage becomes the builder (``FROM <base> AS build``), without the steps that
  only clean up (a builder's leftovers never ship) and without pure image metadata (CMD,
  ENTRYPOINT, EXPOSE, LABEL, HEALTHCHECK, STOPSIGNAL, VOLUME, MAINTAINER);
- a final stage on ``scratch`` when every build sets ``CGO_ENABLED=0`` (a static binary),
  else on the same base, gets the stage's ARGs and ENV, its last WORKDIR, the outputs
  (``COPY --from=build``), /etc/passwd and /etc/group when a named USER needs them on
  scratch, and the runtime config in its original order (USER, EXPOSE, LABEL, VOLUME,
  STOPSIGNAL, HEALTHCHECK, ENTRYPOINT, CMD).

Files the program reads at run time other than its binary (templates, CA certificates) are
not guessed: the notice says so.
"""

from __future__ import annotations

import posixpath

from dockwright.dockerfile import (
    Arg,
    Cmd,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Label,
    Maintainer,
    Run,
    Stopsignal,
    User,
    Volume,
    Workdir,
)
from dockwright.lint.engine import LintContext, Step
from dockwright.lint.facts import RunFacts
from dockwright.lint.paths import resolve

__all__ = ["multistage_edit"]

_METADATA = (Cmd, Entrypoint, Expose, Label, Healthcheck, Stopsignal, Volume, Maintainer)
_RUNTIME = (User, Expose, Label, Volume, Stopsignal, Healthcheck, Entrypoint, Cmd)
_HARMLESS = frozenset({"set", "true", ":"})


def _cleanup_only(facts: RunFacts) -> bool:
    names = [c.name for c in facts.commands if c.name not in _HARMLESS]
    if not names:
        return False
    cleaners = {"rm", "apt-get", "apt", "apk", "yum", "dnf", "go", "npm", "yarn", "pip"}
    if any(n not in cleaners for n in names):
        return False
    installs = [op for op in facts.packages if op.action == "install"]
    return (bool(facts.removed) or bool(facts.packages)) and not installs and not facts.created


def _outputs(ctx: LintContext, steps: tuple[Step, ...]) -> tuple[list[str], bool] | None:
    """The build outputs and whether every build is static (CGO_ENABLED=0); None when a
    compile's output is unknown or it is not a Go build."""
    outputs: list[str] = []
    static = True
    for step in steps:
        if not isinstance(step.instruction, Run):
            continue
        for command in ctx.run_facts(step.instruction).compiles:
            if command.name != "go" or command.args()[:1] != ("build",):
                return None
            args = command.args()
            raw = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "-o"), None)
            if raw is None or raw.endswith("/") or ("-C" in args and not raw.startswith("/")):
                return None
            cwd = step.workdir
            if command.cwd:
                cwd = posixpath.join(cwd, command.cwd)
            elif command.cwd is None and not raw.startswith("/"):
                return None
            path = resolve(raw, cwd, step.env)
            if path is None:
                return None
            outputs.append(path)
            cgo = dict(command.assignments).get("CGO_ENABLED", step.env.get("CGO_ENABLED"))
            static = static and cgo == "0"
    return (outputs, static) if outputs else None


def _source(ctx: LintContext, step: Step) -> list[str]:
    instruction = step.instruction
    return [ctx.line_text(n) for n in range(instruction.start_line, instruction.end_line + 1)]


def multistage_edit(ctx: LintContext) -> tuple[int, int, list[str], str] | None:
    """(first line, last line, new lines, note) turning a single-stage Go build into a
    multistage one, or None when the file is not one dockwright can rewrite safely."""
    if len(ctx.stages) != 1:
        return None
    info = ctx.stages[0]
    steps = ctx.steps[0]
    found = _outputs(ctx, steps)
    if found is None:
        return None
    outputs, static = found
    for step in steps:
        instruction = step.instruction
        shell_form = isinstance(instruction, Cmd | Entrypoint) and not instruction.command.exec_form
        if shell_form or isinstance(instruction, Healthcheck):
            static = False  # scratch has no shell, and nothing for a health check to run
    name = info.name or "build"
    from_ = info.stage.from_
    first = ctx.line_text(from_.start_line)
    builder = [first if info.name else f"{first.rstrip()} AS build"]
    final_workdir = None
    user = None
    for step in steps:
        instruction = step.instruction
        if isinstance(instruction, _METADATA):
            continue
        if isinstance(instruction, Run) and _cleanup_only(ctx.run_facts(instruction)):
            continue
        builder += _source(ctx, step)
    final = ["", "FROM scratch" if static else f"FROM {info.base}"]
    for step in steps:
        instruction = step.instruction
        if isinstance(instruction, Arg | Env):
            final += _source(ctx, step)
        elif isinstance(instruction, Workdir):
            final_workdir = step
        if isinstance(instruction, User):
            user = instruction.user
    if final_workdir is not None:
        assert isinstance(final_workdir.instruction, Workdir)
        path = resolve(final_workdir.instruction.path, final_workdir.workdir, final_workdir.env)
        if path is None:
            return None
        final.append(f"WORKDIR {path}")
    if static and user is not None and not user.split(":")[0].isdecimal():
        final.append(f"COPY --from={name} /etc/passwd /etc/group /etc/")
    final += [f"COPY --from={name} {path} {path}" for path in outputs]
    for step in steps:
        if isinstance(step.instruction, _RUNTIME):
            final += _source(ctx, step)
    base = "scratch" if static else info.base
    note = (
        f"line {from_.start_line}: single-stage build split into a builder and a final stage "
        f"on {base} with {', '.join(outputs)} (copy other run-time files yourself)"
    )
    return from_.start_line, len(ctx.lines), builder + final, note
