"""Rules about what COPY and ADD take from the build context.

Sources outside the context (DW003), the whole context copied with nothing kept out of it
(DW007), and, with ``--context``, sources that are missing (DW110) or that .dockerignore
excludes (DW111).
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

from dockwright.dockerfile import Add, Copy
from dockwright.dockerfile.ignore import ContextWalkError, IgnoreRules, walk_context
from dockwright.dockerfile.shell import ExpansionError, Lexer
from dockwright.lint.copies import is_url, whole_context
from dockwright.lint.engine import LintContext, Step
from dockwright.lint.findings import Finding, Rule, Severity

__all__ = [
    "COPY_ALL_WITHOUT_DOCKERIGNORE",
    "COPY_IGNORED_FILE",
    "SOURCE_NOT_FOUND",
    "SOURCE_OUTSIDE_CONTEXT",
    "sensitive_name",
]

# How many context entries to look at for sensitive files before giving up.
_WALK_LIMIT = 200_000
_SHOWN = 8
_SENSITIVE_DIRS = frozenset({".git", ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker"})
_SENSITIVE_FILES = (
    ".env",
    ".env.*",
    "*.env",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    ".npmrc",
    ".netrc",
    ".pypirc",
    ".git-credentials",
    ".htpasswd",
    "*.tfstate",
    "*.tfstate.*",
    "*.kdbx",
    "credentials.json",
    "service-account*.json",
)
_HARMLESS = re.compile(r"\.(pub|example|sample|template|dist|tmpl)$|\.env\.(example|sample)", re.I)


def sensitive_name(rel: str) -> str | None:
    """How a context path that should never enter an image is shown (``.git/``,
    ``config/.env``), or ``None`` for an ordinary file."""
    parts = rel.split("/")
    for index, part in enumerate(parts[:-1]):
        if part in _SENSITIVE_DIRS:
            return "/".join(parts[: index + 1]) + "/"
    name = parts[-1]
    if name in _SENSITIVE_DIRS:
        return rel + "/"
    if _HARMLESS.search(name):
        return None
    if any(fnmatchcase(name, pattern) for pattern in _SENSITIVE_FILES):
        return rel
    return None


def _sources(step: Step, lexer: Lexer) -> Iterator[tuple[str, str]]:
    """(as written, expanded) for each local source of a COPY/ADD from the context."""
    instruction = step.instruction
    if not isinstance(instruction, Copy | Add):
        return
    if isinstance(instruction, Copy) and instruction.from_:
        return
    for source in instruction.sources:
        if isinstance(instruction, Add) and is_url(source):
            continue
        expanded = source
        if "$" in source:
            try:
                result = lexer.process(source, step.env)
            except ExpansionError:
                continue
            if result.unset_used:
                continue
            expanded = result.value
        yield source, expanded


def _escapes(source: str) -> bool:
    cleaned = posixpath.normpath(source)
    return not source.startswith("/") and (cleaned == ".." or cleaned.startswith("../"))


def _check_outside(ctx: LintContext) -> Iterator[Finding]:
    lexer = Lexer(ctx.dockerfile.escape)
    for step in ctx.all_steps():
        for written, source in _sources(step, lexer):
            if not _escapes(source):
                continue
            inside = posixpath.normpath("/" + source).lstrip("/") or "."
            keyword = step.instruction.keyword
            message = (
                f"{keyword} source {written} is outside the build context: a build sees "
                f"only the context, and BuildKit reads it as {inside} inside the context, "
                "so the file beside the context is never copied (the build fails with "
                "'not found', or copies another file)"
            )
            fix = (
                "make the context a folder that contains the file (docker build -f "
                "path/to/Dockerfile <common parent>) and copy it by its path inside, or copy "
                "it from a build stage or a named context (--build-context)"
            )
            yield ctx.finding(
                SOURCE_OUTSIDE_CONTEXT, step.instruction, message, stage=step.stage, fix=fix
            )


SOURCE_OUTSIDE_CONTEXT: Rule[LintContext] = Rule(
    id="DW003",
    name="source-outside-context",
    severity=Severity.ERROR,
    doc=(
        "A COPY/ADD source that climbs out of the build context with `..` (`../bin/app`) "
        "cannot work: BuildKit resolves every source inside the context, so the build fails "
        "or copies a different file. An absolute source (`/etc/app.conf`) is read from the "
        "context's root, not the host's. Judged in every stage."
    ),
    check=_check_outside,
)


def _sensitive_in_context(ctx: LintContext) -> tuple[list[str], bool]:
    """Sensitive paths a whole-context COPY would take, and whether the walk was cut short."""
    if ctx.context_dir is None:
        return [], False
    rules = ctx.ignore if ctx.ignore is not None else IgnoreRules()
    found: list[str] = []
    shown: set[str] = set()
    try:
        for count, rel in enumerate(walk_context(ctx.context_dir, rules)):
            if count >= _WALK_LIMIT:
                return found, True
            name = sensitive_name(rel)
            if name is not None and name not in shown:
                shown.add(name)
                found.append(name)
    except ContextWalkError:
        return found, True
    return found, False


def _check_copy_all(ctx: LintContext) -> Iterator[Finding]:
    steps = [
        step
        for step in ctx.all_steps()
        if isinstance(step.instruction, Copy | Add)
        and not (isinstance(step.instruction, Copy) and step.instruction.from_)
        and any(whole_context(s) for s in step.instruction.sources)
    ]
    if not steps:
        return
    sensitive, cut = _sensitive_in_context(ctx)
    no_ignore = ctx.ignore_known and ctx.ignore is None
    if not sensitive and not no_ignore:
        return
    for step in steps:
        instruction = step.instruction
        assert isinstance(instruction, Copy | Add)
        whole = next(s for s in instruction.sources if whole_context(s))
        text = f"{instruction.keyword} {whole} {instruction.dest}"
        final = ctx.in_final(step.stage)
        into = "the image" if final else f"stage {step.stage.label} (and its cache key)"
        parts = []
        if no_ignore:
            parts.append(f"{text} copies the whole build context and there is no .dockerignore")
        else:
            parts.append(f"{text} copies the whole build context")
        severity = None
        if sensitive:
            listed = ", ".join(sensitive[:_SHOWN])
            more = len(sensitive) - _SHOWN
            if more > 0:
                listed += f" and {more} more"
            if cut:
                listed += " (the context was not searched to its end)"
            parts.append(f"these would enter {into}: {listed}")
            if final:
                severity = Severity.ERROR
        else:
            parts.append(
                f".git, local .env files, keys and build outputs would enter {into}, and every "
                "change to them rebuilds from here"
            )
        names = " ".join(dict.fromkeys(sensitive[:_SHOWN])) if sensitive else ".git .env* *.pem"
        fix = (
            f"add a .dockerignore with at least: {names}"
            if no_ignore
            else f"exclude them in {ctx.ignore_file.name if ctx.ignore_file else '.dockerignore'}:"
            f" {names}"
        )
        yield ctx.finding(
            COPY_ALL_WITHOUT_DOCKERIGNORE,
            instruction,
            "; ".join(parts),
            stage=step.stage,
            fix=fix,
            severity=severity,
        )


COPY_ALL_WITHOUT_DOCKERIGNORE: Rule[LintContext] = Rule(
    id="DW007",
    name="copy-all-without-dockerignore",
    severity=Severity.WARNING,
    doc=(
        "`COPY . .` or `ADD . .` copies the whole build context. Without a .dockerignore "
        "that means .git, local .env files, private keys and build outputs too: secrets in "
        "the image and a cache that breaks on every commit. With --context, dockwright names "
        "the sensitive files (.git, .env*, id_rsa*, *.pem, *.key, *.p12, .aws/, .npmrc, "
        ".netrc, …) that the .dockerignore in force lets through; the finding is an error "
        "when they would enter the final image."
    ),
    check=_check_copy_all,
)


def _context_matches(context: Path, source: str) -> list[str]:
    """Context-relative paths a COPY source names (Go-style globs), [] when none exist."""
    rel = posixpath.normpath("/" + source).lstrip("/") or "."
    if rel == ".":
        return ["."]
    if any(ch in rel for ch in "*?["):
        root = os.fspath(context)
        return sorted(
            os.path.relpath(p, root).replace(os.sep, "/")
            for p in glob.glob(os.path.join(root, rel), include_hidden=True)
        )
    return [rel] if os.path.lexists(context / rel) else []


def _check_not_found(ctx: LintContext) -> Iterator[Finding]:
    if ctx.context_dir is None or not ctx.context_dir.is_dir():
        return
    lexer = Lexer(ctx.dockerfile.escape)
    for step in ctx.all_steps():
        for written, source in _sources(step, lexer):
            if _escapes(source):
                continue
            if not _context_matches(ctx.context_dir, source):
                message = (
                    f"{step.instruction.keyword} source {written} is not in the build context "
                    f"{ctx.context_dir}: the build fails"
                )
                yield ctx.finding(
                    SOURCE_NOT_FOUND,
                    step.instruction,
                    message,
                    stage=step.stage,
                    fix="check the path (it is relative to the context, not the Dockerfile)",
                )


SOURCE_NOT_FOUND: Rule[LintContext] = Rule(
    id="DW110",
    name="copy-source-not-found",
    severity=Severity.ERROR,
    doc=(
        "With --context: a COPY/ADD source that matches nothing in the build context makes "
        "the build fail. Sources with variables that cannot be known are not judged."
    ),
    check=_check_not_found,
)


def _check_ignored(ctx: LintContext) -> Iterator[Finding]:
    if ctx.context_dir is None or ctx.ignore is None or not ctx.context_dir.is_dir():
        return
    lexer = Lexer(ctx.dockerfile.escape)
    for step in ctx.all_steps():
        for written, source in _sources(step, lexer):
            if _escapes(source) or whole_context(source):
                continue
            matches = _context_matches(ctx.context_dir, source)
            if matches and all(ctx.ignore.matches(m) for m in matches):
                where = ctx.ignore_file.name if ctx.ignore_file else ".dockerignore"
                message = (
                    f"{step.instruction.keyword} source {written} is excluded by {where}: the "
                    "build does not see it and fails"
                )
                yield ctx.finding(
                    COPY_IGNORED_FILE,
                    step.instruction,
                    message,
                    stage=step.stage,
                    fix=f"remove it from {where} (or add a `!{source}` exception)",
                )


COPY_IGNORED_FILE: Rule[LintContext] = Rule(
    id="DW111",
    name="copy-ignored-file",
    severity=Severity.ERROR,
    doc=(
        "With --context (BuildKit's CopyIgnoredFile): a COPY/ADD source that the "
        ".dockerignore in force excludes is not sent to the builder, so the build fails."
    ),
    check=_check_ignored,
)
