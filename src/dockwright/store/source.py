"""The seams of the store: what publishers read from and what builders write to."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

from dockwright.errors import CorruptBlobError, StoreError
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor


class DigestMismatchError(CorruptBlobError):
    """Bytes offered for (or read from) a blob do not hash to the digest they claim.

    A :class:`CorruptBlobError`, so callers that retry on corruption catch it too; unlike a
    corrupt stored blob, nothing bad is left in the store, so the hint differs.
    """

    def __init__(self, where: str, expected: str, actual: str, *, hint: str) -> None:
        StoreError.__init__(
            self, f"{where}: content hashes to {actual}, expected {expected}", hint=hint
        )
        self.path = Path(where)
        self.expected = expected
        self.actual = actual


class BlobSource(Protocol):
    """Read-only access to content-addressed blobs (the local store, an OCI layout, a tar)."""

    def has(self, digest: Digest) -> bool:
        """True when the blob is present."""
        ...

    def size(self, digest: Digest) -> int:
        """The blob's size in bytes; :class:`~dockwright.errors.NotFoundError` if absent."""
        ...

    def read(self, digest: Digest, *, verify: bool = True) -> bytes:
        """The blob's bytes, checked against ``digest`` unless ``verify`` is false.

        Raises :class:`~dockwright.errors.NotFoundError` when absent and
        :class:`~dockwright.errors.CorruptBlobError` when the bytes do not match.
        """
        ...

    def open_blob(self, digest: Digest) -> BinaryIO:
        """A binary stream of the blob (not verified: hash it while reading if it matters)."""
        ...


class BlobIngest(Protocol):
    """A blob being written; see :meth:`Store.ingest <dockwright.store.Store.ingest>`."""

    def write(self, data: bytes) -> int:
        """Append ``data``; returns its length, like a binary file."""
        ...

    @property
    def fileobj(self) -> BinaryIO:
        """A real binary file to hand to writers that need seek/tell (tarfile, gzip)."""
        ...

    def commit(self, expected: Digest | None = None) -> tuple[Digest, int]:
        """Store what was written under its digest; returns ``(digest, size)``.

        A mismatch with ``expected`` raises :class:`DigestMismatchError` and stores nothing.
        """
        ...


class BlobStore(BlobSource, Protocol):
    """A writable store of blobs and tags: :class:`~dockwright.store.Store` or a fake."""

    def put_bytes(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store ``data``; a mismatch with ``expected`` raises :class:`DigestMismatchError`."""
        ...

    def ingest(self) -> AbstractContextManager[BlobIngest]:
        """Start writing a blob whose digest is known only at the end."""
        ...

    def tag(self, name: str, desc: Descriptor) -> None:
        """Point ``name`` at ``desc``; refuses when any blob of its closure is missing."""
        ...

    def untag(self, name: str) -> Descriptor:
        """Remove the tag ``name`` and return what it pointed at."""
        ...

    def resolve(self, name: str) -> Descriptor:
        """The descriptor tagged ``name``."""
        ...

    def tags(self) -> list[tuple[str, Descriptor]]:
        """All tags, sorted by name."""
        ...

    def session(self) -> AbstractContextManager[None]:
        """Hold off pruning while a build writes blobs it has not tagged yet."""
        ...

    def cache_get(self, namespace: str, key: str) -> str | None:
        """The cached value for ``key`` in ``namespace``, or ``None``."""
        ...

    def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Remember ``value`` for ``key`` in ``namespace``."""
        ...


def describe_missing(missing: Sequence[Descriptor]) -> str:
    """A short listing of missing descriptors for error messages."""
    shown = ", ".join(f"{d.digest} ({d.media_type})" for d in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return shown + more
