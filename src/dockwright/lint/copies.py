"""What a COPY or ADD puts into the image: the paths it writes, as far as the text tells.

A source directory's *contents* land in the destination; a file lands at ``dest/<name>``
when the destination is a directory (ends with ``/`` or there are several sources), else at
``dest``. Whether a source is a directory is known for ``.``, a trailing ``/``, or by looking
in the build context when there is one; otherwise dockwright claims only what is certain.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dockwright.dockerfile import Add, Copy
from dockwright.lint.paths import has_glob, resolve

__all__ = ["ARCHIVE", "CopyTarget", "copy_targets", "is_url", "whole_context"]

ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tar\.lz4)$", re.I)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^git@")


@dataclass(frozen=True, slots=True)
class CopyTarget:
    """A path a COPY/ADD writes: a file (``tree`` false) or a directory it fills."""

    path: str
    source: str
    tree: bool


def is_url(source: str) -> bool:
    """Whether an ADD source is remote (an URL or a git address)."""
    return bool(_URL.match(source))


def whole_context(source: str) -> bool:
    """Whether a COPY source is the whole build context (``.``, ``./``, ``*``, ``/``)."""
    cleaned = posixpath.normpath(source) if source else source
    return cleaned in (".", "/", "*", "./*") or source in ("./", "*")


def _source_is_dir(source: str, context_dir: Path | None) -> bool | None:
    if whole_context(source) or source.endswith("/"):
        return True
    if has_glob(source) or "$" in source:
        return None
    if context_dir is not None:
        candidate = context_dir / posixpath.normpath(source).lstrip("/")
        if candidate.is_dir():
            return True
        if candidate.is_file():
            return False
    return None


def copy_targets(
    instruction: Copy | Add,
    workdir: str,
    env: Mapping[str, str],
    context_dir: Path | None = None,
) -> list[CopyTarget]:
    """The paths ``instruction`` writes, resolved against ``workdir`` and ``env``."""
    dest = resolve(instruction.dest, workdir, env) if instruction.dest else None
    if dest is None:
        return []
    count = len(instruction.sources) + len(instruction.heredoc_sources)
    dest_is_dir = instruction.dest.endswith("/") or count > 1
    local_context = None if isinstance(instruction, Copy) and instruction.from_ else context_dir
    targets: list[CopyTarget] = []
    for source in instruction.sources:
        name = posixpath.basename(source.rstrip("/").split("?")[0])
        if isinstance(instruction, Add) and is_url(source):
            path = posixpath.join(dest, name) if dest_is_dir else dest
            targets.append(CopyTarget(path, source, tree=False))
            continue
        if isinstance(instruction, Add) and ARCHIVE.search(source):
            targets.append(CopyTarget(dest, source, tree=True))
            continue
        is_dir = _source_is_dir(source, local_context)
        if is_dir or has_glob(source):
            targets.append(CopyTarget(dest, source, tree=True))
        elif is_dir is False:
            path = posixpath.join(dest, name) if dest_is_dir else dest
            targets.append(CopyTarget(path, source, tree=False))
        elif dest_is_dir:
            # a file lands at dest/name; a directory's contents land in dest: claim the file
            targets.append(CopyTarget(posixpath.join(dest, name), source, tree=False))
        else:
            targets.append(CopyTarget(dest, source, tree=True))
    for heredoc in instruction.heredoc_sources:
        path = posixpath.join(dest, heredoc.name) if dest_is_dir else dest
        targets.append(CopyTarget(path, "<<" + heredoc.name, tree=False))
    return targets
