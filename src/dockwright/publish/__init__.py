"""Outputs: the local store, OCI layouts (folder or tar) and docker-archives; and reading
OCI layouts and docker-archives back as image sources (for ``--base``)."""

from dockwright.publish.dispatch import (
    DockerArchivePublisher,
    OciLayoutPublisher,
    StorePublisher,
    publish,
    publish_to_store,
    publisher_for,
)
from dockwright.publish.dockerarchive import publish_docker_archive, read_docker_archive
from dockwright.publish.ocilayout import publish_oci_layout, read_oci_layout
from dockwright.publish.result import Publisher, PublishResult
from dockwright.publish.spec import OutputKind, OutputSpec, parse_output

__all__ = [
    "DockerArchivePublisher",
    "OciLayoutPublisher",
    "OutputKind",
    "OutputSpec",
    "PublishResult",
    "Publisher",
    "StorePublisher",
    "parse_output",
    "publish",
    "publish_docker_archive",
    "publish_oci_layout",
    "publish_to_store",
    "publisher_for",
    "read_docker_archive",
    "read_oci_layout",
]
