"""The no-change fast path: a record of the last build of the same inputs.

A rebuild with nothing changed must cost about what BuildKit's does (~0.1 s), which leaves no
room to import the parser, the planner and the image model. After each build the CLI records
*what the result depended on*: the Dockerfile's bytes and the build's options (the key), a
signature of every entry in the context folders (path, type, mode, owner, size, mtime, ctime,
inode, link target: any edit, addition or removal changes it), the store tags the base images
were resolved through with the digests they named, and every blob of the result. The next
build checks those with stat calls and one read of the store's index; if all hold, it is the
same build and its result is still in the store. Anything unusual (remote ADD sources,
--no-cache, a context too big to walk quickly) simply skips the memo.

This module imports only the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

NAMESPACE = "build-memo"
FORMAT = 1
MAX_ENTRIES = 50_000
_INDEX = "index.json"
_REF = "org.opencontainers.image.ref.name"


def memo_key(parts: Mapping[str, object]) -> str:
    """The key of a build: sha256 over the canonical JSON of what defines it."""
    text = json.dumps({"format": FORMAT, **parts}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tree_signature(folders: Sequence[Path]) -> str | None:
    """A digest of every entry's metadata under ``folders``; None when too big to be cheap."""
    hasher = hashlib.sha256()
    count = 0
    for folder in folders:
        hasher.update(f"\0root {folder}\0".encode())
        stack = [(str(folder), "")]
        while stack:
            path, rel = stack.pop()
            try:
                entries = sorted(os.scandir(path), key=lambda e: e.name)
            except OSError:
                return None
            for entry in entries:
                count += 1
                if count > MAX_ENTRIES:
                    return None
                st = entry.stat(follow_symlinks=False)
                name = f"{rel}/{entry.name}"
                link = os.readlink(entry.path) if entry.is_symlink() else ""
                hasher.update(
                    f"{name}\0{st.st_mode}\0{st.st_uid}\0{st.st_gid}\0{st.st_size}\0"
                    f"{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\0{link}\n".encode(
                        "utf-8", "surrogateescape"
                    )
                )
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, name))
    return hasher.hexdigest()


def _cache_path(root: Path, key: str) -> Path:
    # The store's cache layout (Store._cache_path): sha256 of "namespace\0key".
    token = hashlib.sha256(f"{NAMESPACE}\0{key}".encode()).hexdigest()
    return root / "dockwright" / "cache" / token[:2] / token


def read_tags(root: Path) -> dict[str, str]:
    """The store's tags (normalised names) and the digests they name."""
    try:
        index = json.loads((root / _INDEX).read_bytes())
    except (OSError, ValueError):
        return {}
    tags: dict[str, str] = {}
    for desc in index.get("manifests") or []:
        name = (desc.get("annotations") or {}).get(_REF)
        if isinstance(name, str):
            tags[name] = str(desc.get("digest"))
    return tags


def _blob_exists(root: Path, digest: str) -> bool:
    algorithm, _, hexpart = digest.partition(":")
    return bool(hexpart) and (root / "blobs" / algorithm / hexpart).is_file()


def lookup(root: Path, key: str, folders: Sequence[Path]) -> dict[str, object] | None:
    """The recorded result of the build ``key`` if every input it recorded still holds."""
    try:
        record = json.loads(json.loads(_cache_path(root, key).read_bytes())["v"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None
    tags = read_tags(root)
    bases = record.get("bases") or {}
    if any(tags.get(tag) != digest for tag, digest in bases.items()):
        return None
    if not all(_blob_exists(root, d) for d in record.get("blobs") or []):
        return None
    if tree_signature(folders) != record.get("context"):
        return None
    return record


def remember(
    store_put: Callable[[str, str, str], None],
    key: str,
    *,
    context: str,
    bases: Mapping[str, str],
    blobs: Iterable[str],
    root: Mapping[str, object],
    steps: Sequence[str],
) -> None:
    """Record a finished build (``store_put`` is the store's ``cache_put``)."""
    record = {
        "format": FORMAT,
        "context": context,
        "bases": dict(bases),
        "blobs": sorted(set(blobs)),
        "root": dict(root),
        "steps": list(steps),
    }
    store_put(NAMESPACE, key, json.dumps(record, sort_keys=True))
