"""The OCI image model: digests, platforms, descriptors, manifests, indexes, configs, layers.

Submodules load on first use, so importing one of them (e.g. ``image.platform`` on the
command line's start-up path) does not pay for the others.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockwright.image.digest import Digest
    from dockwright.image.model import (
        Descriptor,
        History,
        ImageConfig,
        Index,
        Manifest,
        RunConfig,
        canonical_json,
    )
    from dockwright.image.platform import Platform, host_platform, parse_platforms

_LAZY = {
    "Digest": "dockwright.image.digest",
    "Descriptor": "dockwright.image.model",
    "History": "dockwright.image.model",
    "ImageConfig": "dockwright.image.model",
    "Index": "dockwright.image.model",
    "Manifest": "dockwright.image.model",
    "RunConfig": "dockwright.image.model",
    "canonical_json": "dockwright.image.model",
    "Platform": "dockwright.image.platform",
    "host_platform": "dockwright.image.platform",
    "parse_platforms": "dockwright.image.platform",
}

__all__ = [
    "Descriptor",
    "Digest",
    "History",
    "ImageConfig",
    "Index",
    "Manifest",
    "Platform",
    "RunConfig",
    "canonical_json",
    "host_platform",
    "parse_platforms",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dockwright.image' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
