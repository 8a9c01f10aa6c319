"""The OCI image model: digests, platforms, descriptors, manifests, indexes, configs, layers."""

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
