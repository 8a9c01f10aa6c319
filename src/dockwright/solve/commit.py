"""Turning a snapshot's changes into a stored layer, and the build cache's records."""

from __future__ import annotations

import json
from dataclasses import dataclass

from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.layer import LayerEntry, write_layer
from dockwright.image.model import Descriptor
from dockwright.store import Store

CACHE_NAMESPACE = "build"


@dataclass(frozen=True, slots=True)
class StepLayer:
    """What a filesystem step produced: a layer (None when nothing changed)."""

    layer: Descriptor | None
    diff_id: Digest | None
    created: str = ""

    def to_json(self) -> str:
        """The cache record."""
        if self.layer is None or self.diff_id is None:
            return json.dumps({"layer": None, "created": self.created})
        layer = {"digest": str(self.layer.digest), "size": self.layer.size}
        return json.dumps({"layer": layer, "created": self.created})


def write_entries(
    store: Store, entries: list[LayerEntry], mtime: int, created: str, *, empty_ok: bool = False
) -> StepLayer:
    """Write ``entries`` as an uncompressed layer into ``store`` (made at ``created``).

    No entries give no layer, unless ``empty_ok`` (then an empty tar is the layer).
    """
    if not entries and not empty_ok:
        return StepLayer(None, None, created)
    with store.ingest() as writer:
        info = write_layer(entries, writer, compression="none", mtime=mtime, add_parents=False)
        digest, size = writer.commit(info.digest)
    return StepLayer(Descriptor(mt.OCI_LAYER, digest, size), digest, created)


def cached(store: Store, key: str) -> StepLayer | None:
    """The recorded result of the step with cache key ``key``, if its layer is still stored."""
    text = store.cache_get(CACHE_NAMESPACE, key)
    if text is None:
        return None
    try:
        record = json.loads(text)
        layer = record["layer"]
        created = str(record.get("created") or "")
        if layer is None:
            return StepLayer(None, None, created)
        digest = Digest.parse(layer["digest"])
        size = int(layer["size"])
    except (ValueError, KeyError, TypeError):
        return None
    if not store.has(digest):
        return None
    return StepLayer(Descriptor(mt.OCI_LAYER, digest, size), digest, created)


def remember(store: Store, key: str, result: StepLayer) -> None:
    """Record a step's result under its cache key."""
    store.cache_put(CACHE_NAMESPACE, key, result.to_json())
