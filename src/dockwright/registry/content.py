"""What pull writes into and push reads from: small Protocols a local store satisfies.

:class:`dockwright.store.Store` (and its fake ``MemoryStore``) fit them structurally, so
``registry`` needs no import of ``store``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol, runtime_checkable

from dockwright.errors import DockwrightError
from dockwright.image.digest import Digest


class Writable(Protocol):
    """Where a blob's bytes are streamed to."""

    def write(self, data: bytes | memoryview, /) -> object:
        """Append ``data`` (copy what you keep: a memoryview's buffer is reused)."""
        ...


class SinkWriter(Writable, Protocol):
    """One blob being written; only a committed writer leaves anything behind."""

    def commit(self, expected: Digest | None = None) -> tuple[Digest, int]:
        """Keep the bytes under their digest; a mismatch with ``expected`` keeps nothing."""
        ...


class BlobSink(Protocol):
    """A content store pull writes into (``Store`` fits)."""

    def has(self, digest: Digest) -> bool:
        """True when the blob is already there."""
        ...

    def ingest(self) -> AbstractContextManager[SinkWriter]:
        """Start a blob; leaving the ``with`` block without ``commit`` discards it."""
        ...

    def put_bytes(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store small content (manifests, indexes) held in memory."""
        ...

    def read(self, digest: Digest, *, verify: bool = True) -> bytes:
        """A stored blob's bytes (image configs are read back to learn their platform)."""
        ...

    def cache_get(self, namespace: str, key: str) -> str | None:
        """A remembered value (used for blob origins)."""
        ...

    def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Remember a value."""
        ...


class BlobSourceLike(Protocol):
    """A content store push reads from (``Store``, an OCI layout reader, ``MemoryStore``)."""

    def has(self, digest: Digest) -> bool:
        """True when the blob is there."""
        ...

    def read(self, digest: Digest, *, verify: bool = True) -> bytes:
        """The blob's bytes (manifests and indexes)."""
        ...

    def open_blob(self, digest: Digest) -> BinaryIO:
        """A stream of the blob (layers and configs)."""
        ...


@runtime_checkable
class OriginCache(Protocol):
    """Remembers where blobs came from; optional on a push source."""

    def cache_get(self, namespace: str, key: str) -> str | None:
        """A remembered value."""
        ...


@runtime_checkable
class OriginRecorder(Protocol):
    """Records where blobs now are; optional on a push source."""

    def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Remember a value."""
        ...


ORIGIN_NAMESPACE = "blob-origin"
"""Cache namespace: key a blob digest, value a JSON list of ``registry/repository`` names."""
ORIGINS_KEPT = 8

log = logging.getLogger(__name__)


def known_origins(cache: OriginCache, digest: Digest) -> list[str]:
    """The ``registry/repository`` names recorded for ``digest``, most recent first."""
    try:
        raw = cache.cache_get(ORIGIN_NAMESPACE, str(digest))
        names = json.loads(raw) if raw else []
    except (DockwrightError, ValueError):
        return []
    return [str(n) for n in names] if isinstance(names, list) else []


def record_origin(
    cache: OriginCache, recorder: OriginRecorder, digests: Sequence[Digest], name: str
) -> None:
    """Remember that ``digests`` are in ``name`` (``registry/repository``), most recent
    first, a few names per blob. Failures are logged, not raised: this is a hint only."""
    for digest in digests:
        known = known_origins(cache, digest)
        if known[:1] == [name]:
            continue
        merged = [name, *(k for k in known if k != name)][:ORIGINS_KEPT]
        try:
            recorder.cache_put(ORIGIN_NAMESPACE, str(digest), json.dumps(merged))
        except DockwrightError as exc:
            log.warning("could not record that %s is in %s: %s", digest.short, name, exc)
