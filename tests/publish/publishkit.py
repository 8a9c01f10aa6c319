"""Helpers for the publish tests: a store with test images, temp-file checks.

Tools and unprivileged runs come from :mod:`store.storekit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dockwright.image.model import Descriptor
from dockwright.image.platform import Platform
from dockwright.store import Store
from dockwright.store.testing import add_image, add_index


@dataclass(frozen=True)
class Images:
    """A store holding a single-platform image and a two-platform index."""

    store: Store
    image: Descriptor
    index: Descriptor


def make_images(tmp_path: Path) -> Images:
    """A fresh store with ``hello:1`` (one image) and ``multi:1`` (amd64 + arm64)."""
    store = Store.open(tmp_path / "store")
    image = add_image(
        store, layers=({"etc/motd": b"base\n"}, {"app/hello.txt": b"hello\n"}), cmd=("/app",)
    )
    index = add_index(store, (Platform("linux", "amd64"), Platform("linux", "arm64")))
    store.tag("hello:1", image)
    store.tag("multi:1", index)
    return Images(store, image, index)


def leftovers(directory: Path) -> list[str]:
    """Names of hidden temp files an output left in ``directory``."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))
