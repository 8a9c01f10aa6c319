"""Fixtures for the snapshot tests: each test runs against both snapshotters."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable
from pathlib import Path

import pytest

from dockwright.image.digest import Digest
from dockwright.image.extract import extract_layer
from dockwright.image.layer import Compression, LayerEntry, write_layer
from dockwright.snapshot import CopySnapshotter, OverlaySnapshotter, Snapshotter

KINDS = ("overlay", "copy")


def make_snapshotter(kind: str, root: Path) -> Snapshotter:
    """The snapshotter ``kind`` at ``root``."""
    if kind == "overlay":
        return OverlaySnapshotter(root)
    return CopySnapshotter(root)


@pytest.fixture(params=KINDS)
def snap(request: pytest.FixtureRequest, tmp_path: Path) -> Snapshotter:
    """A fresh snapshotter of each kind, rooted in this test's folder."""
    return make_snapshotter(str(request.param), tmp_path / "snapshots")


def layer_bytes(
    entries: Iterable[LayerEntry], compression: Compression = "gzip"
) -> tuple[bytes, Digest, str]:
    """``entries`` as a layer blob: (bytes, diff_id, media type)."""
    out = io.BytesIO()
    info = write_layer(entries, out, compression=compression)
    return out.getvalue(), info.diff_id, info.media_type


def add_layer(
    snap: Snapshotter, entries: Iterable[LayerEntry], compression: Compression = "gzip"
) -> Digest:
    """Write ``entries`` as a layer and unpack it into ``snap``; its diff_id."""
    blob, diff_id, media_type = layer_bytes(entries, compression)
    snap.unpack(diff_id, lambda: io.BytesIO(blob), media_type)
    return diff_id


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything below ``root`` by relative path: kind, mode, owner and content/target."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            full = Path(dirpath, name)
            rel = str(full.relative_to(root))
            st = full.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISREG(st.st_mode):
                found[rel] = ("file", mode, st.st_uid, st.st_gid, full.read_bytes())
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", mode, st.st_uid, st.st_gid)
            elif stat.S_ISLNK(st.st_mode):
                found[rel] = ("symlink", st.st_uid, st.st_gid, os.readlink(full))
            else:
                found[rel] = (stat.S_IFMT(st.st_mode), mode, st.st_rdev)
    return found


def flatten(blobs: Iterable[bytes], dest: Path) -> Path:
    """Apply the layer blobs in order onto a plain directory, as a reference."""
    dest.mkdir()
    for blob in blobs:
        extract_layer(io.BytesIO(blob), dest, allow_devices=True)
    return dest
