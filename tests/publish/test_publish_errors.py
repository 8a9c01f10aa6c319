"""Outputs that cannot be written fail with PublishError, naming the path and the fix,
and leave nothing half-written behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dockwright.errors import CorruptBlobError, PublishError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, Manifest
from dockwright.publish import publish_docker_archive, publish_oci_layout
from dockwright.store import BlobSource, MemoryStore
from dockwright.store.testing import add_image
from publish.publishkit import leftovers, make_images
from store.storekit import readonly_dir, remove, run_unprivileged


def _oci_tar(source: BlobSource, image: Descriptor, dest: Path) -> None:
    publish_oci_layout(source, image, dest, tags=["hello:1"], tar=True)


def _oci_dir(source: BlobSource, image: Descriptor, dest: Path) -> None:
    publish_oci_layout(source, image, dest, tags=["hello:1"], tar=False)


def _docker(source: BlobSource, image: Descriptor, dest: Path) -> None:
    publish_docker_archive(source, image, dest, tags=["hello:1"], platform=None)


Writer = Callable[[BlobSource, Descriptor, Path], None]
WRITERS: list[Writer] = [_oci_tar, _oci_dir, _docker]


@pytest.mark.parametrize("write", WRITERS)
def test_missing_parent_directory(tmp_path: Path, write: Writer) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "no" / "such" / "out.tar"
    with pytest.raises(PublishError) as info:
        write(images.store, images.image, dest)
    message = str(info.value)
    assert str(tmp_path / "no" / "such") in message and "does not exist" in message
    assert "mkdir -p" in message
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("write", WRITERS)
def test_read_only_directory(tmp_path: Path, write: Writer) -> None:
    # The unprivileged child cannot enter pytest's private tmp_path: serve blobs from memory.
    memory = MemoryStore()
    image = add_image(memory)
    parent = readonly_dir()
    try:
        message = run_unprivileged(write, memory, image, parent / "out")
        assert list(parent.iterdir()) == []
    finally:
        remove(parent)
    assert message.startswith("PublishError: cannot write"), message
    assert str(parent / "out") in message
    assert "writable or choose another dest" in message


@pytest.mark.parametrize("write", [_oci_tar, _docker])
def test_tar_dest_that_is_a_directory(tmp_path: Path, write: Writer) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "a-dir"
    dest.mkdir()
    with pytest.raises(PublishError, match="it is a directory") as info:
        write(images.store, images.image, dest)
    assert "image.tar" in str(info.value)
    assert list(dest.iterdir()) == []


def test_folder_dest_that_is_a_file_or_foreign_folder(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    a_file = tmp_path / "file"
    a_file.write_text("keep me")
    with pytest.raises(PublishError, match="it is a file") as info:
        _oci_dir(images.store, images.image, a_file)
    assert "tar=true" in str(info.value)
    assert a_file.read_text() == "keep me"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(PublishError, match="not empty and is not an OCI layout"):
        _oci_dir(images.store, images.image, busy)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]


def test_failure_mid_write_leaves_nothing(tmp_path: Path) -> None:
    memory = MemoryStore()
    image = add_image(memory, layers=({"a": b"1"}, {"b": b"2"}))
    manifest = Manifest.from_bytes(memory.read(image.digest))
    # A layer whose bytes are not what the manifest says: found only while streaming.
    memory.blobs[manifest.layers[1].digest] = b"x" * manifest.layers[1].size
    previous = tmp_path / "out.tar"
    previous.write_bytes(b"an older output")
    for dest in (previous, tmp_path / "new.tar"):
        with pytest.raises(CorruptBlobError, match="content hashes to"):
            publish_oci_layout(memory, image, dest, tags=["x:1"], tar=True)
    assert previous.read_bytes() == b"an older output"
    assert not (tmp_path / "new.tar").exists()
    assert leftovers(tmp_path) == []
    folder = tmp_path / "folder"
    with pytest.raises(CorruptBlobError, match="content hashes to"):
        publish_oci_layout(memory, image, folder, tags=["x:1"], tar=False)
    assert not folder.exists()


def test_missing_blob_in_source(tmp_path: Path) -> None:
    memory = MemoryStore()
    image = add_image(memory)
    missing = Descriptor(mt.OCI_MANIFEST, Digest.of(b"absent"), 6)
    with pytest.raises(PublishError, match="cannot publish"):
        publish_oci_layout(memory, missing, tmp_path / "x.tar", tags=[], tar=True)
    with pytest.raises(PublishError, match="cannot publish"):
        publish_docker_archive(memory, missing, tmp_path / "x.tar", tags=[], platform=None)
    assert leftovers(tmp_path) == [] and not (tmp_path / "x.tar").exists()
    assert image.digest in memory.blobs


def test_failed_merge_keeps_the_existing_layout(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "layout"
    publish_oci_layout(images.store, images.image, dest, tags=["hello:1"], tar=False)
    before = sorted(p.relative_to(dest) for p in dest.rglob("*"))
    index_before = (dest / "index.json").read_bytes()
    memory = MemoryStore()
    broken = add_image(memory, layers=({"new": b"1"}, {"newer": b"2"}))
    manifest = Manifest.from_bytes(memory.read(broken.digest))
    memory.blobs[manifest.layers[1].digest] = b"y" * manifest.layers[1].size
    with pytest.raises(CorruptBlobError):
        publish_oci_layout(memory, broken, dest, tags=["broken:1"], tar=False)
    assert sorted(p.relative_to(dest) for p in dest.rglob("*")) == before
    assert (dest / "index.json").read_bytes() == index_before
