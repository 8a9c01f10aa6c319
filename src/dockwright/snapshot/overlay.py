"""The overlayfs snapshotter: lowers are unpacked layers, the upper directory is the diff.

A layer is unpacked once into ``layers/<hex>/fs`` in overlayfs's own lower format
(whiteouts as 0/0 character devices, opaque directories marked with
``trusted.overlay.opaque=y``). A snapshot mounts the lowers with a fresh upper directory;
after the step, the upper directory *is* the diff, and :meth:`OverlayActive.keep` renames it
into place as the next layer's lower, with no second extraction.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, cast

from dockwright.errors import DockwrightError, StoreError
from dockwright.image.digest import Digest
from dockwright.image.layer import LayerEntry
from dockwright.snapshot import mounts
from dockwright.snapshot.base import Active, _Base, _Owned, compression_of
from dockwright.snapshot.diff import EntryBuilder

_OPAQUE_XATTR = "trusted.overlay.opaque"
_FS = "fs"


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, _OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _same_as_lowers(lowers: Sequence[Path]) -> Callable[[str, os.stat_result], bool]:
    def check(rel: str, st: os.stat_result) -> bool:
        for lower in reversed(lowers):
            try:
                old = os.lstat(lower / rel)
            except (FileNotFoundError, NotADirectoryError):
                continue
            return stat.S_ISDIR(old.st_mode) and (
                old.st_mode,
                old.st_uid,
                old.st_gid,
                old.st_mtime_ns,
            ) == (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns)
        return False

    return check


def upper_changes(
    upper: Path, clamp_mtime: int | None, lowers: Sequence[Path] = ()
) -> list[LayerEntry]:
    """The layer entries an overlay upper directory stands for (``lowers``: bottom first)."""
    builder = EntryBuilder(clamp_mtime)
    stack: list[tuple[str, str]] = [(str(upper), "")]
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as it:
            children = list(it)
        for child in children:
            rel = prefix + child.name
            st = child.stat(follow_symlinks=False)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                builder.whiteout(rel)
                continue
            builder.add(rel, Path(child.path), st)
            if stat.S_ISDIR(st.st_mode):
                if _is_opaque(child.path):
                    builder.opaque(rel)
                stack.append((child.path, rel + "/"))
    return builder.result(_same_as_lowers(lowers))


class OverlayActive:
    """A mounted overlay snapshot; ``root`` is the merged view."""

    def __init__(
        self,
        snapshotter: OverlaySnapshotter,
        owned: _Owned,
        root: Path,
        writable: bool,
        lowers: Sequence[Path],
    ) -> None:
        self.root = root
        self._lowers = lowers
        self._snapshotter = snapshotter
        self._owned = owned
        self._writable = writable
        self.upper = owned.path / "upper"

    def changes(self, *, clamp_mtime: int | None = None) -> list[LayerEntry]:
        """The diff against the lowers: the upper directory's contents as layer entries."""
        if not self._writable:
            return []
        return upper_changes(self.upper, clamp_mtime, self._lowers)

    def keep(self, diff_id: Digest) -> None:
        """Unmount and move the upper directory into place as the layer ``diff_id``."""
        if not self._writable:
            raise StoreError("a read-only snapshot has no changes to keep")
        mounts.unmount(self.root)
        if self._snapshotter.has(diff_id):
            return
        layer = self._owned.path / "layer"
        layer.mkdir()
        os.rename(self.upper, layer / _FS)
        self._snapshotter._publish(layer, diff_id)


class OverlaySnapshotter(_Base):
    """Layers as overlayfs lowers; snapshots as overlay mounts (see the module notes)."""

    layers_name = "layers"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        # Overlayfs refuses the same directory twice: two empty ones, for scratch views.
        self._empty = (root / "empty", root / "empty2")
        for path in self._empty:
            path.mkdir(exist_ok=True)
        self._empty_layers: dict[Path, bool] = {}

    def _fill(self, dest: Path, opener: Callable[[], BinaryIO], media_type: str) -> None:
        fs = dest / _FS
        fs.mkdir()
        from dockwright.image.extract import (  # noqa: PLC0415 - only to unpack a layer
            ExtractCompression,
            extract_layer,
        )

        compression = cast(ExtractCompression, compression_of(media_type))
        with opener() as blob:
            extract_layer(
                blob,
                fs,
                compression=compression,
                whiteouts="overlay",
                allow_devices=True,
                preserve_owner=True,
            )

    def _stack(self, layers: Sequence[Path]) -> list[Path]:
        """The lower directories to mount for ``layers`` (bottom first): empty layers left out
        (``RUN true`` gives one), and a layer that appears twice (two steps with the same
        result) only at its topmost place. Overlayfs refuses the same directory twice
        (ELOOP), and both rules keep the merged view exactly the same: an empty directory adds
        nothing, and a layer's upper copy already decides every path its lower copy would.
        Fewer lowers also make every lookup through the mount cheaper."""
        dirs: list[Path] = []
        seen: set[Path] = set()
        for layer in reversed(layers):
            fs = layer / _FS
            if fs in seen or self._is_empty(fs):
                continue
            seen.add(fs)
            dirs.append(fs)
        dirs.reverse()
        return dirs

    def _is_empty(self, fs: Path) -> bool:
        # Layers never change once published, so the answer is kept per snapshotter.
        known = self._empty_layers.get(fs)
        if known is None:
            with os.scandir(fs) as entries:
                known = next(entries, None) is None
            self._empty_layers[fs] = known
        return known

    def _cleanup_active(self, path: Path) -> None:
        merged = path / "merged"
        if merged.is_dir():
            while mounts.unmount(merged):
                pass

    @contextlib.contextmanager
    def mount(self, lowers: Sequence[Digest], *, writable: bool = True) -> Iterator[Active]:
        """An overlay of ``lowers`` at ``Active.root``; writable into a fresh upper dir."""
        dirs = self._stack(self._lower_dirs(lowers))
        # Overlayfs wants two lowers when there is no upper, and one at least with it.
        if len(dirs) < (1 if writable else 2):
            dirs = [*self._empty[len(dirs) :], *dirs]
        with self._active_dir() as owned:
            merged = owned.path / "merged"
            merged.mkdir()
            upper = work = None
            if writable:
                upper, work = owned.path / "upper", owned.path / "work"
                upper.mkdir()
                work.mkdir()
            try:
                mounts.mount_overlay(merged, dirs, upper, work)
            except OSError as exc:
                raise StoreError(f"cannot mount the snapshot: {exc.strerror}") from exc
            active = OverlayActive(self, owned, merged, writable, dirs)
            try:
                yield active
            finally:
                mounts.unmount(merged)

    def probe(self) -> bool:
        """Whether an overlay with a whiteout and an opaque directory mounts and works here."""
        owned = _Owned(self._tmp)
        try:
            base = owned.path
            names = ("low1", "low2", "upper", "work", "merged")
            low1, low2, upper, work, merged = (base / name for name in names)
            for path in (low1, low2, upper, work, merged):
                path.mkdir()
            (low1 / "gone").write_text("x")
            (low1 / "dir").mkdir()
            (low1 / "dir" / "hidden").write_text("x")
            os.mknod(low2 / "gone", stat.S_IFCHR, os.makedev(0, 0))
            (low2 / "dir").mkdir()
            os.setxattr(low2 / "dir", _OPAQUE_XATTR, b"y")
            mounts.mount_overlay(merged, [low1, low2], upper, work)
            try:
                (merged / "new").write_text("y")
                ok = sorted(os.listdir(merged)) == ["dir", "new"] and not os.listdir(merged / "dir")
            finally:
                mounts.unmount(merged)
            return ok and (upper / "new").read_text() == "y"
        except (OSError, DockwrightError):
            return False
        finally:
            owned.release(self._cleanup_active)
