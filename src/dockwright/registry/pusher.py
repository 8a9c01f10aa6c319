"""Pushing an image (a manifest, or an index with its manifests) from a content source.

Order of work, so that a registry never holds a manifest whose blobs are missing: configs
and layers first, in parallel (skipped when the registry has them, mounted from another
repository of the same registry when the source remembers one); then each platform
manifest by digest; then the root under the reference's tag (or digest), the index last.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from dockwright.errors import ImageFormatError, RegistryError
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, Index, Manifest
from dockwright.image.reference import Reference, normalize_registry
from dockwright.registry.client import Client
from dockwright.registry.content import (
    BlobSourceLike,
    OriginCache,
    OriginRecorder,
    known_origins,
    record_origin,
)
from dockwright.registry.progress import ProgressCallback

log = logging.getLogger(__name__)

_OPTIONAL_LAYERS = ("foreign", "nondistributable")


@dataclass(frozen=True, slots=True)
class PushResult:
    """What :func:`push` did; ``digest`` is the pushed root's (print it)."""

    reference: Reference
    digest: Digest
    root: Descriptor
    manifests: int
    blobs_uploaded: int
    blobs_mounted: int
    blobs_existing: int
    bytes_uploaded: int


def _describe(desc: Descriptor) -> str:
    return str(desc.platform) if desc.platform is not None else str(desc.digest)


def _manifests_of(
    source: BlobSourceLike, root: Descriptor, ref: Reference
) -> tuple[list[Descriptor], list[tuple[Descriptor, Manifest]]]:
    """(indexes, parents first; image manifests with their parsed documents)."""
    indexes: list[Descriptor] = []
    images: list[tuple[Descriptor, Manifest]] = []
    todo = [root]
    seen: set[Digest] = set()
    while todo:
        desc = todo.pop(0)
        if desc.digest in seen:
            continue
        seen.add(desc.digest)
        try:
            if desc.is_index:
                index = Index.from_bytes(source.read(desc.digest), desc.media_type)
                absent = [m for m in index.manifests if not source.has(m.digest)]
                if absent:
                    raise RegistryError(
                        f"cannot push {ref.familiar}: the image index lists "
                        f"{len(absent)} platform(s) that are not stored locally: "
                        f"{', '.join(_describe(m) for m in absent)}",
                        hint="pull them first (e.g. `dockwright pull --all-platforms`), or push "
                        "one platform's image",
                    )
                indexes.append(desc)
                todo.extend(index.manifests)
            elif desc.is_manifest:
                images.append(
                    (desc, Manifest.from_bytes(source.read(desc.digest), desc.media_type))
                )
            else:
                raise RegistryError(
                    f"cannot push {ref.familiar}: {desc.digest} is a {desc.media_type}, not "
                    "an image manifest or index",
                    hint="push an image",
                )
        except ImageFormatError as exc:
            raise RegistryError(
                f"cannot push {ref.familiar}: {exc.message}",
                hint="the local image is malformed; rebuild it",
            ) from exc
    return indexes, images


def _origins(source: BlobSourceLike, digest: Digest, ref: Reference) -> list[str]:
    """Other repositories of ``ref``'s registry known to hold ``digest``."""
    if not isinstance(source, OriginCache):
        return []
    out: list[str] = []
    for name in known_origins(source, digest):
        registry, _, repository = name.partition("/")
        if normalize_registry(registry) == ref.registry and repository != ref.repository:
            out.append(repository)
    return out


def _push_blobs(
    client: Client,
    source: BlobSourceLike,
    ref: Reference,
    blobs: Sequence[Descriptor],
    progress: ProgressCallback | None,
) -> list[str]:
    def one(desc: Descriptor) -> str:
        return client.push_blob(
            ref,
            desc,
            lambda: source.open_blob(desc.digest),
            mount_from=_origins(source, desc.digest, ref),
            progress=progress,
        )

    if len(blobs) <= 1 or client.options.parallel <= 1:
        return [one(d) for d in blobs]
    workers = min(client.options.parallel, len(blobs))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dw-push") as pool:
        futures: list[Future[str]] = [pool.submit(one, d) for d in blobs]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None:
            for future in futures:
                future.cancel()
            exc = failed.exception()
            assert exc is not None
            raise exc
        return [f.result() for f in futures]


def push(
    client: Client,
    source: BlobSourceLike,
    root: Descriptor,
    ref: Reference,
    *,
    progress: ProgressCallback | None = None,
) -> PushResult:
    """Push ``root`` (and everything it references) from ``source`` to ``ref``.

    ``ref``'s tag names the result (by digest when it has none). An index whose platform
    manifests are not all in ``source`` is refused, listing the missing platforms. When the
    source has ``cache_get``/``cache_put`` (a store), blobs known to be in another
    repository of the registry are mounted rather than uploaded, and the pushed
    repository is remembered for later pushes.
    """
    if ref.digest is not None and ref.digest != root.digest and ref.tag is None:
        raise RegistryError(
            f"cannot push {root.digest} to {ref.familiar}: the reference names another digest",
            hint="push to a tag",
        )
    target = ref.with_tag(ref.tag) if ref.tag else ref.with_digest(root.digest)
    indexes, images = _manifests_of(source, root, ref)
    blobs: dict[Digest, Descriptor] = {}
    for _, manifest in images:
        for blob in (manifest.config, *manifest.layers):
            if any(w in blob.media_type for w in _OPTIONAL_LAYERS) and not source.has(blob.digest):
                continue
            blobs.setdefault(blob.digest, blob)
    absent = [b for b in blobs.values() if not source.has(b.digest)]
    if absent:
        raise RegistryError(
            f"cannot push {ref.familiar}: {len(absent)} blob(s) are not stored locally: "
            + ", ".join(str(b.digest) for b in absent[:3]),
            hint="rebuild or pull the image again",
        )
    outcomes = _push_blobs(client, source, target, list(blobs.values()), progress)

    for desc, _ in images:
        if desc.digest != root.digest:
            client.put_manifest(
                target.with_digest(desc.digest), source.read(desc.digest), desc.media_type
            )
    for desc in reversed(indexes):
        if desc.digest != root.digest:
            client.put_manifest(
                target.with_digest(desc.digest), source.read(desc.digest), desc.media_type
            )
    digest = client.put_manifest(target, source.read(root.digest), root.media_type)
    if isinstance(source, OriginCache) and isinstance(source, OriginRecorder):
        record_origin(source, source, list(blobs), target.name)
    uploaded = [b for b, o in zip(blobs.values(), outcomes, strict=True) if o == "uploaded"]
    log.info(
        "pushed %s@%s: %d uploaded, %d mounted, %d already there",
        target,
        digest,
        len(uploaded),
        outcomes.count("mounted"),
        outcomes.count("exists"),
    )
    return PushResult(
        reference=target,
        digest=digest,
        root=root,
        manifests=len(images) + len(indexes),
        blobs_uploaded=len(uploaded),
        blobs_mounted=outcomes.count("mounted"),
        blobs_existing=outcomes.count("exists"),
        bytes_uploaded=sum(b.size for b in uploaded),
    )
