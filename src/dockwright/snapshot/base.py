"""What both snapshotters share: the Protocols, the on-disk layout, locks and recovery.

Layout under ``root``::

    <layers>/<hex>/        one unpacked layer (the back end decides what is inside),
                           plus meta.json (size on disk) and ``used`` (mtime = last use)
    active/<id>.lock       held (flock) by the process using active/<id>/
    active/<id>/           one mounted snapshot: upper/, work/, merged/ (or a copied tree)
    tmp/<id>.lock, tmp/<id>/   an unpack in progress, or a removed layer being deleted

Every directory that is not yet a layer lives under a lock file its owner holds with
``flock``; a directory whose lock can be taken (or that has no lock file) belongs to a dead
process, and :meth:`_Base.recover` deletes it. A layer appears by one ``rename``, so a
killed process never leaves a partial layer that :meth:`has` reports.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from dockwright.errors import NotFoundError, StoreError
from dockwright.image.digest import Digest
from dockwright.image.layer import LayerEntry

_LOCK_SUFFIX = ".lock"


@dataclass(frozen=True, slots=True)
class LayerUsage:
    """One unpacked layer: its diff_id, bytes on disk and last use (seconds since 1970)."""

    diff_id: Digest
    size: int
    last_used: float


class Active(Protocol):
    """One snapshot in use: a view of some layers at :attr:`root`, maybe writable."""

    root: Path

    def changes(self, *, clamp_mtime: int | None = None) -> list[LayerEntry]:
        """The changes made at :attr:`root` since the mount, as sorted layer entries.

        Files carry their content as ``source`` paths (valid until the snapshot is left).
        Deletions are ``.wh.NAME`` entries, replaced directories carry ``DIR/.wh..wh..opq``;
        ``mtime`` is each file's, no later than ``clamp_mtime`` when given. Call it after
        the processes writing to :attr:`root` have exited.
        """
        ...

    def keep(self, diff_id: Digest) -> None:
        """Keep this snapshot's changes as the unpacked layer ``diff_id`` (the caller wrote
        :meth:`changes` as that layer); discard them if ``diff_id`` is already present."""
        ...


class Snapshotter(Protocol):
    """Unpacked layers shared read-only, and snapshots (views) of stacks of them."""

    root: Path

    def has(self, diff_id: Digest) -> bool:
        """Whether the layer ``diff_id`` is unpacked and can be a lower."""
        ...

    def unpack(self, diff_id: Digest, opener: Callable[[], BinaryIO], media_type: str) -> None:
        """Unpack the layer blob ``opener()`` returns (``media_type`` says its compression)
        as ``diff_id``, once: idempotent, atomic and safe against concurrent unpacks."""
        ...

    def mount(
        self, lowers: Sequence[Digest], *, writable: bool = True
    ) -> AbstractContextManager[Active]:
        """A view of the layers ``lowers`` (bottom first, each unpacked) at ``Active.root``;
        leaving the context removes everything not kept."""
        ...

    def recover(self) -> list[str]:
        """Unmount and delete what dead processes left behind; return what was cleaned."""
        ...

    def usage(self) -> list[LayerUsage]:
        """Every unpacked layer with its size on disk and last use."""
        ...

    def remove(self, diff_id: Digest) -> None:
        """Delete the unpacked layer ``diff_id`` (nothing if absent). No mount may use it."""
        ...


def compression_of(media_type: str) -> str:
    """The ``extract_layer`` compression a layer media type stands for (``auto`` if unsure)."""
    if media_type.endswith(("+gzip", ".tar.gzip")):
        return "gzip"
    if media_type.endswith("+zstd"):
        return "zstd"
    if media_type.endswith((".tar", ".diff.tar")):
        return "none"
    return "auto"


def disk_usage(path: Path) -> int:
    """Bytes allocated to the tree at ``path`` (hard-linked inodes counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [str(path)]
    while stack:
        current = stack.pop()
        st = os.lstat(current)
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        total += st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode):
            with os.scandir(current) as it:
                stack.extend(entry.path for entry in it)
    return total


def remove_tree(path: Path) -> None:
    """Delete ``path`` whatever it is, making read-only directories writable on the way."""

    def retry(func: Callable[..., object], name: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), 0o700)
        if os.path.isdir(name) and not os.path.islink(name):
            with contextlib.suppress(OSError):
                os.chmod(name, 0o700)
        func(name)

    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=retry)


class _Owned:
    """A directory under a lock this process holds (see the module notes)."""

    def __init__(self, parent: Path) -> None:
        self.id = os.urandom(8).hex()
        self.path = parent / self.id
        self.lock = parent / (self.id + _LOCK_SUFFIX)
        staging = parent / f".{self.id}.locking"
        self._fd = os.open(staging, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        # Only a locked file ever carries the name recover() looks at.
        os.rename(staging, self.lock)
        self.path.mkdir()

    def release(self, cleanup: Callable[[Path], None]) -> None:
        """Delete the directory (``cleanup`` first), then the lock."""
        try:
            cleanup(self.path)
            remove_tree(self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.lock.unlink()
            os.close(self._fd)


class _Base:
    """Layer bookkeeping both back ends share; subclasses fill and mount layers."""

    layers_name = "layers"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._layers = root / self.layers_name
        self._active = root / "active"
        self._tmp = root / "tmp"
        try:
            for path in (self._layers, self._active, self._tmp):
                path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the snapshot folder {root}: {exc}") from exc

    def layer_dir(self, diff_id: Digest) -> Path:
        """Where the layer ``diff_id`` lives once unpacked."""
        return self._layers / diff_id.hex

    def has(self, diff_id: Digest) -> bool:
        """Whether the layer ``diff_id`` is unpacked (appears atomically, by rename)."""
        return self.layer_dir(diff_id).is_dir()

    def _fill(self, dest: Path, opener: Callable[[], BinaryIO], media_type: str) -> None:
        raise NotImplementedError

    def unpack(self, diff_id: Digest, opener: Callable[[], BinaryIO], media_type: str) -> None:
        """Unpack the blob ``opener()`` returns as the layer ``diff_id`` (see Snapshotter)."""
        if self.has(diff_id):
            return
        try:
            owned = _Owned(self._tmp)
            try:
                self._fill(owned.path, opener, media_type)
                self._publish(owned.path, diff_id)
            finally:
                owned.release(lambda _path: None)
        except OSError as exc:
            raise StoreError(f"cannot unpack layer {diff_id}: {exc}") from exc

    def _publish(self, layer: Path, diff_id: Digest) -> bool:
        """Rename the finished ``layer`` into place; False when another process won."""
        (layer / "meta.json").write_text(json.dumps({"size": disk_usage(layer)}))
        (layer / "used").touch()
        try:
            os.rename(layer, self.layer_dir(diff_id))
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False
            raise StoreError(f"cannot store layer {diff_id}: {exc.strerror}") from exc
        return True

    def _lower_dirs(self, lowers: Sequence[Digest]) -> list[Path]:
        dirs = []
        now = time.time()
        for diff_id in lowers:
            path = self.layer_dir(diff_id)
            try:
                os.utime(path / "used", (now, now))
            except FileNotFoundError as exc:
                raise NotFoundError(f"layer {diff_id} is not unpacked") from exc
            dirs.append(path)
        return dirs

    def _cleanup_active(self, path: Path) -> None:
        """Undo what a snapshot directory holds beyond files (e.g. a mount)."""

    def recover(self) -> list[str]:
        """Delete what dead processes left in active/ and tmp/; return what was cleaned."""
        cleaned: list[str] = []
        for parent in (self._active, self._tmp):
            names = set(os.listdir(parent))
            for name in sorted(names):
                path = parent / name
                if name.endswith(_LOCK_SUFFIX):
                    dead = self._take_dead_lock(path)
                    target = parent / name.removesuffix(_LOCK_SUFFIX)
                    if dead is None:
                        continue
                    try:
                        if target.exists():
                            self._cleanup_active(target)
                            remove_tree(target)
                            cleaned.append(str(target.relative_to(self.root)))
                        path.unlink(missing_ok=True)
                    finally:
                        os.close(dead)
                elif not name.startswith(".") and name + _LOCK_SUFFIX not in names:
                    # Its owner deletes the directory before the lock: this one is orphaned.
                    self._cleanup_active(path)
                    remove_tree(path)
                    cleaned.append(str(path.relative_to(self.root)))
        return cleaned

    @staticmethod
    def _take_dead_lock(path: Path) -> int | None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def usage(self) -> list[LayerUsage]:
        """Every unpacked layer, its size on disk and when a mount last used it."""
        result = []
        for name in sorted(os.listdir(self._layers)):
            path = self._layers / name
            try:
                size = int(json.loads((path / "meta.json").read_text())["size"])
                last_used = (path / "used").stat().st_mtime
            except (OSError, ValueError, KeyError):
                continue
            algorithm = "sha256" if len(name) == 64 else "sha512"
            result.append(LayerUsage(Digest(algorithm, name), size, last_used))
        return result

    def remove(self, diff_id: Digest) -> None:
        """Delete the layer ``diff_id``: out of sight by one rename, then deleted."""
        owned = _Owned(self._tmp)
        try:
            try:
                os.rename(self.layer_dir(diff_id), owned.path / "layer")
            except FileNotFoundError:
                return
        finally:
            owned.release(lambda _path: None)

    def _owned_active(self) -> _Owned:
        return _Owned(self._active)

    @contextlib.contextmanager
    def _active_dir(self) -> Iterator[_Owned]:
        owned = self._owned_active()
        try:
            yield owned
        finally:
            owned.release(self._cleanup_active)
