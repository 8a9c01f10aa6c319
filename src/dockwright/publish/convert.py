"""Layer compression on the way out.

The local store keeps the layers dockwright makes uncompressed, as Docker's and buildah's
stores do: a build then never waits for gzip. An export (OCI layout, archive, and later a
push) compresses them here. Each compressed variant is remembered in the store's cache by
(uncompressed digest, algorithm, level), so an unchanged layer is compressed only once.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import BinaryIO, Literal, cast

from dockwright.errors import UsageError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, Index, Manifest, descriptor_for, parse_document
from dockwright.store import BlobStore

LayerCompression = Literal["gzip", "zstd", "uncompressed"]
COMPRESSIONS: tuple[LayerCompression, ...] = ("gzip", "zstd", "uncompressed")

_UNCOMPRESSED = {
    mt.OCI_LAYER: {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD},
    # Docker's schema 2 has no zstd layer type; such layers stay uncompressed.
    "application/vnd.docker.image.rootfs.diff.tar": {"gzip": mt.DOCKER_LAYER_GZIP},
}
_CACHE = "compressed-layer"


def parse_compression(text: str) -> LayerCompression:
    """``gzip``, ``zstd`` or ``uncompressed``; anything else is a :class:`UsageError`."""
    for name in COMPRESSIONS:
        if text.lower() == name:
            return name
    raise UsageError(f"unknown compression {text!r}", hint=f"valid: {', '.join(COMPRESSIONS)}")


def _compressed_layer(
    store: BlobStore, layer: Descriptor, compression: str, level: int | None
) -> Descriptor:
    target = _UNCOMPRESSED.get(layer.media_type, {}).get(compression)
    if target is None:
        return layer
    key = f"{layer.digest}|{compression}|{level}"
    cached = store.cache_get(_CACHE, key)
    if cached:
        rec = json.loads(cached)
        digest = Digest.parse(rec["digest"])
        if store.has(digest):
            return replace(layer, media_type=target, digest=digest, size=int(rec["size"]))
    from dockwright.image.compress import compress_blob  # noqa: PLC0415 - zlib/zstd only here

    with store.open_blob(layer.digest) as src, store.ingest() as writer:
        # compress_blob only calls write(), which every ingest writer has.
        info = compress_blob(
            src,
            cast(BinaryIO, writer),
            compression="gzip" if compression == "gzip" else "zstd",
            level=level,
        )
        writer.commit(info.digest)
    store.cache_put(
        _CACHE, key, json.dumps({"digest": str(info.digest), "size": info.size}, sort_keys=True)
    )
    return replace(layer, media_type=target, digest=info.digest, size=info.size)


def compress_layers(
    store: BlobStore,
    root: Descriptor,
    compression: LayerCompression,
    level: int | None = None,
) -> Descriptor:
    """``root`` (a manifest or index in ``store``) with every uncompressed layer replaced by
    its ``compression`` variant; new manifests and indexes are written to ``store``.

    Already compressed layers are left as they are, and ``uncompressed`` changes nothing.
    The result keeps ``root``'s platform and annotations, so an index entry stays valid.
    """
    if compression == "uncompressed":
        return root
    doc = parse_document(store.read(root.digest), root.media_type)
    if isinstance(doc, Index):
        # A platform that was never pulled stays as it is: whoever needs it says so.
        children = tuple(
            compress_layers(store, child, compression, level)
            if (child.is_index or child.is_manifest) and store.has(child.digest)
            else child
            for child in doc.manifests
        )
        if children == doc.manifests:
            return root
        converted: Index | Manifest = replace(doc, manifests=children)
    else:
        layers = tuple(_compressed_layer(store, d, compression, level) for d in doc.layers)
        if layers == doc.layers:
            return root
        converted = replace(doc, layers=layers)
    data = converted.to_bytes()
    store.put_bytes(data)
    fresh = descriptor_for(root.media_type, data)
    return replace(root, digest=fresh.digest, size=fresh.size)
