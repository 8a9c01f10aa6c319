"""File-system primitives of the store: locked temp files, atomic replace, flock, cleanup."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

# A temp file is created and then locked; a cleaner could win the lock in that instant, so
# only files older than this are considered abandoned, even when nobody holds their lock.
TEMP_GRACE_SECONDS = 10.0
TEMP_PREFIX = "tmp-"


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems (e.g. certain FUSE mounts) refuse fsync on directories.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def new_temp(tmpdir: Path, suffix: str = "") -> tuple[Path, BinaryIO]:
    """Create and exclusively lock a fresh temp file; the lock marks it as live."""
    for _ in range(100):
        path = tmpdir / f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(8).hex()}{suffix}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return path, os.fdopen(fd, "w+b")
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
    raise FileExistsError(errno.EEXIST, "could not create a unique temp file", str(tmpdir))


def discard_temp(path: Path, fileobj: BinaryIO) -> None:
    """Delete a temp file made by :func:`new_temp` and release its lock."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fileobj.close()


def atomic_write(tmpdir: Path, dest: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``dest`` with ``data`` so readers see the old or the new file, never a mix.

    ``durable=False`` skips the fsyncs: for files whose loss or truncation by a power
    failure (not a killed process, which the rename already covers) readers tolerate.
    """
    path, fileobj = new_temp(tmpdir)
    try:
        fileobj.write(data)
        fileobj.flush()
        if durable:
            os.fsync(fileobj.fileno())
        path.replace(dest)
    except BaseException:
        discard_temp(path, fileobj)
        raise
    fileobj.close()
    if durable:
        fsync_dir(dest.parent)


@contextlib.contextmanager
def flocked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an flock on ``path`` (created if missing) for the ``with`` body.

    flock locks belong to the open file, so two opens in one process also exclude each
    other, and the kernel drops them when a process dies: a killed holder never wedges it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def clean_stale_temps(tmpdir: Path, grace: float | None = None) -> int:
    """Delete temp files whose writer is gone (lock free) and that are older than ``grace``."""
    limit = TEMP_GRACE_SECONDS if grace is None else grace
    removed = 0
    try:
        entries = list(os.scandir(tmpdir))
    except FileNotFoundError:
        return 0
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < limit:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            # The path might have been renamed and reused meanwhile; delete only our inode.
            target = Path(entry.path)
            if os.fstat(fd).st_ino == target.lstat().st_ino:
                target.unlink()
                removed += 1
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
    if removed:
        log.debug("removed %d stale temp file(s) from %s", removed, tmpdir)
    return removed
