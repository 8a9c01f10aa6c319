"""``--unpack`` for ``pull`` and ``copy … store:``: lay an image's layers out as snapshots now,
as ``docker load``/``docker pull`` do, so the first build FROM it starts at once."""

from __future__ import annotations

import os
from pathlib import Path

from dockwright.image.model import Descriptor, ImageConfig, Manifest, parse_document
from dockwright.solve.builder import unpack_layers
from dockwright.store import Store


def unpack_image(store: Store, root: Descriptor) -> int:
    """Unpack every layer of every image under ``root`` that is in the store (once per
    layer, in parallel); return how many layers were unpacked now."""
    from dockwright.snapshot import open_snapshotter  # noqa: PLC0415

    snapshotter = open_snapshotter(store.root / "snapshots")
    todo = {}
    for desc in [root, *store.walk(root)]:
        if not desc.is_manifest or not store.has(desc.digest):
            continue
        doc = parse_document(store.read(desc.digest), desc.media_type)
        if not isinstance(doc, Manifest) or not store.has(doc.config.digest):
            continue
        config = ImageConfig.from_bytes(store.read(doc.config.digest))
        for layer, diff_id in zip(doc.layers, config.diff_ids, strict=False):
            if store.has(layer.digest) and not snapshotter.has(diff_id):
                todo[diff_id] = layer
    if not todo:
        return 0
    unpack_layers(snapshotter, store, todo.items())
    _sync_filesystem(snapshotter.root)
    return len(todo)


def _sync_filesystem(path: Path) -> None:
    """Flush the unpacked files to disk before returning, as ``docker load`` does: a load
    that returned is durable, and a build started next does not share the disk with the
    load's writeback."""
    import ctypes  # noqa: PLC0415

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
