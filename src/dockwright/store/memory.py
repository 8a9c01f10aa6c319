"""In-memory fakes of the store seams, for tests of code that reads or writes blobs."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from dockwright.errors import CorruptBlobError, NotFoundError, StoreError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, Index, Manifest
from dockwright.image.platform import Platform
from dockwright.store import graph
from dockwright.store.reference import normalize_tag
from dockwright.store.source import DigestMismatchError, describe_missing


class MemoryBlobSource:
    """A :class:`~dockwright.store.BlobSource` over a dict of blobs."""

    def __init__(self, blobs: Mapping[Digest, bytes] | None = None) -> None:
        self.blobs: dict[Digest, bytes] = dict(blobs or {})

    def has(self, digest: Digest) -> bool:
        """True when the blob is present."""
        return digest in self.blobs

    def size(self, digest: Digest) -> int:
        """The blob's size; :class:`NotFoundError` if absent."""
        return len(self._get(digest))

    def read(self, digest: Digest, *, verify: bool = True) -> bytes:
        """The blob's bytes, verified against ``digest`` unless told not to."""
        data = self._get(digest)
        if verify:
            hasher = digest.hasher()
            hasher.update(data)
            if hasher.hexdigest() != digest.hex:
                raise CorruptBlobError(
                    Path(f"memory/{digest}"),
                    str(digest),
                    f"{digest.algorithm}:{hasher.hexdigest()}",
                )
        return data

    def open_blob(self, digest: Digest) -> BinaryIO:
        """A stream of the blob."""
        return io.BytesIO(self._get(digest))

    def put_bytes(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store ``data``; a mismatch with ``expected`` raises :class:`DigestMismatchError`."""
        hasher = (expected or Digest.of(b"")).hasher()
        hasher.update(data)
        digest = Digest.from_hasher(hasher)
        if expected is not None and digest != expected:
            raise DigestMismatchError(
                "content offered to the store", str(expected), str(digest), hint="not stored"
            )
        self.blobs[digest] = data
        return digest

    def add(self, data: bytes) -> Digest:
        """Store ``data`` and return its sha256 digest."""
        digest = Digest.of(data)
        self.blobs[digest] = data
        return digest

    def add_descriptor(self, media_type: str, data: bytes) -> Descriptor:
        """Store ``data`` and return a descriptor of it with ``media_type``."""
        return Descriptor(media_type, self.add(data), len(data))

    def add_manifest(self, manifest: Manifest | Index) -> Descriptor:
        """Store a manifest or index document and return its descriptor."""
        data = manifest.to_bytes()
        return Descriptor(manifest.media_type, self.add(data), len(data))

    def _get(self, digest: Digest) -> bytes:
        try:
            return self.blobs[digest]
        except KeyError as exc:
            raise NotFoundError(f"blob {digest} is not in memory") from exc


class _MemoryWriter:
    """What :meth:`MemoryStore.ingest` returns."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._buffer = io.BytesIO()

    def __enter__(self) -> _MemoryWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._buffer = io.BytesIO()

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data``."""
        return self._buffer.write(data)

    @property
    def fileobj(self) -> BinaryIO:
        """The underlying buffer."""
        return self._buffer

    def commit(self, expected: Digest | None = None) -> tuple[Digest, int]:
        """Store the buffer's bytes."""
        data = self._buffer.getvalue()
        return self._store.put_bytes(data, expected), len(data)


class MemoryStore(MemoryBlobSource):
    """A fake :class:`~dockwright.store.BlobStore`: blobs, tags and cache in dicts.

    Tagging enforces the same rule as the real store (the closure must be present), so
    code tested against the fake behaves the same against :class:`~dockwright.store.Store`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.tag_map: dict[str, Descriptor] = {}
        self.cache: dict[tuple[str, str], str] = {}
        self.sessions = 0

    def ingest(self) -> _MemoryWriter:
        """A writer that stores its bytes on commit."""
        return _MemoryWriter(self)

    def tag(self, name: str, desc: Descriptor) -> None:
        """Tag ``desc``; :class:`StoreError` when part of its closure is missing."""
        ref = normalize_tag(name)
        absent = graph.missing(self, desc)
        if absent:
            raise StoreError(f"cannot tag {ref}: missing {describe_missing(absent)}")
        self.tag_map[ref] = replace(
            desc,
            annotations={k: v for k, v in desc.annotations.items() if k != mt.ANNOTATION_REF_NAME},
        )

    def untag(self, name: str) -> Descriptor:
        """Remove a tag and return its descriptor."""
        ref = normalize_tag(name)
        try:
            return self.tag_map.pop(ref)
        except KeyError as exc:
            raise NotFoundError(f"no image {ref} in memory") from exc

    def resolve(self, name: str) -> Descriptor:
        """The descriptor tagged ``name``."""
        ref = normalize_tag(name)
        try:
            return self.tag_map[ref]
        except KeyError as exc:
            raise NotFoundError(f"no image {ref} in memory") from exc

    def tags(self) -> list[tuple[str, Descriptor]]:
        """All tags, sorted by name."""
        return sorted(self.tag_map.items(), key=lambda item: item[0])

    def children(self, desc: Descriptor) -> list[Descriptor]:
        """Direct references of a manifest or index."""
        return graph.children(self, desc)

    def walk(self, desc: Descriptor) -> list[Descriptor]:
        """``desc`` and everything reachable from it."""
        return graph.walk(self, desc)

    def present_platforms(self, desc: Descriptor) -> list[Platform]:
        """The platforms of ``desc`` whose images are present."""
        return graph.present_platforms(self, desc)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Counts open sessions (nothing to lock in memory)."""
        self.sessions += 1
        try:
            yield
        finally:
            self.sessions -= 1

    def cache_get(self, namespace: str, key: str) -> str | None:
        """The cached value, or ``None``."""
        return self.cache.get((namespace, key))

    def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Remember a value."""
        self.cache[(namespace, key)] = value
