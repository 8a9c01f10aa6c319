"""The local content store: an OCI image layout on disk, plus a little private bookkeeping.

Layout under the root (readable as-is by skopeo, umoci and containerd)::

    oci-layout, index.json, blobs/<alg>/<hex>     the OCI image layout
    dockwright/tmp/       temp files, each flock'ed by its live writer
    dockwright/locks/     index.lock (index.json read-modify-write), gc.lock (sessions vs prune)
    dockwright/cache/     small key → value records, one file each

Every write goes to a temp file on the same file system, is fsync'ed and renamed into place,
so a process killed at any instant leaves either the old or the new file, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from dockwright.errors import (
    CorruptBlobError,
    DockwrightError,
    ImageFormatError,
    NotFoundError,
    StoreError,
)
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, Index, canonical_json
from dockwright.image.platform import Platform
from dockwright.store import _fs, graph
from dockwright.store.blobwriter import BlobWriter
from dockwright.store.cache import CacheItem, CacheMixin
from dockwright.store.reference import normalize_tag
from dockwright.store.source import DigestMismatchError, describe_missing

# CacheItem lives in store/cache.py (with the cache_* methods); importable from here too.
__all__ = ["CacheItem", "KeepHook", "PruneReport", "Store", "default_root"]

log = logging.getLogger(__name__)

_LAYOUT = {"imageLayoutVersion": "1.0.0"}
_CHUNK = 1 << 20
_REF = mt.ANNOTATION_REF_NAME
_IMAGES_HINT = "see 'dockwright images' for the tagged images"
_REPAIR_HINT = "run 'dockwright prune --repair' to drop broken blobs and the tags that need them"


def default_root(environ: Mapping[str, str] | None = None) -> Path:
    """Where the store lives: ``$DOCKWRIGHT_HOME`` if set, else the user data directory."""
    env = os.environ if environ is None else environ
    home = env.get("DOCKWRIGHT_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs  # noqa: PLC0415 - only needed when no root is configured

    return Path(platformdirs.user_data_dir("dockwright"))


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What :meth:`Store.prune` did."""

    removed: tuple[Digest, ...]
    freed_bytes: int
    corrupt: tuple[Digest, ...] = ()
    untagged: tuple[str, ...] = ()
    kept: int = 0


# Called by prune under its exclusive lock with the digests the tags reach; returns more
# digests to keep (e.g. the layers of the build cache's records).
KeepHook = Callable[[frozenset[Digest]], Iterable[Digest]]


def _strip_ref(desc: Descriptor) -> Descriptor:
    if _REF not in desc.annotations:
        return desc
    return replace(desc, annotations={k: v for k, v in desc.annotations.items() if k != _REF})


class Store(CacheMixin):
    """A content-addressed blob store with tags; open one with :meth:`Store.open`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._private = root / "dockwright"
        self._tmp = self._private / "tmp"
        self._locks = self._private / "locks"
        self._cache = self._private / "cache"
        self._index_path = root / "index.json"
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, root: Path | None = None) -> Store:
        """Open (creating if needed) the store at ``root`` or :func:`default_root`.

        Cleans temp files left by killed writers. Raises :class:`StoreError` naming the
        directory and the fix when it cannot be used.
        """
        path = (Path(root).expanduser() if root is not None else default_root()).absolute()
        store = cls(path)
        try:
            store._init_layout()
        except OSError as exc:
            raise StoreError(
                f"cannot use {path} as the image store: {exc.strerror or exc}",
                hint="make it a writable directory, or set DOCKWRIGHT_HOME to one",
            ) from exc
        return store

    def _init_layout(self) -> None:
        root = self.root
        if root.exists() and not root.is_dir():
            raise StoreError(
                f"the image store {root} exists but is not a directory",
                hint="move it away, or set DOCKWRIGHT_HOME to a directory",
            )
        layout_file = root / "oci-layout"
        if (
            root.is_dir()
            and not layout_file.exists()
            and not self._index_path.exists()
            and any(root.iterdir())
        ):
            raise StoreError(
                f"{root} is not empty and is not an OCI image layout, so it cannot hold "
                "the image store",
                hint="set DOCKWRIGHT_HOME to an empty or new directory",
            )
        for directory in (root / "blobs" / "sha256", self._tmp, self._locks, self._cache):
            directory.mkdir(parents=True, exist_ok=True)
        # A live temp file proves we can write here before anything else is attempted.
        probe, handle = _fs.new_temp(self._tmp)
        _fs.discard_temp(probe, handle)
        if layout_file.exists():
            self._check_layout_file(layout_file)
        else:
            _fs.atomic_write(self._tmp, layout_file, canonical_json(_LAYOUT))
        if not self._index_path.exists():
            with self._index_lock():
                if not self._index_path.exists():
                    self._write_index(Index(()))
        _fs.clean_stale_temps(self._tmp)

    @staticmethod
    def _check_layout_file(path: Path) -> None:
        try:
            obj = json.loads(path.read_bytes())
            version = obj["imageLayoutVersion"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"{path} is not a valid oci-layout file",
                hint=f'rewrite it as {{"imageLayoutVersion":"1.0.0"}} or remove {path}',
            ) from exc
        if not str(version).startswith("1."):
            raise StoreError(f"{path} declares unsupported OCI layout version {version!r}")

    # ------------------------------------------------------------------ blobs

    def blob_path(self, digest: Digest) -> Path:
        """The path of the blob's file (which may not exist)."""
        return self.root / "blobs" / digest.algorithm / digest.hex

    def has(self, digest: Digest) -> bool:
        """True when the blob is in the store."""
        try:
            return self.blob_path(digest).is_file()
        except OSError as exc:
            raise self._io_error(f"look up blob {digest}", exc) from exc

    def size(self, digest: Digest) -> int:
        """The blob's size in bytes; :class:`NotFoundError` if absent."""
        try:
            return self.blob_path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise self._blob_missing(digest) from exc
        except OSError as exc:
            raise self._io_error(f"look up blob {digest}", exc) from exc

    def read(self, digest: Digest, *, verify: bool = True) -> bytes:
        """The blob's bytes; :class:`NotFoundError` if absent, :class:`CorruptBlobError` if
        (with ``verify``) they do not hash to ``digest``."""
        path = self.blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise self._blob_missing(digest) from exc
        except OSError as exc:
            raise self._io_error(f"read blob {digest}", exc) from exc
        if verify:
            actual = hashlib.new(digest.algorithm, data).hexdigest()
            if actual != digest.hex:
                raise CorruptBlobError(path, str(digest), f"{digest.algorithm}:{actual}")
        return data

    def open_blob(self, digest: Digest) -> BinaryIO:
        """An open binary file of the blob; :class:`NotFoundError` if absent."""
        try:
            return self.blob_path(digest).open("rb")
        except FileNotFoundError as exc:
            raise self._blob_missing(digest) from exc
        except OSError as exc:
            raise self._io_error(f"read blob {digest}", exc) from exc

    def put_bytes(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store ``data`` and return its digest (a no-op when already stored).

        A mismatch with ``expected`` raises :class:`DigestMismatchError`; nothing is stored.
        """
        algorithm = expected.algorithm if expected is not None else "sha256"
        digest = Digest.from_hasher(hashlib.new(algorithm, data))
        if expected is not None and digest != expected:
            raise DigestMismatchError(
                "content offered to the store",
                str(expected),
                str(digest),
                hint="nothing was stored; the source sent other bytes than its digest names",
            )
        if self.has(digest):
            return digest
        with self.ingest() as writer:
            writer.write(data)
            writer.commit(digest)
        return digest

    def ingest(self) -> BlobWriter:
        """Start a blob whose digest is known at the end: ``with store.ingest() as w: …
        w.commit()``. Only a committed writer leaves anything behind."""
        try:
            return BlobWriter(self._tmp, self._place)
        except OSError as exc:
            raise self._io_error("start writing a blob", exc) from exc

    def put_file(self, path: Path, expected: Digest | None = None) -> Digest:
        """Copy the file at ``path`` into the store (streaming) and return its digest."""
        try:
            source = Path(path).open("rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise StoreError(
                f"cannot read {path} to store it: {exc.strerror or exc}",
                hint="check that the file exists and is readable",
            ) from exc
        with source, self.ingest() as writer:
            while chunk := source.read(_CHUNK):
                writer.write(chunk)
            digest, _ = writer.commit(expected)
        return digest

    def _place(self, digest: Digest) -> Path:
        return self.blob_path(digest)

    def _blob_missing(self, digest: Digest) -> NotFoundError:
        return NotFoundError(
            f"blob {digest} is not in the store at {self.root}",
            hint="rebuild or pull the image that needs it",
        )

    def _io_error(self, action: str, exc: OSError) -> StoreError:
        return StoreError(
            f"cannot {action} in the store at {self.root}: {exc.strerror or exc}",
            hint="check free space and permissions, or set DOCKWRIGHT_HOME to another directory",
        )

    # ------------------------------------------------------------------ graph

    def children(self, desc: Descriptor) -> list[Descriptor]:
        """Direct references of a manifest (config + layers) or index (manifests); [] else."""
        return graph.children(self, desc)

    def walk(self, desc: Descriptor) -> list[Descriptor]:
        """``desc`` and everything reachable from it, each once (platforms of an index that
        were not pulled are left out)."""
        return graph.walk(self, desc)

    def present_platforms(self, desc: Descriptor) -> list[Platform]:
        """The platforms of ``desc`` whose images are in the store: all of a complete index,
        some of a partially pulled one, the config's platform for a single manifest."""
        return graph.present_platforms(self, desc)

    # ------------------------------------------------------------------ tags

    def _index_lock(self) -> contextlib.AbstractContextManager[None]:
        return _fs.flocked(self._locks / "index.lock")

    def _read_index(self) -> Index:
        try:
            data = self._index_path.read_bytes()
        except FileNotFoundError:
            return Index(())
        except OSError as exc:
            raise self._io_error("read the tag index", exc) from exc
        try:
            return Index.from_bytes(data)
        except ImageFormatError as exc:
            raise StoreError(
                f"the store's tag index {self._index_path} is unreadable: {exc.message}",
                hint=f"move it aside (e.g. to {self._index_path.name}.bad) and tag your images "
                "again; do not prune before that, it would delete their blobs",
            ) from exc

    def _write_index(self, index: Index) -> None:
        _fs.atomic_write(self._tmp, self._index_path, canonical_json(index.to_json()))

    def tag(self, name: str, desc: Descriptor) -> None:
        """Point ``name`` (normalised, e.g. ``hello:latest``) at ``desc``, replacing any
        previous target. Refuses with :class:`StoreError` when ``desc``'s blob or any blob
        it references is missing."""
        ref = normalize_tag(name)
        # The shared gc lock keeps a prune from deleting the closure between check and write.
        with _fs.flocked(self._locks / "gc.lock", shared=True):
            absent = graph.missing(self, desc)
            if absent:
                raise StoreError(
                    f"cannot tag {ref}: {len(absent)} blob(s) it needs are not in the store: "
                    f"{describe_missing(absent)}",
                    hint="store every layer, config and manifest before tagging",
                )
            actual = self.size(desc.digest)
            if actual != desc.size:
                raise StoreError(
                    f"cannot tag {ref}: the descriptor says {desc.size} bytes but blob "
                    f"{desc.digest} has {actual}"
                )
            entry = desc.with_annotations({_REF: ref})
            try:
                with self._index_lock():
                    index = self._read_index()
                    kept = [d for d in index.manifests if d.annotations.get(_REF) != ref]
                    self._write_index(replace(index, manifests=_sorted_entries([*kept, entry])))
            except OSError as exc:
                raise self._io_error(f"tag {ref}", exc) from exc
        log.debug("tagged %s → %s", ref, desc.digest)

    def untag(self, name: str) -> Descriptor:
        """Remove the tag and return what it pointed at; :class:`NotFoundError` if absent."""
        ref = normalize_tag(name)
        try:
            with self._index_lock():
                index = self._read_index()
                found = [d for d in index.manifests if d.annotations.get(_REF) == ref]
                if not found:
                    raise self._tag_missing(ref)
                kept = [d for d in index.manifests if d.annotations.get(_REF) != ref]
                self._write_index(replace(index, manifests=tuple(kept)))
        except OSError as exc:
            raise self._io_error(f"untag {ref}", exc) from exc
        return _strip_ref(found[0])

    def resolve(self, name: str) -> Descriptor:
        """The descriptor tagged ``name``; :class:`NotFoundError` (with a hint) if none."""
        ref = normalize_tag(name)
        for desc in self._read_index().manifests:
            if desc.annotations.get(_REF) == ref:
                return _strip_ref(desc)
        raise self._tag_missing(ref)

    def tags(self) -> list[tuple[str, Descriptor]]:
        """Every tagged image as ``(name, descriptor)``, sorted by name."""
        out = [
            (d.annotations[_REF], _strip_ref(d))
            for d in self._read_index().manifests
            if _REF in d.annotations
        ]
        return sorted(out, key=lambda item: item[0])

    def _tag_missing(self, ref: str) -> NotFoundError:
        return NotFoundError(f"no image {ref} in the store at {self.root}", hint=_IMAGES_HINT)

    # ------------------------------------------------------------------ sessions and GC

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Hold the shared in-use lock for a build, so a prune waits until it ends."""
        with _fs.flocked(self._locks / "gc.lock", shared=True):
            self._local.depth = getattr(self._local, "depth", 0) + 1
            try:
                yield
            finally:
                self._local.depth -= 1

    def _blob_files(self) -> Iterator[tuple[Path, Digest | None]]:
        blobs = self.root / "blobs"
        for algorithm_dir in sorted(p for p in blobs.iterdir() if p.is_dir()):
            for path in sorted(algorithm_dir.iterdir()):
                try:
                    yield path, Digest(algorithm_dir.name, path.name)
                except ImageFormatError:
                    yield path, None

    def _hash_file(self, path: Path, digest: Digest) -> str:
        hasher = digest.hasher()
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                hasher.update(chunk)
        return hasher.hexdigest()

    def prune(self, *, repair: bool = False, keep: KeepHook | None = None) -> PruneReport:
        """Delete blobs no tag (no index.json entry) reaches, and stale temp files.

        Waits for running sessions. With ``repair``, first hashes every blob, deletes the
        corrupt ones and the tags whose closure is then incomplete, and reports both.
        ``keep``, when given, is called under the exclusive lock (no session runs) with the
        digests the tags reach; the blobs it returns are kept too (``PruneReport.kept``
        counts those not already reached by a tag). It may change the cache meanwhile.
        """
        if getattr(self._local, "depth", 0):
            raise StoreError(
                "prune cannot run inside a session of the same thread: it would wait for itself"
            )
        try:
            with _fs.flocked(self._locks / "gc.lock"):
                return self._prune_locked(repair, keep)
        except OSError as exc:
            raise self._io_error("prune", exc) from exc

    def _prune_locked(self, repair: bool, keep: KeepHook | None) -> PruneReport:
        corrupt: list[tuple[Digest, Path]] = []
        untagged: list[str] = []
        freed = 0
        if repair:
            for path, digest in self._blob_files():
                if digest is not None and self._hash_file(path, digest) != digest.hex:
                    corrupt.append((digest, path))
            bad = {digest for digest, _ in corrupt}
            # Tags go first: a crash in between then leaves garbage, never a broken tag.
            with self._index_lock():
                index = self._read_index()
                kept: list[Descriptor] = []
                for entry in index.manifests:
                    if self._closure_ok(entry, bad):
                        kept.append(entry)
                    else:
                        untagged.append(entry.annotations.get(_REF, str(entry.digest)))
                if untagged:
                    self._write_index(replace(index, manifests=tuple(kept)))
            for _, path in corrupt:
                freed += path.stat().st_size
                path.unlink(missing_ok=True)
                log.warning("removed corrupt blob %s", path)
        with self._index_lock():
            roots = self._read_index().manifests
        reachable: set[Digest] = set()
        for root in roots:
            try:
                reachable.update(d.digest for d in self._reachable(root))
            except (CorruptBlobError, ImageFormatError) as exc:
                raise StoreError(
                    f"cannot prune: image {root.annotations.get(_REF, root.digest)} has an "
                    f"unreadable manifest ({exc.message})",
                    hint=_REPAIR_HINT,
                ) from exc
        extra: set[Digest] = set()
        if keep is not None:
            extra = set(keep(frozenset(reachable))) - reachable
            reachable |= extra
        removed: list[Digest] = []
        touched: set[Path] = set()
        for path, digest in self._blob_files():
            if digest is None or digest in reachable:
                continue
            freed += path.stat().st_size
            path.unlink(missing_ok=True)
            touched.add(path.parent)
            removed.append(digest)
        for directory in touched:
            _fs.fsync_dir(directory)
        _fs.clean_stale_temps(self._tmp)
        log.debug("prune removed %d blob(s), %d bytes", len(removed), freed)
        return PruneReport(
            removed=tuple(sorted(removed)),
            freed_bytes=freed,
            corrupt=tuple(sorted(d for d, _ in corrupt)),
            untagged=tuple(sorted(untagged)),
            kept=len(extra),
        )

    def _reachable(self, root: Descriptor) -> list[Descriptor]:
        # Blobs that are missing are simply not reachable; tag() makes that rare.
        out: list[Descriptor] = []
        seen: set[Digest] = set()
        stack = [root]
        while stack:
            item = stack.pop()
            if item.digest in seen or not self.has(item.digest):
                continue
            seen.add(item.digest)
            out.append(item)
            stack.extend(graph.children(self, item))
        return out

    def _closure_ok(self, root: Descriptor, bad: set[Digest]) -> bool:
        try:
            if graph.missing(self, root):
                return False
            return not any(d.digest in bad for d in graph.walk(self, root))
        except DockwrightError:
            return False

    def verify(self) -> list[str]:
        """Problems found: corrupt blobs, missing referenced blobs, an unreadable
        index.json. An empty list means the store is healthy."""
        problems: list[str] = []
        try:
            for path, digest in self._blob_files():
                if digest is None:
                    problems.append(f"unexpected file {path} (not named by a digest)")
                    continue
                actual = self._hash_file(path, digest)
                if actual != digest.hex:
                    problems.append(
                        str(CorruptBlobError(path, str(digest), f"{digest.algorithm}:{actual}"))
                    )
        except OSError as exc:
            problems.append(str(self._io_error("read the blobs", exc)))
        try:
            entries = self._read_index().manifests
        except StoreError as exc:
            return [*problems, str(exc)]
        for entry in entries:
            name = entry.annotations.get(_REF, str(entry.digest))
            try:
                absent = graph.missing(self, entry)
            except DockwrightError as exc:
                problems.append(f"image {name}: {exc}")
                continue
            if absent:
                problems.append(f"image {name} lacks blob(s): {describe_missing(absent)}")
        return problems


def _sorted_entries(entries: list[Descriptor]) -> tuple[Descriptor, ...]:
    # Entries without a name (written by other tools) stay first, in their order.
    unnamed = [d for d in entries if _REF not in d.annotations]
    named = sorted((d for d in entries if _REF in d.annotations), key=lambda d: d.annotations[_REF])
    return (*unnamed, *named)
