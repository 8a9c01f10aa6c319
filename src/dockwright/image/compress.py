"""Compressing an existing uncompressed layer tar, streaming: what exports and pushes do to
the layers the store keeps uncompressed."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from dockwright.image.digest import Digest
from dockwright.image.layer import (
    CHUNK_SIZE,
    DEFAULT_GZIP_LEVEL,
    Compression,
    LayerInfo,
    _compressor,
    _HashingSink,
    _write_all,
)


def compress_blob(
    src: BinaryIO, out: BinaryIO, *, compression: Compression, level: int | None = None
) -> LayerInfo:
    """Compress the uncompressed layer tar read from ``src`` into ``out``, streaming.

    ``diff_id`` is the tar's digest, ``digest`` the compressed bytes'. gzip runs on every
    core (:mod:`dockwright.image.pgzip`); its bytes do not depend on the number of cores.
    """
    compressor, media_type = _compressor(compression, level)
    if compression == "gzip":
        from dockwright.image.pgzip import gzip_stream  # noqa: PLC0415

        tar_hash = hashlib.sha256()
        blob_hash = hashlib.sha256()
        size = 0

        def emit(chunk: bytes) -> None:
            nonlocal size
            blob_hash.update(chunk)
            size += len(chunk)
            _write_all(out, chunk)

        gzip_level = DEFAULT_GZIP_LEVEL if level is None else level
        length = gzip_stream(src, emit, level=gzip_level, tar_hash=tar_hash)
        return LayerInfo(
            digest=Digest.from_hasher(blob_hash),
            diff_id=Digest.from_hasher(tar_hash),
            size=size,
            uncompressed_size=length,
            media_type=media_type,
        )
    sink = _HashingSink(out, compressor)
    while chunk := src.read(CHUNK_SIZE):
        sink.write(chunk)
    digest, diff_id = sink.finish()
    return LayerInfo(
        digest=digest,
        diff_id=diff_id,
        size=sink.size,
        uncompressed_size=sink.uncompressed_size,
        media_type=media_type,
    )
