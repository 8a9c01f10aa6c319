"""``dockwright lint --fix``: the fixes that are safe to make without asking.

DW005: a single-stage Go build becomes a multistage one (:mod:`dockwright.lint.multistage`).
DW002: ``COPY x /app/x`` followed by ``RUN chmod 755 /app/x`` becomes
``COPY --chmod=755 x /app/x`` and the RUN goes. A fix is made only when it is exact: the RUN
does nothing but chmod/chown files that one single-source COPY/ADD wrote, the mode is octal
(or symbolic, with --context telling the source file's mode), an owner is ``user:group``
(``--chown=user`` would set the group differently from ``chown user``), the COPY does not
set that flag already, and no user is created between the COPY and the chown.
"""

from __future__ import annotations

import difflib
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dockwright.dockerfile import Add, Copy, Run
from dockwright.lint.engine import LintContext, build_context
from dockwright.lint.multistage import multistage_edit
from dockwright.lint.rules.layers import ModeMatch, mode_matches
from dockwright.lint.rules.toolchain import TOOLCHAIN_IN_FINAL_IMAGE

__all__ = ["Edit", "FixResult", "apply_edits", "fix_text", "safe_edits"]

_OCTAL = re.compile(r"^0?[0-7]{3,4}$")
_SYMBOLIC = re.compile(r"^([ugoa]*)([-+=])([rwxXst]*)$")
_USER_TOOLS = re.compile(r"\b(useradd|adduser|groupadd|addgroup)\b")
_HARMLESS = frozenset({"set", "true", ":"})
_FILE_NAME = re.compile(
    r"\.(sh|bash|py|pl|rb|js|mjs|conf|cfg|ini|json|ya?ml|toml|txt|env|properties|xml|jar|"
    r"war|so|bin|exe|crt|pem)$"
)


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace source lines ``start``..``end`` (1-based, inclusive) with ``lines``."""

    start: int
    end: int
    lines: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True)
class FixResult:
    """The fixed text, what was changed, and a unified diff of it."""

    text: str
    applied: tuple[str, ...]
    diff: str


def _symbolic(mode: int, spec: str) -> int | None:
    bits = {"r": 0o444, "w": 0o222, "x": 0o111, "X": 0o111}
    who_bits = {"u": 0o700, "g": 0o070, "o": 0o007, "a": 0o777}
    for clause in spec.split(","):
        match = _SYMBOLIC.match(clause)
        if match is None or any(c in match.group(3) for c in "st"):
            return None
        who, op, perms = match.groups()
        mask = 0o755  # no "who": all, less the usual umask (022), as chmod does
        if who:
            mask = 0
            for w in who:
                mask |= who_bits[w]
        value = 0
        for p in perms:
            value |= bits[p]
        value &= mask
        if op == "+":
            mode |= value
        elif op == "-":
            mode &= ~value
        else:
            mode = (mode & ~mask) | value
    return mode


def _mode_value(ctx: LintContext, match: ModeMatch) -> str | None:
    value = match.change.value
    if _OCTAL.match(value):
        return value
    copy = match.copy.instruction
    if ctx.context_dir is None or (isinstance(copy, Copy) and copy.from_):
        return None
    source = ctx.context_dir / match.target.source.lstrip("/")
    try:
        info = source.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    mode = _symbolic(stat.S_IMODE(info.st_mode), value)
    return None if mode is None else f"{mode:04o}"


def _exact_value(ctx: LintContext, match: ModeMatch) -> str | None:
    """The COPY flag value that has exactly the RUN's effect, or None when there is none."""
    copy = match.copy.instruction
    change = match.change
    if not isinstance(copy, Copy | Add) or len(copy.sources) != 1 or copy.heredoc_sources:
        return None
    if change.paths != (match.target.path,):
        return None
    if match.target.tree and not _is_file_source(ctx, copy, match.target.source):
        return None
    if change.tool == "chmod":
        return None if copy.chmod else _mode_value(ctx, match)
    if change.tool != "chown" or copy.chown:
        return None
    user, sep, group = change.value.partition(":")
    if not sep or not user or not group:
        return None
    if not (user.isdecimal() and group.isdecimal()) and _user_made_between(ctx, match):
        return None
    return change.value


def _is_file_source(ctx: LintContext, copy: Copy | Add, source: str) -> bool:
    """Whether a COPY source is a regular file: looked up in the context (or the
    Dockerfile's folder, the usual context), else judged by a file name extension."""
    if isinstance(copy, Copy) and copy.from_:
        return bool(_FILE_NAME.search(source))
    folder = ctx.context_dir
    if folder is None and ctx.dockerfile_path is not None:
        folder = ctx.dockerfile_path.parent
    if folder is not None:
        candidate = folder / source.lstrip("/")
        if candidate.exists():
            return candidate.is_file()
    return bool(_FILE_NAME.search(source))


def _user_made_between(ctx: LintContext, match: ModeMatch) -> bool:
    started = False
    for step in ctx.chain_steps():
        if step is match.copy:
            started = True
        elif step is match.run:
            return False
        elif (
            started
            and isinstance(step.instruction, Run)
            and _USER_TOOLS.search(ctx.run_facts(step.instruction).script)
        ):
            return True
    return False


def safe_edits(ctx: LintContext) -> list[Edit]:
    """The edits ``--fix`` makes: each RUN that only re-modes copied files goes, and its
    COPY/ADD gets ``--chmod``/``--chown``."""
    by_run: dict[int, list[ModeMatch]] = {}
    for match in mode_matches(ctx):
        by_run.setdefault(id(match.run), []).append(match)
    flags: dict[int, dict[str, str]] = {}
    copies: dict[int, Copy | Add] = {}
    runs: list[Run] = []
    for matches in by_run.values():
        run = matches[0].run.instruction
        assert isinstance(run, Run)
        facts = ctx.run_facts(run)
        changes = {id(m.change.command) for m in matches}
        others = [c for c in facts.commands if id(c) not in changes and c.name not in _HARMLESS]
        if others or len(changes) != len(facts.mode_changes) or run.mounts:
            continue
        planned: dict[int, dict[str, str]] = {}
        for match in matches:
            value = _exact_value(ctx, match)
            copy = match.copy.instruction
            if value is None or not isinstance(copy, Copy | Add):
                break
            wanted = planned.setdefault(id(copy), dict(flags.get(id(copy), {})))
            if wanted.get(match.flag, value) != value:
                break
            wanted[match.flag] = value
            copies[id(copy)] = copy
        else:
            flags.update(planned)
            runs.append(run)
    edits = [_copy_edit(ctx, copies[key], wanted) for key, wanted in flags.items()]
    edits += [Edit(r.start_line, r.end_line, (), f"line {r.start_line}: RUN removed") for r in runs]
    return sorted(edits, key=lambda e: e.start)


def _copy_edit(ctx: LintContext, copy: Copy | Add, flags: Mapping[str, str]) -> Edit:
    line = ctx.line_text(copy.start_line)
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    keyword = stripped.split(None, 1)[0]
    rest = stripped[len(keyword) :]
    added = " ".join(f"{flag}={value}" for flag, value in sorted(flags.items()))
    new = f"{indent}{keyword} {added}{rest}"
    note = f"line {copy.start_line}: {copy.keyword} {added}"
    return Edit(copy.start_line, copy.start_line, (new,), note)


def apply_edits(text: str, edits: list[Edit]) -> str:
    """``text`` with ``edits`` (non-overlapping) applied; line endings are kept."""
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        ending = lines[edit.end - 1][len(lines[edit.end - 1].rstrip("\r\n")) :] or newline
        lines[edit.start - 1 : edit.end] = [line + ending for line in edit.lines]
    return "".join(lines)


def fix_text(
    text: str,
    file: str = "Dockerfile",
    *,
    context_dir: Path | None = None,
    dockerfile_path: Path | None = None,
    target: str | None = None,
) -> FixResult:
    """Apply the safe fixes to ``text``; the result says what changed, with a diff.

    Raises what :func:`~dockwright.lint.engine.build_context` raises.
    """
    ctx = build_context(
        text, file, context_dir=context_dir, dockerfile_path=dockerfile_path, target=target
    )
    edits = safe_edits(ctx)
    fixed = apply_edits(text, edits) if edits else text
    notes = [e.note for e in edits]
    if edits:
        ctx = build_context(
            fixed, file, context_dir=context_dir, dockerfile_path=dockerfile_path, target=target
        )
    if any(True for _ in TOOLCHAIN_IN_FINAL_IMAGE.check(ctx)):
        rewrite = multistage_edit(ctx)
        if rewrite is not None:
            start, end, lines, note = rewrite
            fixed = apply_edits(fixed, [Edit(start, end, tuple(lines), note)])
            notes.append(note)
    if not notes:
        return FixResult(text, (), "")
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            fixed.splitlines(keepends=True),
            fromfile=f"a/{file}",
            tofile=f"b/{file}",
        )
    )
    return FixResult(fixed, tuple(notes), diff)
