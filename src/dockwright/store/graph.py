"""Following references between blobs: index → manifests → config and layers."""

from __future__ import annotations

from collections.abc import Callable

from dockwright.errors import ImageFormatError, NotFoundError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, ImageConfig, Index, Manifest
from dockwright.image.platform import Platform
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


def _child_may_be_absent(parent: Descriptor, child: Descriptor) -> bool:
    # An index may list platforms that were not pulled (containerd does the same); foreign
    # and non-distributable layers live elsewhere.
    return is_optional(child) or (parent.is_index and (child.is_manifest or child.is_index))


def walk(source: BlobSource, desc: Descriptor) -> list[Descriptor]:
    """``desc`` and everything reachable from it, each digest once, parents first.

    Absent optional layers and absent children of an index (platforms not pulled) are
    skipped; any other absent blob raises NotFoundError when it is read.
    """
    seen: set[Digest] = set()
    out: list[Descriptor] = []
    stack: list[tuple[Descriptor | None, Descriptor]] = [(None, desc)]
    while stack:
        parent, item = stack.pop()
        if item.digest in seen:
            continue
        seen.add(item.digest)
        if (
            parent is not None
            and _child_may_be_absent(parent, item)
            and not source.has(item.digest)
        ):
            continue
        out.append(item)
        stack.extend((item, child) for child in reversed(children(source, item)))
    return out


def missing(source: BlobSource, desc: Descriptor) -> list[Descriptor]:
    """Blobs of ``desc``'s closure that ``source`` lacks.

    Optional layers are not counted, nor are absent manifests of an index (a partial,
    single-platform pull) as long as at least one of its manifests is present; everything
    under a present manifest must be there.
    """
    seen: set[Digest] = set()
    absent: list[Descriptor] = []
    stack: list[tuple[Descriptor | None, Descriptor]] = [(None, desc)]
    while stack:
        parent, item = stack.pop()
        if item.digest in seen:
            continue
        seen.add(item.digest)
        if not source.has(item.digest):
            if parent is None or not _child_may_be_absent(parent, item):
                absent.append(item)
            continue
        kids = children(source, item)
        if item.is_index and kids and not any(source.has(k.digest) for k in kids):
            # A partial index is fine; an index with none of its images is not an image.
            absent.extend(k for k in kids if k.digest not in seen and not is_optional(k))
            seen.update(k.digest for k in kids)
            continue
        stack.extend((item, child) for child in reversed(kids))
    return absent


def present_children(source: BlobSource, desc: Descriptor) -> list[Descriptor]:
    """The entries of an index whose manifests are in ``source``; ``[]`` for other blobs."""
    if not desc.is_index:
        return []
    return [child for child in children(source, desc) if source.has(child.digest)]


def present_platforms(source: BlobSource, desc: Descriptor) -> list[Platform]:
    """The platforms of ``desc`` whose images are in ``source``, in index order.

    For a manifest: its config's platform. For an index: the platform of each present
    manifest (from the index entry, else from its config); nested indexes are followed.
    Entries without any platform (e.g. attestations) are left out.
    """
    out: list[Platform] = []
    if desc.is_manifest:
        manifest = Manifest.from_bytes(source.read(desc.digest), desc.media_type)
        if source.has(manifest.config.digest):
            config = ImageConfig.from_bytes(source.read(manifest.config.digest))
            if config.os and config.architecture:
                out.append(config.platform)
        return out
    for child in present_children(source, desc):
        if child.platform is not None and child.platform.os != "unknown":
            out.append(child.platform)
        elif child.platform is None:
            out.extend(present_platforms(source, child))
    return out


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
