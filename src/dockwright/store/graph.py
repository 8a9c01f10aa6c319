"""Following references between blobs: index → manifests → config and layers."""

from __future__ import annotations

from collections.abc import Callable

from dockwright.errors import ImageFormatError, NotFoundError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, Index, Manifest
from dockwright.store.source import BlobSource, DigestMismatchError

_CHUNK = 1 << 20

# Layers a registry may legitimately keep elsewhere (Windows base layers): an image is
# complete without them, so their absence is not an error.
_OPTIONAL_TYPES = frozenset(
    {
        mt.DOCKER_LAYER_FOREIGN,
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)


def is_optional(desc: Descriptor) -> bool:
    """True for foreign/non-distributable layers, which a complete image may lack."""
    return desc.media_type in _OPTIONAL_TYPES


def children(source: BlobSource, desc: Descriptor) -> list[Descriptor]:
    """Direct references of a manifest (config, then layers) or an index (its manifests).

    Other blobs have none. A malformed document raises :class:`ImageFormatError` naming it.
    """
    if not (desc.is_index or desc.is_manifest):
        return []
    data = source.read(desc.digest)
    try:
        if desc.is_index:
            return list(Index.from_bytes(data, desc.media_type).manifests)
        manifest = Manifest.from_bytes(data, desc.media_type)
    except ImageFormatError as exc:
        raise ImageFormatError(f"blob {desc.digest}: {exc.message}") from exc
    return [manifest.config, *manifest.layers]


def walk(source: BlobSource, desc: Descriptor) -> list[Descriptor]:
    """``desc`` and everything reachable from it, each digest once, parents first.

    Absent optional layers are skipped; any other absent blob raises NotFoundError.
    """
    seen: set[Digest] = set()
    out: list[Descriptor] = []
    stack = [desc]
    while stack:
        item = stack.pop()
        if item.digest in seen:
            continue
        seen.add(item.digest)
        if is_optional(item) and not source.has(item.digest):
            continue
        out.append(item)
        stack.extend(reversed(children(source, item)))
    return out


def missing(source: BlobSource, desc: Descriptor) -> list[Descriptor]:
    """Blobs of ``desc``'s closure that ``source`` lacks (optional layers not counted)."""
    seen: set[Digest] = set()
    absent: list[Descriptor] = []
    stack = [desc]
    while stack:
        item = stack.pop()
        if item.digest in seen:
            continue
        seen.add(item.digest)
        if not source.has(item.digest):
            if not is_optional(item):
                absent.append(item)
            continue
        stack.extend(reversed(children(source, item)))
    return absent


def copy_blob(source: BlobSource, desc: Descriptor, write: Callable[[bytes], object]) -> None:
    """Stream ``desc``'s blob into ``write``, checking its digest and size on the way.

    Raises :class:`NotFoundError` when absent and :class:`DigestMismatchError` when the
    bytes are not what the descriptor says (the caller must then discard what it wrote).
    """
    if not source.has(desc.digest):
        raise NotFoundError(f"blob {desc.digest} ({desc.media_type}) is missing")
    hasher = desc.digest.hasher()
    size = 0
    with source.open_blob(desc.digest) as stream:
        while chunk := stream.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
            write(chunk)
    actual = hasher.hexdigest()
    if actual != desc.digest.hex or size != desc.size:
        raise DigestMismatchError(
            f"blob {desc.digest}",
            f"{desc.digest} ({desc.size} bytes)",
            f"{desc.digest.algorithm}:{actual} ({size} bytes)",
            hint="the source is corrupt; for the local store run 'dockwright prune --repair'",
        )
