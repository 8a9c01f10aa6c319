"""Media types of the OCI image spec and of Docker's image manifest v2 schema 2."""

from __future__ import annotations

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES = frozenset(
    {
        OCI_LAYER,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        DOCKER_LAYER_GZIP,
        DOCKER_LAYER_FOREIGN,
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)

# Docker schema 2 ↔ OCI equivalents, for converting between the two families.
TO_DOCKER = {
    OCI_INDEX: DOCKER_MANIFEST_LIST,
    OCI_MANIFEST: DOCKER_MANIFEST,
    OCI_CONFIG: DOCKER_CONFIG,
    OCI_LAYER_GZIP: DOCKER_LAYER_GZIP,
}
TO_OCI = {v: k for k, v in TO_DOCKER.items()}

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_SOURCE = "org.opencontainers.image.source"
ANNOTATION_REVISION = "org.opencontainers.image.revision"
ANNOTATION_VERSION = "org.opencontainers.image.version"
ANNOTATION_BASE_NAME = "org.opencontainers.image.base.name"
ANNOTATION_BASE_DIGEST = "org.opencontainers.image.base.digest"


def compression_of(media_type: str) -> str:
    """``"gzip"``, ``"zstd"`` or ``"none"`` for a layer media type."""
    if media_type.endswith("+zstd"):
        return "zstd"
    if media_type.endswith(("+gzip", ".tar.gzip")):
        return "gzip"
    return "none"
