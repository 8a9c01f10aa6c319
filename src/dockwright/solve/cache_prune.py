"""Keeping the build cache through ``prune``, and trimming it least recently used first.

The build cache is three kinds of things, each with a size and a last use:

- the layers the "build" cache records name and no tag reaches (a layer a tag needs costs
  the cache nothing: prune keeps it anyway, and its records with it);
- the snapshotter's unpacked layers (``usage()``/``remove()``);
- the folders of ``RUN --mount=type=cache`` (``<store>/cache-mounts/<id>``).

:class:`BuildCacheTrimmer` is the ``keep`` hook of :meth:`Store.prune`: it runs under the
store's exclusive lock, so no build or pull session is live while it deletes. It drops
whole items, oldest use first, until the rest fits ``keep_storage`` bytes (``None``: trim
nothing, keep every record's layer; ``0``: empty the build cache), deletes records whose
layer is gone, and returns the layers the surviving records need, which prune then keeps.
Records are deleted before their blobs, so a crash in between leaves garbage, never a
record whose layer is half there (and ``cached()`` checks the layer exists anyway).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dockwright.image.digest import Digest
from dockwright.snapshot import Snapshotter
from dockwright.snapshot.base import disk_usage
from dockwright.solve.commit import CACHE_NAMESPACE
from dockwright.store.store import CacheItem, Store

log = logging.getLogger(__name__)

CACHE_MOUNTS = "cache-mounts"


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """One trimmable item of the build cache."""

    kind: str  # "layer", "snapshot" or "cache-mount"
    name: str
    size: int
    last_used: float


@dataclass(slots=True)
class TrimReport:
    """What a trim removed, and the build cache's size before and after (in bytes)."""

    records_removed: int = 0
    layers_released: int = 0
    snapshots_removed: int = 0
    cache_mounts_removed: int = 0
    freed_bytes: int = 0
    usage_before: int = 0
    usage_after: int = 0
    removed: list[CacheUsage] = field(default_factory=list)


def _layer_of(item: CacheItem) -> Digest | None:
    try:
        layer = json.loads(item.value)["layer"]
        return None if layer is None else Digest.parse(str(layer["digest"]))
    except (ValueError, KeyError, TypeError):
        return None


def cache_mount_usage(store_root: Path) -> list[CacheUsage]:
    """The cache-mount folders, their sizes and last uses (newest mtime of folder or data)."""
    base = store_root / CACHE_MOUNTS
    out: list[CacheUsage] = []
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return out
    for name in names:
        path = base / name
        if not path.is_dir() or name.startswith("."):
            continue
        stamps = [path.stat().st_mtime]
        data = path / "data"
        with contextlib.suppress(OSError):
            stamps.append(data.stat().st_mtime)
        out.append(CacheUsage("cache-mount", name, disk_usage(path), max(stamps)))
    return out


class BuildCacheTrimmer:
    """The ``keep`` hook for :meth:`Store.prune` (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        keep_storage: int | None,
        snapshotter: Snapshotter | None = None,
    ) -> None:
        self.store = store
        self.keep_storage = keep_storage
        self.snapshotter = snapshotter
        self.report = TrimReport()

    def __call__(self, tagged: frozenset[Digest]) -> set[Digest]:
        """Trim (when asked) and return the layers the remaining records need."""
        store = self.store
        records = store.cache_items(CACHE_NAMESPACE)
        by_layer: dict[Digest, list[CacheItem]] = {}
        empty: list[CacheItem] = []
        for record in records:
            digest = _layer_of(record)
            if digest is None:
                empty.append(record)
            elif store.has(digest):
                by_layer.setdefault(digest, []).append(record)
            else:
                # Its layer is gone (pruned before, or never arrived): the record is dead.
                store.cache_delete(CACHE_NAMESPACE, record.key)
                self.report.records_removed += 1
        usage = [
            CacheUsage("layer", str(digest), store.size(digest), max(i.last_used for i in items))
            for digest, items in by_layer.items()
            if digest not in tagged
        ]
        if self.snapshotter is not None:
            usage += [
                CacheUsage("snapshot", str(u.diff_id), u.size, u.last_used)
                for u in self.snapshotter.usage()
            ]
        self._clean_leftovers()
        usage += cache_mount_usage(store.root)
        total = sum(u.size for u in usage)
        self.report.usage_before = total
        if self.keep_storage is not None:
            for item in sorted(usage, key=lambda u: (u.last_used, u.name)):
                if total <= self.keep_storage:
                    break
                self._remove(item, by_layer)
                total -= item.size
            if self.keep_storage == 0:
                for dead in empty:
                    store.cache_delete(CACHE_NAMESPACE, dead.key)
                    self.report.records_removed += 1
        self.report.usage_after = total
        return set(by_layer)

    def _clean_leftovers(self) -> None:
        base = self.store.root / CACHE_MOUNTS
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(base):
                if name.startswith(".deleting-"):
                    shutil.rmtree(base / name, ignore_errors=True)

    def _remove(self, item: CacheUsage, by_layer: dict[Digest, list[CacheItem]]) -> None:
        report = self.report
        report.removed.append(item)
        if item.kind == "layer":
            digest = Digest.parse(item.name)
            for record in by_layer.pop(digest, []):
                self.store.cache_delete(CACHE_NAMESPACE, record.key)
                report.records_removed += 1
            # The blob itself goes in prune's sweep, which counts its bytes.
            report.layers_released += 1
        elif item.kind == "snapshot":
            assert self.snapshotter is not None
            self.snapshotter.remove(Digest.parse(item.name))
            report.snapshots_removed += 1
            report.freed_bytes += item.size
        else:
            path = self.store.root / CACHE_MOUNTS / item.name
            # Out of sight by one rename first, so a crash never leaves a half-deleted cache.
            doomed = path.with_name(f".deleting-{item.name}")
            try:
                os.rename(path, doomed)
            except FileNotFoundError:
                return
            shutil.rmtree(doomed, ignore_errors=True)
            report.cache_mounts_removed += 1
            report.freed_bytes += item.size
        log.debug("build cache: removed %s %s (%d bytes)", item.kind, item.name, item.size)
