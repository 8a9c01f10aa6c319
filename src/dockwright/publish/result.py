"""What a publisher returns, and the seam every output kind implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor
from dockwright.store import BlobSource


@dataclass(frozen=True, slots=True)
class PublishResult:
    """Where an image went: the output kind, its destination, the root digest written,
    and notes for the user (e.g. which platform a docker-archive kept)."""

    kind: str
    dest: str
    digest: Digest
    notes: tuple[str, ...] = ()


class Publisher(Protocol):
    """One output kind: the local store, an OCI layout, a docker-archive, later a registry."""

    def publish(self, source: BlobSource, root: Descriptor, tags: Sequence[str]) -> PublishResult:
        """Write ``root`` and everything it references, named by ``tags``."""
        ...
