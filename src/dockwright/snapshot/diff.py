"""Layer entries from files on disk: one per changed path, hard links grouped by inode."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dockwright.image.layer import EntryKind, LayerEntry, sort_key

DirCheck = Callable[[str, os.stat_result], bool]
"""Whether the directory at a path, with this stat, looks exactly as the lowers have it."""

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class EntryBuilder:
    """Collects entries for one diff; files sharing an inode become hard links."""

    def __init__(self, clamp_mtime: int | None) -> None:
        self._clamp = clamp_mtime
        self._entries: list[LayerEntry] = []
        self._inodes: dict[str, tuple[int, int]] = {}
        self._dirs: dict[str, os.stat_result] = {}

    def _mtime(self, st: os.stat_result) -> int:
        mtime = max(int(st.st_mtime), 0)
        return mtime if self._clamp is None else min(mtime, self._clamp)

    def add(self, rel: str, full: Path, st: os.stat_result) -> None:
        """Add the entry for ``rel`` (its file on disk is ``full``); sockets are skipped."""
        mode = st.st_mode
        perm, uid, gid, mtime = stat.S_IMODE(mode), st.st_uid, st.st_gid, self._mtime(st)
        entry: LayerEntry | None = None
        if stat.S_ISREG(mode):
            entry = LayerEntry(rel, "file", perm, uid, gid, source=full, mtime=mtime)
            if st.st_nlink > 1:
                self._inodes[rel] = (st.st_dev, st.st_ino)
        elif stat.S_ISDIR(mode):
            entry = LayerEntry(rel, "dir", perm, uid, gid, mtime=mtime)
            self._dirs[rel] = st
        elif stat.S_ISLNK(mode):
            target = os.readlink(full)
            entry = LayerEntry(rel, "symlink", perm, uid, gid, linkname=target, mtime=mtime)
        elif stat.S_ISFIFO(mode):
            entry = LayerEntry(rel, "fifo", perm, uid, gid, mtime=mtime)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
            kind: EntryKind = "chardev" if stat.S_ISCHR(mode) else "blockdev"
            entry = LayerEntry(
                rel, kind, perm, uid, gid, mtime=mtime, devmajor=major, devminor=minor
            )
        if entry is not None:
            self._entries.append(entry)

    def whiteout(self, rel: str) -> None:
        """Record the deletion of ``rel``."""
        parent, _, name = rel.rpartition("/")
        path = f"{parent}/{WHITEOUT_PREFIX}{name}" if parent else WHITEOUT_PREFIX + name
        self._entries.append(LayerEntry(path, "file", mode=0o644, mtime=0))

    def opaque(self, rel: str) -> None:
        """Record that the directory ``rel`` hides everything below it in the lowers."""
        self._entries.append(LayerEntry(f"{rel}/{OPAQUE_MARKER}", "file", mode=0o644, mtime=0))

    def result(self, unchanged_dir: DirCheck | None = None) -> list[LayerEntry]:
        """The entries in :func:`write_layer` order; the first path of an inode holds it.

        With ``unchanged_dir``, a directory with nothing changed below it that the check
        finds equal to the lowers' is left out (e.g. one a sandbox made a mount point in and
        cleaned up), so a step that changed nothing gives an empty diff.
        """
        entries = sorted(self._entries, key=lambda entry: sort_key(entry.path))
        if unchanged_dir is not None:
            entries = self._prune_dirs(entries, unchanged_dir)
        first: dict[tuple[int, int], str] = {}
        for index, entry in enumerate(entries):
            key = self._inodes.get(entry.path)
            if key is None:
                continue
            if key in first:
                entries[index] = replace(entry, kind="hardlink", source=None, linkname=first[key])
            else:
                first[key] = entry.path
        return entries

    def _prune_dirs(self, entries: list[LayerEntry], unchanged_dir: DirCheck) -> list[LayerEntry]:
        kept: list[LayerEntry] = []
        parents: set[str] = set()
        # Reversed order visits everything below a directory before the directory itself.
        for entry in reversed(entries):
            path = entry.path
            if (
                entry.kind == "dir"
                and path not in parents
                and unchanged_dir(path, self._dirs[path])
            ):
                continue
            kept.append(entry)
            parent = path.rpartition("/")[0]
            while parent and parent not in parents:
                parents.add(parent)
                parent = parent.rpartition("/")[0]
        kept.reverse()
        return kept
