"""Writing one blob into the store: a locked temp file, hashed as it grows, renamed in."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from dockwright.image.digest import Digest
from dockwright.store._fs import discard_temp, fsync_dir, new_temp
from dockwright.store.source import DigestMismatchError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

_CHUNK = 1 << 20
# Every this many bytes, the kernel is asked to start writing the new bytes to disk, so the
# fsync in commit() waits for the last few megabytes only (a 32 MB blob: ~2 ms, not ~15).
_WRITEBACK_BYTES = 4 << 20


class BlobWriter(BinaryIO):
    """A blob under construction; use as a context manager and call :meth:`commit`.

    It is a write-only binary file, so it can be handed to anything that writes to a
    ``BinaryIO``. Leaving the ``with`` block without a commit (or through an exception)
    deletes the temp file. While it exists the temp file is flock'ed, which tells cleaners
    it is alive.
    """

    def __init__(self, tmpdir: Path, place: Callable[[Digest], Path]) -> None:
        self._path, self._file = new_temp(tmpdir, ".blob")
        self._place = place
        self._hasher = hashlib.sha256()
        self._size = 0
        self._written_back = 0
        self._raw_used = False
        self._done = False

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.abort()

    def write(self, data: ReadableBuffer, /) -> int:
        """Append ``data`` and hash it; returns the number of bytes written (all of them)."""
        view = memoryview(data).cast("B")
        self._file.write(view)
        self._hasher.update(view)
        self._size += len(view)
        if self._size - self._written_back >= _WRITEBACK_BYTES and not self._raw_used:
            self._start_writeback()
        return len(view)

    def _start_writeback(self) -> None:
        # POSIX_FADV_DONTNEED starts writeback of the range's dirty pages without waiting
        # (pages still dirty or being written stay cached); durability still comes from
        # the fsync in commit(), this only shortens it.
        self._file.flush()
        with contextlib.suppress(OSError, AttributeError):  # no posix_fadvise: skip it
            os.posix_fadvise(
                self._file.fileno(),
                self._written_back,
                self._size - self._written_back,
                os.POSIX_FADV_DONTNEED,
            )
        self._written_back = self._size

    def writelines(self, lines: Iterable[ReadableBuffer], /) -> None:
        """Write each buffer in turn."""
        for line in lines:
            self.write(line)

    def tell(self) -> int:
        """The current write position."""
        return self._file.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Move the write position (the digest is then computed from the file at commit)."""
        self._raw_used = True
        return self._file.seek(offset, whence)

    def truncate(self, size: int | None = None, /) -> int:
        """Cut the file (the digest is then computed from the file at commit)."""
        self._raw_used = True
        return self._file.truncate(size)

    def flush(self) -> None:
        """Flush buffered bytes to the temp file."""
        self._file.flush()

    def fileno(self) -> int:
        """The temp file's descriptor (writes through it are hashed at commit)."""
        self._raw_used = True
        return self._file.fileno()

    def close(self) -> None:
        """Discard the blob unless it was committed (a closed writer cannot commit)."""
        if not self._done:
            self.abort()

    @property
    def closed(self) -> bool:
        """True once committed or aborted."""
        return self._done

    @property
    def mode(self) -> str:
        """Always ``"wb"``."""
        return "wb"

    @property
    def name(self) -> str:
        """The temp file's path."""
        return str(self._path)

    def isatty(self) -> bool:
        """Never a terminal."""
        return False

    def readable(self) -> bool:
        """Write-only."""
        return False

    def writable(self) -> bool:
        """True until committed or aborted."""
        return not self._done

    def seekable(self) -> bool:
        """Seeking is allowed."""
        return True

    def read(self, n: int = -1, /) -> bytes:
        """Not supported: a blob writer is write-only."""
        raise io.UnsupportedOperation("a blob writer is write-only")

    def readline(self, limit: int = -1, /) -> bytes:
        """Not supported: a blob writer is write-only."""
        raise io.UnsupportedOperation("a blob writer is write-only")

    def readlines(self, hint: int = -1, /) -> list[bytes]:
        """Not supported: a blob writer is write-only."""
        raise io.UnsupportedOperation("a blob writer is write-only")

    def __iter__(self) -> Iterator[bytes]:
        raise io.UnsupportedOperation("a blob writer is write-only")

    def __next__(self) -> bytes:
        raise io.UnsupportedOperation("a blob writer is write-only")

    @property
    def fileobj(self) -> BinaryIO:
        """The temp file itself, for code that insists on a real file object.

        Writes through it bypass the running hash, so :meth:`commit` then hashes the file
        once more from the start.
        """
        self._raw_used = True
        return self._file

    @property
    def size(self) -> int:
        """Bytes written through :meth:`write` so far."""
        return self._size

    def commit(self, expected: Digest | None = None) -> tuple[Digest, int]:
        """Make the bytes durable and move them to ``blobs/<alg>/<hex>``.

        Returns ``(digest, size)``. When ``expected`` differs from the content's digest,
        raises :class:`DigestMismatchError` and stores nothing. If the blob already exists
        the stored copy is kept and this one dropped.
        """
        if self._done:
            raise ValueError("blob writer already committed or aborted")
        self._file.flush()
        os.fsync(self._file.fileno())
        algorithm = expected.algorithm if expected is not None else "sha256"
        if self._raw_used or algorithm != "sha256":
            digest, size = self._rehash(algorithm)
        else:
            digest, size = Digest.from_hasher(self._hasher), self._size
        if expected is not None and digest != expected:
            self.abort()
            raise DigestMismatchError(
                "content offered to the store",
                str(expected),
                str(digest),
                hint="nothing was stored; the source sent other bytes than its digest names",
            )
        dest = self._place(digest)
        if dest.exists():
            self.abort()
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._path.replace(dest)
            self._file.close()
            fsync_dir(dest.parent)
        self._done = True
        return digest, size

    def abort(self) -> None:
        """Delete the temp file; nothing is stored."""
        self._done = True
        discard_temp(self._path, self._file)

    def _rehash(self, algorithm: str) -> tuple[Digest, int]:
        hasher = hashlib.new(algorithm)
        size = 0
        fd = self._file.fileno()
        while chunk := os.pread(fd, _CHUNK, size):
            hasher.update(chunk)
            size += len(chunk)
        return Digest.from_hasher(hasher), size
