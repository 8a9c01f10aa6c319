"""The copy snapshotter, for hosts where overlay mounts do not work (no root, old kernel).

A layer is kept as its uncompressed tar (``copy-layers/<hex>/layer.tar``); a snapshot
applies the tars of its lowers into a fresh directory with :func:`extract_layer` (so the
same hostile-archive protections hold), records a baseline of every path, and finds the
diff by walking the tree again and comparing. Slower than overlayfs, the same results.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, cast

from dockwright.errors import StoreError
from dockwright.image.digest import Digest
from dockwright.image.extract import ExtractCompression, decompressed, extract_layer
from dockwright.image.layer import CHUNK_SIZE, LayerEntry, write_layer
from dockwright.snapshot.base import Active, _Base, _Owned, compression_of
from dockwright.snapshot.diff import EntryBuilder

_TAR = "layer.tar"
# Marks each directory of the baseline with its own path: inode numbers are reused at once,
# so "rm -rf d; mkdir d" could otherwise look like the same directory.
_MARK = "user.dockwright.baseline"
# What must stay equal for a path to count as unchanged.
_Signature = tuple[int, int, int, int, int, int, int, int, str | None]


def _signature(path: str, st: os.stat_result) -> _Signature:
    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return (
        st.st_ino,
        st.st_mode,
        st.st_uid,
        st.st_gid,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_rdev,
        link,
    )


def _walk(root: Path) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative path, full path, lstat) of everything below ``root``, parents first."""
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as it:
            children = list(it)
        for child in children:
            st = child.stat(follow_symlinks=False)
            rel = prefix + child.name
            yield rel, child.path, st
            if stat.S_ISDIR(st.st_mode):
                stack.append((child.path, rel + "/"))


def _in_dir(rel: str, current: dict[str, tuple[str, os.stat_result]]) -> bool:
    parent = rel.rpartition("/")[0]
    if not parent:
        return True
    found = current.get(parent)
    return found is not None and stat.S_ISDIR(found[1].st_mode)


def _replaced(rel: str, full: str, st: os.stat_result, old: _Signature, marked: bool) -> bool:
    if old[0] != st.st_ino or not stat.S_ISDIR(old[1]):
        return True
    if not marked:
        return False
    try:
        return os.getxattr(full, _MARK, follow_symlinks=False) != os.fsencode(rel)
    except OSError:
        return True


def _baseline(root: Path) -> tuple[dict[str, _Signature], bool]:
    baseline: dict[str, _Signature] = {}
    marked = True
    for rel, full, walked in _walk(root):
        st = walked
        if marked and stat.S_ISDIR(st.st_mode):
            try:
                os.setxattr(full, _MARK, os.fsencode(rel), follow_symlinks=False)
                st = os.lstat(full)
            except OSError:
                marked = False
        baseline[rel] = _signature(full, st)
    return baseline, marked


def tree_changes(
    root: Path, baseline: dict[str, _Signature], clamp_mtime: int | None, marked: bool = False
) -> list[LayerEntry]:
    """The diff between the tree at ``root`` and ``baseline``, as overlayfs would record it."""
    builder = EntryBuilder(clamp_mtime)
    current: dict[str, tuple[str, os.stat_result]] = {}
    replaced: set[str] = set()  # directories re-created: everything below them is new
    changed: set[str] = set()
    for rel, full, st in _walk(root):
        current[rel] = (full, st)
        parent = rel.rpartition("/")[0]
        old = baseline.get(rel)
        if parent in replaced or old is None:
            changed.add(rel)
            if stat.S_ISDIR(st.st_mode) and (old is not None or parent in replaced):
                replaced.add(rel)
        elif old != _signature(full, st):
            changed.add(rel)
            if stat.S_ISDIR(st.st_mode) and _replaced(rel, full, st, old, marked):
                replaced.add(rel)
    deleted = [rel for rel in baseline if rel not in current and _in_dir(rel, current)]
    # Overlayfs copies up the parents of every change: record them too.
    for rel in [*changed, *deleted]:
        parent = rel.rpartition("/")[0]
        while parent and parent not in changed:
            changed.add(parent)
            parent = parent.rpartition("/")[0]
    for rel in changed:
        full, st = current[rel]
        builder.add(rel, Path(full), st)
        if rel in replaced and rel in baseline and rel.rpartition("/")[0] not in replaced:
            builder.opaque(rel)
    for rel in deleted:
        parent = rel.rpartition("/")[0]
        if parent not in replaced:
            builder.whiteout(rel)

    def unchanged_dir(rel: str, st: os.stat_result) -> bool:
        old = baseline.get(rel)
        return (
            old is not None
            and rel not in replaced
            and (old[1], old[2], old[3], old[5])
            == (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns)
        )

    return builder.result(unchanged_dir)


class CopyActive:
    """A snapshot as a private copy of its lowers; ``root`` is that tree."""

    def __init__(
        self, snapshotter: CopySnapshotter, owned: _Owned, root: Path, writable: bool
    ) -> None:
        self.root = root
        self._snapshotter = snapshotter
        self._owned = owned
        self._writable = writable
        self._baseline, self._marked = _baseline(root) if writable else ({}, False)
        self._last: list[LayerEntry] | None = None

    def changes(self, *, clamp_mtime: int | None = None) -> list[LayerEntry]:
        """The diff against the lowers, found by comparing the tree with its baseline."""
        if not self._writable:
            return []
        self._last = tree_changes(self.root, self._baseline, clamp_mtime, self._marked)
        return self._last

    def keep(self, diff_id: Digest) -> None:
        """Store the last :meth:`changes` (or the current ones) as the layer ``diff_id``."""
        if not self._writable:
            raise StoreError("a read-only snapshot has no changes to keep")
        if self._snapshotter.has(diff_id):
            return
        entries = self._last if self._last is not None else self.changes()
        layer = self._owned.path / "layer"
        layer.mkdir()
        with (layer / _TAR).open("wb") as out:
            write_layer(entries, out, compression="none")
        self._snapshotter._publish(layer, diff_id)


class CopySnapshotter(_Base):
    """Layers as tars; snapshots as extracted copies (see the module notes)."""

    layers_name = "copy-layers"

    def _fill(self, dest: Path, opener: Callable[[], BinaryIO], media_type: str) -> None:
        compression = cast(ExtractCompression, compression_of(media_type))
        with opener() as blob, (dest / _TAR).open("wb") as out:
            stream = decompressed(blob, compression)
            while chunk := stream.read(CHUNK_SIZE):
                out.write(chunk)
        # Extract once to check the layer now, rather than at its first mount.
        check = dest / "check"
        check.mkdir()
        extract_layer(dest / _TAR, check, compression="none", allow_devices=True)
        shutil.rmtree(check)

    @contextlib.contextmanager
    def mount(self, lowers: Sequence[Digest], *, writable: bool = True) -> Iterator[Active]:
        """A fresh tree holding ``lowers`` applied in order; read-only is not enforced."""
        dirs = self._lower_dirs(lowers)
        with self._active_dir() as owned:
            tree = owned.path / "merged"
            tree.mkdir()
            for layer in dirs:
                try:
                    extract_layer(layer / _TAR, tree, compression="none", allow_devices=True)
                except OSError as exc:
                    raise StoreError(f"cannot copy layer {layer.name}: {exc.strerror}") from exc
            yield CopyActive(self, owned, tree, writable)
