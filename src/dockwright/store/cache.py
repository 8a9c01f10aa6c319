"""The store's small key/value cache: one JSON record per key under ``dockwright/cache/``.

A record for ``key`` in ``namespace`` lives at ``<root>/dockwright/cache/<t[:2]>/<t>`` with
``t = sha256(f"{namespace}\\0{key}")`` (hex), and holds ``{"n": namespace, "k": key, "v":
value}`` as canonical JSON. Other code reads this layout directly (solve/memo.py), so it must
not change. :class:`CacheMixin` gives :class:`~dockwright.store.store.Store` its ``cache_*``
methods.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from dockwright.errors import StoreError
from dockwright.image.model import canonical_json
from dockwright.store import _fs

# The records were written by store.py before the split; keep their log lines under its name.
log = logging.getLogger("dockwright.store.store")


@dataclass(frozen=True, slots=True)
class CacheItem:
    """One record of the store's key/value cache, with when it was last written or read."""

    key: str
    value: str
    last_used: float


class CacheMixin:
    """The ``cache_*`` methods of the store; the class using it sets ``_cache`` (the cache
    directory) and ``_tmp`` (its temp directory) and provides ``_io_error``."""

    _cache: Path
    _tmp: Path

    def _io_error(self, action: str, exc: OSError) -> StoreError:
        raise NotImplementedError

    def _cache_path(self, namespace: str, key: str) -> Path:
        token = hashlib.sha256(f"{namespace}\0{key}".encode()).hexdigest()
        return self._cache / token[:2] / token

    def cache_get(self, namespace: str, key: str) -> str | None:
        """The value last stored for ``key`` in ``namespace``, or ``None``.

        Values may name blobs a prune has since removed; check :meth:`has` before use.
        """
        try:
            obj = json.loads(self._cache_path(namespace, key).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache entry %s/%s: %s", namespace, key, exc)
            return None
        if not isinstance(obj, dict) or obj.get("n") != namespace or obj.get("k") != key:
            return None
        value = obj.get("v")
        return value if isinstance(value, str) else None

    def cache_put(self, namespace: str, key: str, value: str) -> None:
        """Remember ``value`` for ``key`` in ``namespace`` (atomically replacing any old one)."""
        path = self._cache_path(namespace, key)
        try:
            path.parent.mkdir(exist_ok=True)
            # No fsync: cache_get reads a lost or torn entry as a miss.
            _fs.atomic_write(
                self._tmp,
                path,
                canonical_json({"n": namespace, "k": key, "v": value}),
                durable=False,
            )
        except OSError as exc:
            raise self._io_error("write a cache entry", exc) from exc

    def cache_touch(self, namespace: str, key: str) -> None:
        """Mark ``key``'s record as used now (what a least-recently-used trim goes by)."""
        with contextlib.suppress(OSError):
            os.utime(self._cache_path(namespace, key))

    def cache_delete(self, namespace: str, key: str) -> bool:
        """Forget ``key`` in ``namespace``; False when there was no record."""
        try:
            self._cache_path(namespace, key).unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._io_error("delete a cache entry", exc) from exc
        return True

    def cache_items(self, namespace: str) -> list[CacheItem]:
        """Every record of ``namespace`` (reads the whole cache; meant for prune and tools).

        ``last_used`` is the later of the record's write time and its last read time, as
        far as the file system keeps access times (``relatime`` marks the first read after
        a write), and :meth:`cache_touch` sets it explicitly.
        """
        items: list[CacheItem] = []
        try:
            buckets = sorted(p for p in self._cache.iterdir() if p.is_dir())
        except FileNotFoundError:
            return items
        for bucket in buckets:
            for path in sorted(bucket.iterdir()):
                try:
                    stat = path.stat()
                    data = path.read_bytes()
                    # Reading here is not a use: put the access time back.
                    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
                    obj = json.loads(data)
                except (OSError, ValueError):
                    continue
                if not isinstance(obj, dict) or obj.get("n") != namespace:
                    continue
                key, value = obj.get("k"), obj.get("v")
                if isinstance(key, str) and isinstance(value, str):
                    items.append(CacheItem(key, value, max(stat.st_mtime, stat.st_atime)))
        return items
