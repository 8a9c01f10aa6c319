"""Rules about layers that keep bytes the image no longer needs (final image only).

Every instruction that changes the filesystem is a layer, and a layer is never rewritten:
deleting or re-moding in a later RUN adds a layer on top, and the bytes stay below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from dockwright.dockerfile import Add, Copy, Run
from dockwright.lint.copies import CopyTarget, copy_targets, whole_context
from dockwright.lint.engine import LintContext, Step
from dockwright.lint.facts import ModeChange, PackageOp, PathRef
from dockwright.lint.findings import Finding, Rule, Severity
from dockwright.lint.paths import SYSTEM_DIRS, covers

__all__ = ["CHMOD_AFTER_COPY", "CLEANUP_IN_LATER_LAYER", "ModeMatch", "mode_matches"]

_OCTAL = re.compile(r"^0?[0-7]{3,4}$")


def _where(step: Step) -> str:
    return f"{step.instruction.keyword} on line {step.instruction.start_line}"


def _lines(steps: list[Step]) -> str:
    unique = sorted({s.instruction.start_line for s in steps})
    if len(unique) == 1:
        return f"line {unique[0]}"
    return "lines " + ", ".join(map(str, unique))


def _blames(created: PathRef, removed: str) -> bool:
    if covers(removed, created.path):
        return True
    return created.tree and created.path not in SYSTEM_DIRS and covers(created.path, removed)


def _under_mount(path: str, mounts: tuple[str, ...]) -> bool:
    return any(covers(m, path) for m in mounts)


def _check_cleanup(ctx: LintContext) -> Iterator[Finding]:
    creators: list[tuple[Step, PathRef]] = []
    installs: list[tuple[Step, PackageOp]] = []
    for step in ctx.chain_steps():
        instruction = step.instruction
        if isinstance(instruction, Copy | Add):
            for target in copy_targets(instruction, step.workdir, step.env, ctx.context_dir):
                source = "the build context" if whole_context(target.source) else target.source
                what = f"{source} copied to {target.path}"
                creators.append((step, PathRef(target.path, what, "", target.tree)))
            continue
        if not isinstance(instruction, Run):
            continue
        facts = ctx.run_facts(instruction)
        by_command: dict[str, list[tuple[Step, PathRef]]] = {}
        for removed in facts.removed:
            hits = [(s, c) for s, c in creators if _blames(c, removed.path)]
            if hits:
                bucket = by_command.setdefault(removed.command, [])
                bucket.extend(h for h in hits if h not in bucket)
        for command, hits in by_command.items():
            yield _cleanup_finding(ctx, step, command, hits)
        for op in facts.packages:
            if op.action == "install":
                continue
            hits_ops = [
                (s, o)
                for s, o in installs
                if o.manager == op.manager
                and (
                    (op.action == "autoremove" and not op.packages)
                    or set(op.packages) & set(o.packages)
                )
            ]
            if hits_ops:
                names = sorted({p for _, o in hits_ops for p in o.packages if p in op.packages})
                yield _package_finding(ctx, step, op, [s for s, _ in hits_ops], names)
        for created in facts.created:
            if not _under_mount(created.path, facts.cache_mounts):
                creators.append((step, created))
        installs.extend((step, op) for op in facts.packages if op.action == "install")


def _cleanup_finding(
    ctx: LintContext, step: Step, command: str, hits: list[tuple[Step, PathRef]]
) -> Finding:
    parts: list[str] = []
    for holder, created in hits:
        by = f" by `{created.command}`" if created.command else ""
        part = f"{created.what}, written{by} in {_where(holder)}"
        if part not in parts:
            parts.append(part)
    holders = [h for h, _ in hits]
    message = (
        f"`{command}` frees nothing: {'; '.join(parts)}. "
        f"{'That layer keeps' if len(set(map(id, holders))) == 1 else 'Those layers keep'} "
        "the bytes in the image; this RUN only hides them"
    )
    if all(isinstance(h.instruction, Run) for h in holders):
        fix = (
            f"clean up in the same RUN that creates the files ({_lines(holders)}), or use "
            "RUN --mount=type=cache for caches, or do the work in a builder stage"
        )
    else:
        fix = (
            "do not copy what you delete: exclude it in .dockerignore or COPY only what the "
            "image needs, or copy it into a builder stage"
        )
    return ctx.finding(CLEANUP_IN_LATER_LAYER, step.instruction, message, stage=step.stage, fix=fix)


def _package_finding(
    ctx: LintContext, step: Step, op: PackageOp, holders: list[Step], names: list[str]
) -> Finding:
    what = ", ".join(names) if names else "the automatically installed packages"
    verb = "was" if len(names) == 1 else "were"
    message = (
        f"`{op.command.text}` frees nothing: {what} {verb} installed by RUN on "
        f"{_lines(holders)}, and that layer keeps them in the image"
    )
    fix = (
        f"install, use and remove the packages in one RUN (line {holders[0].instruction.start_line}"
        " with `&& … purge/del` at its end), or install them in a builder stage"
    )
    return ctx.finding(CLEANUP_IN_LATER_LAYER, step.instruction, message, stage=step.stage, fix=fix)


CLEANUP_IN_LATER_LAYER: Rule[LintContext] = Rule(
    id="DW001",
    name="cleanup-in-later-layer",
    severity=Severity.WARNING,
    doc=(
        "A cleanup (rm -rf, apt-get purge/remove/autoremove, apk del, yum/dnf remove, "
        "go clean -cache, npm/yarn/pip cache clean, …) in a later RUN than the instruction that "
        "created the files frees nothing: the earlier layer still holds the bytes and the "
        "image is as big as before. Clean up in the RUN that creates the files, use a cache "
        "mount, or do the work in a builder stage. Judged on the final image's stages only."
    ),
    check=_check_cleanup,
)


@dataclass(frozen=True, slots=True)
class ModeMatch:
    """A chmod/chown in a RUN of files an earlier COPY/ADD brought in."""

    run: Step
    change: ModeChange
    copy: Step
    target: CopyTarget

    @property
    def flag(self) -> str:
        """The COPY flag that does the same: ``--chmod`` or ``--chown``."""
        return "--chmod" if self.change.tool == "chmod" else "--chown"

    def suggested_value(self) -> str:
        """The flag's value as the fix writes it."""
        value = self.change.value
        if self.change.tool == "chgrp":
            return f"0:{value}"
        return value

    @property
    def exact(self) -> bool:
        """Whether the COPY flag would have exactly this effect (a file, a plain value)."""
        change = self.change
        if self.target.tree or tuple(change.paths) != (self.target.path,):
            return False
        if change.tool == "chmod":
            return bool(_OCTAL.match(change.value))
        return change.tool == "chown" and ":" in change.value and not change.value.endswith(":")


def _mode_hits(change: ModeChange, target: CopyTarget, path: str) -> bool:
    if path == target.path:
        return True
    if target.tree and target.path not in SYSTEM_DIRS and covers(target.path, path):
        return True
    return change.recursive and covers(path, target.path)


def mode_matches(ctx: LintContext) -> list[ModeMatch]:
    """Every chmod/chown/chgrp in the final chain of files an earlier COPY/ADD wrote."""
    copies: list[tuple[Step, CopyTarget]] = []
    matches: list[ModeMatch] = []
    for step in ctx.chain_steps():
        instruction = step.instruction
        if isinstance(instruction, Copy | Add):
            targets = copy_targets(instruction, step.workdir, step.env, ctx.context_dir)
            copies.extend((step, t) for t in targets)
        elif isinstance(instruction, Run):
            for change in ctx.run_facts(instruction).mode_changes:
                for copy_step, target in reversed(copies):
                    if any(_mode_hits(change, target, p) for p in change.paths):
                        matches.append(ModeMatch(step, change, copy_step, target))
                        break
    return matches


def _check_chmod(ctx: LintContext) -> Iterator[Finding]:
    for match in mode_matches(ctx):
        copy = match.copy.instruction
        change = match.change
        message = (
            f"`{change.command.text}` re-writes files that {_where(match.copy)} brought in "
            f"({match.target.source}): the image stores them twice, in both layers"
        )
        fix = (
            f"set it while copying: {copy.keyword} {match.flag}={match.suggested_value()} … "
            f"on line {copy.start_line}, and drop the {change.tool}"
        )
        yield ctx.finding(
            CHMOD_AFTER_COPY, match.run.instruction, message, stage=match.run.stage, fix=fix
        )


CHMOD_AFTER_COPY: Rule[LintContext] = Rule(
    id="DW002",
    name="chmod-after-copy",
    severity=Severity.WARNING,
    doc=(
        "RUN chmod/chown/chgrp of files that an earlier COPY or ADD brought in copies every "
        "byte of them into a new layer: the image stores them twice. COPY --chmod and "
        "COPY --chown set mode and owner while copying. `dockwright lint --fix` makes the "
        "change when it is exact (one file, an octal mode or user:group). Final image only."
    ),
    check=_check_chmod,
)
