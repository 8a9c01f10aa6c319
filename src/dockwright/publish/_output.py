"""Writing outputs safely: a temp file next to the destination renamed into place, and a
deterministic tar writer (sorted entries, zero times and owners, fixed modes)."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockwright.errors import PublishError
from dockwright.image.model import Descriptor
from dockwright.store import BlobSource
from dockwright.store.graph import copy_blob

_BLOCK = 512
_RECORD = 20 * _BLOCK


def check_parent(dest: Path) -> Path:
    """The directory that will hold ``dest``; :class:`PublishError` unless it exists."""
    parent = dest.parent
    if not parent.exists():
        raise PublishError(
            f"cannot write {dest}: directory {parent} does not exist",
            hint=f"create it first (mkdir -p {parent}) or choose another dest",
        )
    if not parent.is_dir():
        raise PublishError(
            f"cannot write {dest}: {parent} is not a directory", hint="choose another dest"
        )
    return parent


def write_failed(dest: Path, exc: OSError) -> PublishError:
    """A :class:`PublishError` for an OS error while writing ``dest``, with the fix."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = f"make {dest.parent} writable or choose another dest"
    elif exc.errno == errno.ENOSPC:
        hint = "free some disk space or choose another dest"
    else:
        hint = "choose another dest"
    return PublishError(f"cannot write {dest}: {reason}", hint=hint)


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """A file to write ``dest``'s content into; it replaces ``dest`` only on success.

    The temp file lives next to ``dest`` (same file system, so the rename is atomic) and is
    removed if anything fails: an output is either complete or absent.
    """
    if dest.is_dir():
        raise PublishError(
            f"cannot write {dest}: it is a directory",
            hint=f"give a file name such as {dest / 'image.tar'}, or tar=false for a folder",
        )
    parent = check_parent(dest)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise write_failed(dest, exc) from exc
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(0o644)
        temp.replace(dest)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise write_failed(dest, exc) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


Producer = Callable[[Callable[[bytes], object]], object]


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    size: int
    produce: Producer | None


class DeterministicTar:
    """Collects entries, then writes them sorted by name with normalised metadata.

    The same entries always give the same bytes: mtime 0, uid/gid 0, no user or group
    names, mode 0755 for directories and 0644 for files.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def add_dir(self, name: str) -> None:
        """Add a directory entry (``name`` without the trailing slash)."""
        self._entries[name.rstrip("/") + "/"] = _Entry(name.rstrip("/") + "/", -1, None)

    def add_bytes(self, name: str, data: bytes) -> None:
        """Add a regular file holding ``data``."""
        self._entries[name] = _Entry(name, len(data), lambda write: write(data))

    def add_blob(self, name: str, source: BlobSource, desc: Descriptor) -> None:
        """Add a file streamed from ``source`` (digest and size checked while copying)."""
        self._entries[name] = _Entry(name, desc.size, lambda write: copy_blob(source, desc, write))

    def names(self) -> list[str]:
        """The entry names, in the order they will be written."""
        return sorted(self._entries)

    def write_to(self, out: BinaryIO) -> None:
        """Write the archive to ``out``."""
        import tarfile  # noqa: PLC0415 - heavy; only needed when writing

        total = 0
        for name in self.names():
            entry = self._entries[name]
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if entry.produce is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            else:
                info.type = tarfile.REGTYPE
                info.mode = 0o644
                info.size = entry.size
            header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            out.write(header)
            total += len(header)
            if entry.produce is not None:
                written = 0

                def write(chunk: bytes) -> None:
                    nonlocal written
                    written += len(chunk)
                    out.write(chunk)

                entry.produce(write)
                if written != entry.size:
                    raise PublishError(f"{name}: wrote {written} bytes, expected {entry.size}")
                padding = -written % _BLOCK
                out.write(b"\0" * padding)
                total += written + padding
        # Two zero blocks end the archive; tar pads the whole to a 10 KiB record.
        end = 2 * _BLOCK
        end += -(total + end) % _RECORD
        out.write(b"\0" * end)
