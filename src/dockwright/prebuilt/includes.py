"""``--include SRC:DEST``: extra files from the host placed in the binary's layer."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from dockwright.errors import UsageError

if TYPE_CHECKING:
    from dockwright.image.layer import LayerEntry


@dataclass(frozen=True, slots=True)
class Include:
    """A host file or folder ``src`` copied to the absolute image path ``dest``."""

    src: Path
    dest: str


def parse_include(text: str, base_dir: Path | None = None) -> Include:
    """Parse ``SRC:DEST``; DEST must be absolute and SRC must exist."""
    src_text, sep, dest = text.rpartition(":")
    if not sep or not src_text or not dest:
        raise UsageError(f"invalid --include {text!r}", hint="use SRC:DEST, e.g. ./static:/www")
    if not dest.startswith("/"):
        raise UsageError(f"--include destination {dest!r} must be an absolute image path")
    if ".." in PurePosixPath(dest).parts:
        raise UsageError(f"--include destination {dest!r} must not contain '..'")
    src = Path(src_text)
    if base_dir is not None and not src.is_absolute():
        src = base_dir / src
    if not src.exists() and not src.is_symlink():
        raise UsageError(f"--include source {src_text!r} does not exist")
    return Include(src, dest)


def _mode(st: os.stat_result) -> int:
    # Host permission bits depend on umask and checkout tools; keep only what matters.
    if stat.S_ISDIR(st.st_mode):
        return 0o755
    return 0o755 if st.st_mode & 0o111 else 0o644


def _walk(include: Include) -> list[tuple[str, Path, os.stat_result]]:
    root_st = include.src.lstat()
    items = [(include.dest.rstrip("/") or "/", include.src, root_st)]
    if stat.S_ISDIR(root_st.st_mode):
        for folder, dirs, files in os.walk(include.src):
            dirs.sort()
            for name in sorted(dirs + files):
                path = Path(folder) / name
                rel = path.relative_to(include.src).as_posix()
                items.append((f"{include.dest.rstrip('/')}/{rel}", path, path.lstat()))
    return items


def include_entries(includes: Sequence[Include]) -> list[LayerEntry]:
    """Layer entries for the includes: owned by root, modes 0644/0755, symlinks kept."""
    from dockwright.image.layer import LayerEntry  # noqa: PLC0415 - tar/gzip are heavy

    entries: list[LayerEntry] = []
    for include in includes:
        for dest, path, st in _walk(include):
            if stat.S_ISDIR(st.st_mode):
                entries.append(LayerEntry(dest, kind="dir", mode=0o755))
            elif stat.S_ISLNK(st.st_mode):
                entries.append(
                    LayerEntry(dest, kind="symlink", mode=0o777, linkname=os.readlink(path))
                )
            elif stat.S_ISREG(st.st_mode):
                entries.append(LayerEntry(dest, source=path, mode=_mode(st)))
            else:
                raise UsageError(f"--include {path}: only files, folders and symlinks are allowed")
    return entries


def includes_digest(includes: Sequence[Include]) -> str:
    """A digest of everything the includes would put in the layer (paths, kinds, modes,
    link targets, file bytes), to key the layer cache."""
    import hashlib  # noqa: PLC0415 - kept off the command line's start-up path

    total = hashlib.sha256()
    for include in includes:
        for dest, path, st in _walk(include):
            total.update(f"{dest}\0{_mode(st):o}\0{st.st_size}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                total.update(b"L" + os.readlink(path).encode())
            elif stat.S_ISREG(st.st_mode):
                with path.open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        total.update(chunk)
            total.update(b"\n")
    return total.hexdigest()
