"""Pulling an image (one platform, some, or all) from a registry into a content store.

Order of work: the root manifest or index; the chosen platform manifests; then every config
and layer the store lacks, in parallel, each verified while it streams and committed only
when its digest matches; then the manifests, and the index last. A crash at any point
leaves only complete, verified blobs behind. The caller tags ``PullResult.root`` (inside a
store session, so a concurrent prune cannot collect the untagged blobs in between).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from dockwright.errors import CorruptBlobError, ImageFormatError, PlatformError, RegistryError
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, ImageConfig, Index, Manifest
from dockwright.image.platform import Platform, best_match, host_platform
from dockwright.image.reference import Reference
from dockwright.registry.client import Client
from dockwright.registry.content import BlobSink, record_origin
from dockwright.registry.errors import RegistryDigestError, digest_error
from dockwright.registry.progress import ProgressCallback, Reporter

log = logging.getLogger(__name__)

_OPTIONAL_LAYERS = ("foreign", "nondistributable")
_SMALL_BLOB = 256 << 10


@dataclass(frozen=True, slots=True)
class PullResult:
    """What :func:`pull` did.

    ``root`` is what the reference names (an index for multi-platform images, kept whole
    even when only some platforms were pulled); ``manifests`` and ``platforms`` are the
    images now present; ``available`` lists every platform the index offers.
    """

    reference: Reference
    root: Descriptor
    manifests: tuple[Descriptor, ...]
    platforms: tuple[Platform, ...]
    available: tuple[Platform, ...]
    blobs_fetched: int
    bytes_fetched: int
    blobs_skipped: int
    bytes_skipped: int


def _is_optional(desc: Descriptor) -> bool:
    return any(word in desc.media_type for word in _OPTIONAL_LAYERS)


def _platform_list(platforms: Sequence[Platform]) -> str:
    return ", ".join(str(p) for p in platforms) or "none"


def _choose(
    ref: Reference, index: Index, wanted: Sequence[Platform], explicit: bool
) -> list[Descriptor]:
    images = [m for m in index.manifests if m.platform is not None and m.platform.os != "unknown"]
    offered = [m.platform for m in images if m.platform is not None]
    chosen: list[Descriptor] = []
    for platform in wanted:
        found = best_match(platform, offered)
        if found is None:
            raise PlatformError(
                f"{ref.familiar} has no image for {platform}; it has {_platform_list(offered)}",
                hint="pick one of those with --platform"
                if explicit
                else "pick one of those with --platform (the default is this machine's)",
            )
        if images[found] not in chosen:
            chosen.append(images[found])
    return chosen


def _fetch_one(
    client: Client,
    ref: Reference,
    sink: BlobSink,
    desc: Descriptor,
    progress: ProgressCallback | None,
) -> bool:
    """Fetch one blob unless present; True when it was fetched."""
    if sink.has(desc.digest):
        Reporter(progress, desc.digest, desc.size, desc.media_type).emit("exists", desc.size)
        return False
    for attempt in range(2):
        try:
            with sink.ingest() as writer:
                # The writer hashes what it is given and refuses a mismatch at commit:
                # hashing here too would double the CPU cost of every byte.
                client.fetch_blob(ref, desc, writer, progress, verify=False)
                try:
                    writer.commit(desc.digest)
                except CorruptBlobError as exc:
                    raise digest_error(
                        f"blob {desc.digest} of {ref.familiar}",
                        str(desc.digest),
                        exc.actual,
                        ref.registry,
                    ) from exc
            return True
        except RegistryDigestError:
            # Altered in transit (a proxy, a flaky mirror): one fresh try, then give up.
            if attempt:
                raise
            log.warning("blob %s of %s did not verify; fetching it again", desc.digest.short, ref)
    return True  # unreachable: the loop returns or raises


def _fetch_all(
    client: Client,
    ref: Reference,
    sink: BlobSink,
    blobs: Sequence[Descriptor],
    progress: ProgressCallback | None,
) -> list[bool]:
    if len(blobs) <= 1 or client.options.parallel <= 1:
        return [_fetch_one(client, ref, sink, d, progress) for d in blobs]
    # Largest first: the longest transfer starts at once. Small blobs (configs, tiny
    # layers) get threads of their own beyond the limit (up to as many again), so they do
    # not wait for a large one to end and then finish after everything else.
    small = sum(1 for b in blobs if b.size <= _SMALL_BLOB)
    large = len(blobs) - small
    parallel = client.options.parallel
    workers = min(len(blobs), min(parallel, large) + min(parallel, small))
    order = sorted(range(len(blobs)), key=lambda i: -blobs[i].size)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dw-pull") as pool:
        started = {i: pool.submit(_fetch_one, client, ref, sink, blobs[i], progress) for i in order}
        futures: list[Future[bool]] = [started[i] for i in range(len(blobs))]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None:
            for future in futures:
                future.cancel()
            exc = failed.exception()
            assert exc is not None
            raise exc
        return [f.result() for f in futures]


def _get_manifests(client: Client, ref: Reference, entries: Sequence[Descriptor]) -> list[bytes]:
    """The bytes of the index entries ``entries`` (verified by digest), fetched in parallel."""
    refs = [ref.with_digest(e.digest) for e in entries]
    if len(refs) <= 1 or client.options.parallel <= 1:
        return [client.get_manifest(r)[1] for r in refs]
    workers = min(client.options.parallel, len(refs))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dw-pull") as pool:
        return [data for _, data in pool.map(client.get_manifest, refs)]


def _platforms(
    ref: Reference,
    *,
    sink: BlobSink,
    root: Descriptor,
    documents: dict[Digest, tuple[Descriptor, bytes]],
    manifests: dict[Digest, Manifest],
    wanted: Sequence[Platform],
    explicit: bool,
) -> list[Platform]:
    """The platforms of the pulled images (from their configs); for a single image, refuse
    (``explicit``) or warn about a platform other than ``wanted``."""
    present: list[Platform] = []
    for digest, manifest in manifests.items():
        desc = documents[digest][0]
        try:
            config = ImageConfig.from_bytes(sink.read(manifest.config.digest))
        except ImageFormatError as exc:
            raise RegistryError(f"{ref.familiar}: {exc.message}") from exc
        platform = desc.platform or config.platform
        if not root.is_index and not any(w.compatible(config.platform) for w in wanted):
            message = (
                f"{ref.familiar} is an image for {config.platform}, not {_platform_list(wanted)}"
            )
            if explicit:
                raise PlatformError(
                    message, hint="pull it without --platform, or pick another image"
                )
            log.warning("%s", message)
        if platform.os != "unknown":  # attestations and other non-images
            present.append(platform)
    return present


def pull(
    client: Client,
    ref: Reference,
    sink: BlobSink,
    *,
    platforms: Sequence[Platform] | None = None,
    all_platforms: bool = False,
    progress: ProgressCallback | None = None,
) -> PullResult:
    """Pull ``ref`` into ``sink``; see :class:`PullResult`.

    For an index, ``platforms`` (default: this machine's) choose the images, matched as
    containerd does (``arm64`` matches ``arm64/v8``, an ``arm/v7`` machine can take
    ``arm/v6``); ``all_platforms`` takes every entry. No match raises
    :class:`~dockwright.errors.PlatformError` listing what the index offers.
    """
    progress = progress or client.progress
    explicit = bool(platforms)
    wanted = list(platforms) if platforms else [host_platform()]
    root, root_bytes = client.get_manifest(ref)
    documents: dict[Digest, tuple[Descriptor, bytes]] = {}
    available: tuple[Platform, ...] = ()
    try:
        if root.is_index:
            index = Index.from_bytes(root_bytes, root.media_type)
            available = tuple(
                m.platform
                for m in index.manifests
                if m.platform is not None and m.platform.os != "unknown"
            )
            if all_platforms:
                chosen = [m for m in index.manifests if m.is_manifest]
            else:
                chosen = _choose(ref, index, wanted, explicit)
            for entry in chosen:
                if not entry.is_manifest:
                    raise RegistryError(
                        f"{ref.familiar}: the entry for {entry.platform} is a "
                        f"{entry.media_type}, not an image manifest",
                        hint="nested indexes are not supported",
                    )
            for entry, data in zip(chosen, _get_manifests(client, ref, chosen), strict=True):
                documents[entry.digest] = (entry, data)
        else:
            documents[root.digest] = (root, root_bytes)
        manifests = {
            digest: Manifest.from_bytes(data, desc.media_type)
            for digest, (desc, data) in documents.items()
        }
    except ImageFormatError as exc:
        raise RegistryError(
            f"{ref.familiar}: {exc.message}", hint="the registry holds a malformed image"
        ) from exc

    configs = list({m.config.digest: m.config for m in manifests.values()}.values())
    layers: dict[Digest, Descriptor] = {}
    for manifest in manifests.values():
        for layer in manifest.layers:
            if not _is_optional(layer):
                layers.setdefault(layer.digest, layer)
    blobs = [*configs, *(d for d in layers.values() if d.digest not in {c.digest for c in configs})]
    check_platforms = functools.partial(
        _platforms,
        ref,
        sink=sink,
        root=root,
        documents=documents,
        manifests=manifests,
        wanted=wanted,
        explicit=explicit,
    )
    if explicit and not root.is_index:
        # A single image may be for another platform than asked: look before fetching layers.
        flags = _fetch_all(client, ref, sink, configs, progress)
        present = check_platforms()
        flags += _fetch_all(client, ref, sink, blobs[len(configs) :], progress)
    else:
        flags = _fetch_all(client, ref, sink, blobs, progress)
        present = check_platforms()

    for digest, (_, data) in documents.items():
        if digest != root.digest:
            sink.put_bytes(data, digest)
    sink.put_bytes(root_bytes, root.digest)

    record_origin(sink, sink, [b.digest for b in blobs], ref.name)
    fetched = [b for b, f in zip(blobs, flags, strict=True) if f]
    skipped = [b for b, f in zip(blobs, flags, strict=True) if not f]
    log.info(
        "pulled %s: %d blob(s) fetched (%d bytes), %d already present",
        ref,
        len(fetched),
        sum(b.size for b in fetched),
        len(skipped),
    )
    return PullResult(
        reference=ref,
        root=root,
        manifests=tuple(documents[d][0] for d in manifests),
        platforms=tuple(present),
        available=available,
        blobs_fetched=len(fetched),
        bytes_fetched=sum(b.size for b in fetched),
        blobs_skipped=len(skipped),
        bytes_skipped=sum(b.size for b in skipped),
    )
