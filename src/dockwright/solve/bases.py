"""Where FROM images come from: the :class:`ImageResolver` seam and a store-only resolver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dockwright.errors import NotFoundError
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, ImageConfig, Index, Manifest, parse_document
from dockwright.image.platform import Platform, best_match
from dockwright.store import Store


@dataclass(frozen=True, slots=True)
class BaseImage:
    """An image a stage starts from, for one platform; its layer blobs are in the store."""

    name: str
    config: ImageConfig
    layers: tuple[Descriptor, ...]
    manifest: Digest


class ImageResolver(Protocol):
    """Finds the image a ``FROM`` (or ``COPY --from``) names, for a platform."""

    def resolve(self, name: str, platform: Platform) -> BaseImage:
        """The image; raise :class:`NotFoundError` with a hint when there is none."""
        ...


def image_in_store(store: Store, name: str, root: Descriptor, platform: Platform) -> BaseImage:
    """The ``platform`` image of the stored manifest or index ``root``."""
    desc = root
    if desc.is_index:
        index = Index.from_bytes(store.read(desc.digest), desc.media_type)
        images = [d for d in index.manifests if d.is_manifest and d.platform is not None]
        pick = best_match(platform, [d.platform for d in images if d.platform])
        if pick is None or not store.has(images[pick].digest):
            offered = ", ".join(str(d.platform) for d in images if store.has(d.digest))
            raise NotFoundError(
                f"image {name} has no {platform} image in the store (it has: {offered or 'none'})",
                hint=f"pull it: dockwright pull --platform {platform} {name}",
            )
        desc = images[pick]
    doc = parse_document(store.read(desc.digest), desc.media_type)
    if not isinstance(doc, Manifest):
        raise NotFoundError(f"image {name}: a nested index is not supported")
    config = ImageConfig.from_bytes(store.read(doc.config.digest))
    if config.os and config.architecture and not platform.matches(config.platform):
        raise NotFoundError(
            f"image {name} is for {config.platform}, not {platform}",
            hint="use a multi-platform image, or build only for the image's platform",
        )
    missing = [layer for layer in doc.layers if not store.has(layer.digest)]
    if missing:
        raise NotFoundError(
            f"image {name} is incomplete in the store ({len(missing)} layers missing)",
            hint=f"pull it again: dockwright pull {name}",
        )
    return BaseImage(name, config, doc.layers, desc.digest)


@dataclass(frozen=True, slots=True)
class StoreResolver:
    """Resolves names against the store's tags only (no registry)."""

    store: Store

    def resolve(self, name: str, platform: Platform) -> BaseImage:
        """The stored image tagged ``name``."""
        root = self.store.resolve(name)
        return image_in_store(self.store, name, root, platform)
