"""A tiny image kit for tests: deterministic layers, configs, manifests and indexes.

Like go-containerregistry's ``random`` package, but reproducible: the same arguments
always give the same digests. It writes through anything with ``put_bytes`` (the real
:class:`~dockwright.store.Store`, :class:`~dockwright.store.MemoryStore`, …).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Mapping, Sequence
from typing import Protocol

from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import (
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    RunConfig,
)
from dockwright.image.platform import Platform


class BlobSink(Protocol):
    """Anything that stores bytes and names them by digest."""

    def put_bytes(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store ``data`` and return its digest."""
        ...


def layer_tar(files: Mapping[str, bytes]) -> bytes:
    """An uncompressed, deterministic layer tar holding ``files`` (path → content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for path in sorted(files):
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in dirs:
                    dirs.add(directory)
                    info = tarfile.TarInfo(directory + "/")
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo("/".join(parts))
            info.size = len(files[path])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[path]))
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """``data`` gzip-compressed with a zero timestamp, so the bytes are reproducible."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def add_layer(
    sink: BlobSink, files: Mapping[str, bytes], *, compress: bool = True
) -> tuple[Descriptor, Digest]:
    """Store a layer of ``files``; returns its descriptor and its diff ID."""
    raw = layer_tar(files)
    diff_id = Digest("sha256", hashlib.sha256(raw).hexdigest())
    blob = gzip_bytes(raw) if compress else raw
    media_type = mt.OCI_LAYER_GZIP if compress else mt.OCI_LAYER
    return Descriptor(media_type, sink.put_bytes(blob), len(blob)), diff_id


def add_image(
    sink: BlobSink,
    *,
    platform: Platform | None = None,
    layers: Sequence[Mapping[str, bytes]] = ({"hello.txt": b"hello\n"},),
    cmd: Sequence[str] = ("/bin/sh",),
    compress: bool = True,
) -> Descriptor:
    """Store a complete single-platform image; returns its manifest's descriptor.

    The descriptor carries ``platform`` so it can go straight into an index.
    """
    plat = platform or Platform("linux", "amd64")
    layer_descs: list[Descriptor] = []
    config = ImageConfig(
        architecture=plat.architecture,
        os=plat.os,
        variant=plat.variant,
        created="1970-01-01T00:00:00Z",
        config=RunConfig(cmd=tuple(cmd)),
    )
    for files in layers:
        desc, diff_id = add_layer(sink, files, compress=compress)
        layer_descs.append(desc)
        config = config.with_layer(diff_id, History(created_by=f"test layer {len(layer_descs)}"))
    config_bytes = config.to_bytes()
    config_desc = Descriptor(mt.OCI_CONFIG, sink.put_bytes(config_bytes), len(config_bytes))
    manifest = Manifest(config=config_desc, layers=tuple(layer_descs))
    data = manifest.to_bytes()
    return Descriptor(mt.OCI_MANIFEST, sink.put_bytes(data), len(data), platform=plat)


def add_index(
    sink: BlobSink,
    platforms: Sequence[Platform] = (Platform("linux", "amd64"), Platform("linux", "arm64")),
) -> Descriptor:
    """Store a multi-platform image (one image per platform, each with its own file)."""
    manifests = tuple(
        add_image(sink, platform=p, layers=({"platform.txt": f"{p}\n".encode()},))
        for p in platforms
    )
    data = Index(manifests=manifests).to_bytes()
    return Descriptor(mt.OCI_INDEX, sink.put_bytes(data), len(data))
