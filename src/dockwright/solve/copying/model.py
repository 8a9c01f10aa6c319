"""The values COPY and ADD work on: the source tree, the request, the selection, the error."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dockwright.errors import DockwrightError

__all__ = ["CopyRequest", "CopySourceError", "Entry", "SourceTree", "Unit"]


class CopySourceError(DockwrightError):
    """A COPY/ADD that cannot be carried out: a missing source, a bad flag value, a conflict.

    The message names the source (or flag); the solver adds the Dockerfile's file and line.
    """


@dataclass(frozen=True, slots=True)
class SourceTree:
    """Where sources are read: the build context, or a stage's or image's rootfs view."""

    root: Path
    kind: Literal["context", "rootfs"]
    # Context only: True when a relative '/'-separated path is excluded by .dockerignore.
    ignore: Callable[[str], bool] | None = None


@dataclass(frozen=True, slots=True)
class CopyRequest:
    """One COPY or ADD instruction, its words already expanded."""

    sources: tuple[str, ...]
    dest: str
    workdir: str
    chown: str | None = None
    chmod: str | None = None
    parents: bool = False
    exclude: tuple[str, ...] = ()
    link: bool = False
    add: bool = False
    unpack: bool | None = None
    checksum: str | None = None
    keep_git_dir: bool = False
    heredocs: tuple[tuple[str, bytes], ...] = ()
    mtime: int | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One filesystem object to copy: its path inside its unit ('' is the unit's root)."""

    rel: str
    host: str
    stat: os.stat_result


@dataclass(frozen=True, slots=True)
class Unit:
    """What one matched source contributes.

    ``name`` is the base name it takes when copied into a directory; ``prefix`` is the
    directory path --parents recreates under the destination ('' otherwise), its directories
    made with their source's mode and owner rules (``prefix_dirs``). A directory
    unit's entries are its contents (the directory itself is ``entries[0]``, rel '').
    ``zero_owner``: its entries are recorded as 0:0 (the context, URLs, git, heredocs).
    ``archive``: ADD may unpack it (a local file). ``source`` is the source as written.
    """

    source: str
    name: str
    prefix: str
    is_dir: bool
    entries: tuple[Entry, ...]
    zero_owner: bool
    archive: bool = False
    # --parents: the source directories along ``prefix``, one per component, outermost first.
    prefix_dirs: tuple[Entry, ...] = ()
