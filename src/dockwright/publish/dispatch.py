"""Sending an image to an output: one publisher per kind, chosen from a table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockwright.errors import DockwrightError, PublishError, UsageError
from dockwright.image.model import Descriptor
from dockwright.image.platform import Platform
from dockwright.publish.convert import compress_layers
from dockwright.publish.dockerarchive import publish_docker_archive
from dockwright.publish.ocilayout import publish_oci_layout
from dockwright.publish.result import Publisher, PublishResult
from dockwright.publish.spec import OutputSpec
from dockwright.store import BlobSource, BlobStore, Store
from dockwright.store.graph import copy_blob, walk


def publish_to_store(
    source: BlobSource, root: Descriptor, store: BlobStore, tags: Sequence[str]
) -> PublishResult:
    """Copy ``root``'s closure into ``store`` (skipping blobs it has) and tag it.

    Runs in a store session, so a concurrent prune cannot drop the copied blobs before the
    tags point at them.
    """
    with store.session():
        try:
            closure = walk(source, root)
        except DockwrightError as exc:
            raise PublishError(f"cannot publish {root.digest}: {exc}") from exc
        for desc in closure:
            if store.has(desc.digest):
                continue
            with store.ingest() as writer:
                copy_blob(source, desc, writer.write)
                writer.commit(desc.digest)
        for tag in tags:
            store.tag(tag, root)
    notes: tuple[str, ...] = ()
    if not tags:
        notes = ("no tag given: the image is stored untagged and the next prune removes it",)
    dest = str(getattr(store, "root", "store"))
    return PublishResult(kind="store", dest=dest, digest=root.digest, notes=notes)


@dataclass(frozen=True, slots=True)
class StorePublisher:
    """Publishes into a local store."""

    store: BlobStore

    def publish(self, source: BlobSource, root: Descriptor, tags: Sequence[str]) -> PublishResult:
        """Copy and tag ``root`` in the store."""
        return publish_to_store(source, root, self.store, tags)


@dataclass(frozen=True, slots=True)
class OciLayoutPublisher:
    """Publishes an OCI layout folder or tar."""

    dest: Path
    tar: bool = True

    def publish(self, source: BlobSource, root: Descriptor, tags: Sequence[str]) -> PublishResult:
        """Write ``root`` as an OCI layout at ``dest``."""
        return publish_oci_layout(source, root, self.dest, tags=tags, tar=self.tar)


@dataclass(frozen=True, slots=True)
class DockerArchivePublisher:
    """Publishes a docker-archive tar."""

    dest: Path
    platform: Platform | None = None

    def publish(self, source: BlobSource, root: Descriptor, tags: Sequence[str]) -> PublishResult:
        """Write ``root`` (one platform of it) as a docker-archive at ``dest``."""
        return publish_docker_archive(source, root, self.dest, tags=tags, platform=self.platform)


def _store_publisher(
    spec: OutputSpec, store: BlobStore | None, platform: Platform | None
) -> Publisher:
    return StorePublisher(store if store is not None else Store.open())


def _dest(spec: OutputSpec) -> Path:
    if spec.dest is None:
        raise UsageError(f"output type={spec.kind} needs dest=")
    return spec.dest


def _oci_publisher(
    spec: OutputSpec, store: BlobStore | None, platform: Platform | None
) -> Publisher:
    return OciLayoutPublisher(_dest(spec), spec.tar)


def _docker_publisher(
    spec: OutputSpec, store: BlobStore | None, platform: Platform | None
) -> Publisher:
    if platform is None and spec.extra.get("platform"):
        platform = Platform.parse(spec.extra["platform"])
    return DockerArchivePublisher(_dest(spec), platform)


_PUBLISHERS: Mapping[str, Callable[[OutputSpec, BlobStore | None, Platform | None], Publisher]] = {
    "store": _store_publisher,
    "oci": _oci_publisher,
    "docker": _docker_publisher,
}


def publisher_for(
    spec: OutputSpec, *, store: BlobStore | None = None, platform: Platform | None = None
) -> Publisher:
    """The publisher for ``spec`` (``store`` defaults to the user's store)."""
    try:
        factory = _PUBLISHERS[spec.kind]
    except KeyError as exc:
        raise UsageError(
            f"unknown output kind {spec.kind!r}", hint=f"valid: {', '.join(_PUBLISHERS)}"
        ) from exc
    return factory(spec, store, platform)


def publish(
    spec: OutputSpec,
    source: BlobSource,
    root: Descriptor,
    tags: Sequence[str],
    *,
    store: BlobStore | None = None,
    platform: Platform | None = None,
) -> PublishResult:
    """Publish ``root`` from ``source`` as ``spec`` says, named by ``tags`` plus any
    ``name=`` of the spec. ``platform`` picks the image of an index for docker-archives."""
    extra_names = [n.strip() for n in spec.extra.get("name", "").split(",") if n.strip()]
    names = list(dict.fromkeys([*tags, *extra_names]))
    if spec.kind != "store" and store is not None and source is store:
        # Layers are kept uncompressed in the store; exports carry them compressed.
        root = compress_layers(store, root, spec.layer_compression, spec.layer_compression_level)
    return publisher_for(spec, store=store, platform=platform).publish(source, root, names)
