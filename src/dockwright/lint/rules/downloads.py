"""Rules about what a build fetches from the network."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from dockwright.dockerfile import Add, Run
from dockwright.lint.copies import is_url
from dockwright.lint.engine import LintContext
from dockwright.lint.facts import Download
from dockwright.lint.findings import Finding, Rule, Severity
from dockwright.lint.graph import StageInfo

__all__ = ["DOWNLOAD_WITHOUT_CHECKSUM"]

_RUNNERS = frozenset({"sh", "bash", "ash", "dash", "zsh", "python", "python3", "perl", "ruby"})
_UNPACKERS = frozenset(
    {"tar", "gunzip", "gzip", "unzip", "bsdtar", "xz", "zcat", "bzip2", "zstd", "dpkg", "rpm"}
)
# Files that are themselves the means of checking: checksums, signatures, public keys.
_CHECK_MATERIAL = re.compile(
    r"(\.(sha1|sha256|sha512|sha256sum|sha512sum|md5|asc|sig|sign|gpg|pub|key|pem|crt)|"
    r"SHA\d*SUMS[^/]*|checksums?[^/]*\.txt|KEYS)$",
    re.IGNORECASE,
)


def _name(download: Download) -> str:
    url = download.url or ""
    return posixpath.basename(url.split("?")[0].rstrip("/")) or url


def _verified(ctx: LintContext, run: Run, later: list[Run], download: Download) -> bool:
    """Checked in the same RUN, or in a later RUN of the stage that names the file."""
    if ctx.run_facts(run).verifies:
        return True
    name = posixpath.basename(download.output or "") or _name(download)
    return any(
        ctx.run_facts(r).verifies and name and name in ctx.run_facts(r).script for r in later
    )


def _check(ctx: LintContext) -> Iterator[Finding]:
    for info in ctx.stages:
        runs = [s.instruction for s in ctx.steps[info.index] if isinstance(s.instruction, Run)]
        for step in ctx.steps[info.index]:
            instruction = step.instruction
            if isinstance(instruction, Add):
                yield from _check_add(ctx, instruction, step.stage)
                continue
            if not isinstance(instruction, Run):
                continue
            later = runs[runs.index(instruction) + 1 :]
            for download in ctx.run_facts(instruction).downloads:
                if download.url and _CHECK_MATERIAL.search(download.url.split("?")[0]):
                    continue
                message = _message(ctx, instruction, later, download)
                if message is None:
                    continue
                target = download.output or "the file"
                fix = (
                    f'check it in the same RUN: echo "<sha256>  {target}" | sha256sum -c - '
                    "(or gpg --verify against the publisher's key), or use ADD "
                    "--checksum=sha256:<sha256> <url> <dest>"
                )
                if download.piped_to:
                    fix = (
                        'download to a file, check it (echo "<sha256>  file" | sha256sum -c -), '
                        f"then run {download.piped_to} on it — or use ADD --checksum=sha256:…"
                    )
                yield ctx.finding(
                    DOWNLOAD_WITHOUT_CHECKSUM, instruction, message, stage=step.stage, fix=fix
                )


def _message(ctx: LintContext, run: Run, later: list[Run], download: Download) -> str | None:
    name = _name(download)
    text = download.command.text
    piped = download.piped_to
    if piped in _RUNNERS:
        return (
            f"`{text} | {piped}` runs a script fetched from {download.url} without checking "
            "it: whatever the server sends is executed in the build"
        )
    if piped in _UNPACKERS:
        return (
            f"`{text} | {piped}` unpacks {name} straight from the network: no checksum can "
            "be checked, and a changed or tampered archive goes into the image unnoticed"
        )
    if piped is not None:
        return None
    if _verified(ctx, run, later, download):
        return None
    saved = f" to {download.output}" if download.output else ""
    return (
        f"`{text}` downloads {name}{saved} with no checksum check (no sha256sum -c, gpg "
        "--verify or ADD --checksum): a changed or tampered file goes into the build unnoticed"
    )


def _check_add(ctx: LintContext, add: Add, stage: StageInfo) -> Iterator[Finding]:
    if add.checksum:
        return
    for source in add.sources:
        if not is_url(source) or not source.lower().startswith(("http://", "https://")):
            continue
        path = source.split("?")[0].split("#")[0]
        if path.endswith(".git") or _CHECK_MATERIAL.search(path):
            continue
        message = (
            f"ADD {source} downloads with no checksum: a changed or tampered file goes into "
            "the image unnoticed"
        )
        fix = f"ADD --checksum=sha256:<sha256> {source} {add.dest}"
        yield ctx.finding(DOWNLOAD_WITHOUT_CHECKSUM, add, message, stage=stage, fix=fix)


DOWNLOAD_WITHOUT_CHECKSUM: Rule[LintContext] = Rule(
    id="DW008",
    name="download-without-checksum",
    severity=Severity.WARNING,
    doc=(
        "A toolchain, archive or script fetched with curl/wget and used without a checksum "
        "or signature check: `curl … | sh`, `wget -O- … | tar x`, or `curl -o file` with no "
        "`sha256sum -c`/`sha512sum -c`/`gpg --verify` in the same RUN or a later one of the "
        "stage; and `ADD https://…` without --checksum. Checksum files, signatures and keys "
        "themselves are not reported. Judged in every stage (a builder's download ends up in "
        "what it builds)."
    ),
    check=_check,
)
