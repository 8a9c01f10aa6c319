"""Partially pulled multi-platform images: an index kept with only some of its manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwright.errors import StoreError
from dockwright.image import mediatypes as mt
from dockwright.image.model import Descriptor, Index
from dockwright.image.platform import Platform
from dockwright.store import MemoryStore, Store
from dockwright.store.testing import add_image
from store.storekit import make_store

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")
ARM7 = Platform("linux", "arm", "v7")


def partial_index(store: Store | MemoryStore, other: Store | MemoryStore) -> Descriptor:
    """An index of three platforms of which only amd64 is in ``store`` (the rest in ``other``)."""
    present = add_image(store, platform=AMD64, layers=({"amd64": b"1"},))
    absent = [add_image(other, platform=p, layers=({str(p): b"2"},)) for p in (ARM64, ARM7)]
    attestation = Descriptor(
        mt.OCI_MANIFEST,
        absent[0].digest,
        absent[0].size,
        platform=Platform("unknown", "unknown"),
    )
    data = Index(manifests=(present, *absent, attestation)).to_bytes()
    return Descriptor(mt.OCI_INDEX, store.put_bytes(data), len(data))


def test_store_accepts_an_index_with_absent_platforms(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    index = partial_index(store, MemoryStore())
    store.tag("multi:1", index)
    assert store.resolve("multi:1") == index
    closure = store.walk(index)
    assert closure[0] == index
    assert len(closure) == 4  # index, amd64 manifest, its config and its layer
    assert store.verify() == []
    assert store.present_platforms(index) == [AMD64]
    report = store.prune()
    assert report.removed == ()
    assert all(store.has(d.digest) for d in closure)


def test_memory_store_agrees(tmp_path: Path) -> None:
    store = MemoryStore()
    index = partial_index(store, MemoryStore())
    store.tag("multi:1", index)
    assert store.present_platforms(index) == [AMD64]
    assert len(store.walk(index)) == 4


def test_an_index_needs_at_least_one_of_its_images(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    other = MemoryStore()
    images = [add_image(other, platform=p) for p in (AMD64, ARM64)]
    data = Index(manifests=tuple(images)).to_bytes()
    index = Descriptor(mt.OCI_INDEX, store.put_bytes(data), len(data))
    with pytest.raises(StoreError, match="not in the store") as info:
        store.tag("empty:1", index)
    assert str(images[0].digest) in str(info.value)
    assert store.tags() == []


def test_a_present_manifest_must_be_complete(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    complete = add_image(store, platform=AMD64, layers=({"a": b"1"},))
    # Only the manifest of arm64 is stored; its config and layer are not.
    other = MemoryStore()
    arm = add_image(other, platform=ARM64, layers=({"b": b"2"},))
    store.put_bytes(other.read(arm.digest))
    data = Index(manifests=(complete, arm)).to_bytes()
    index = Descriptor(mt.OCI_INDEX, store.put_bytes(data), len(data))
    with pytest.raises(StoreError, match="not in the store"):
        store.tag("broken:1", index)


def test_prune_repair_untags_when_the_only_present_platform_breaks(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    index = partial_index(store, MemoryStore())
    store.tag("multi:1", index)
    manifest = next(d for d in store.walk(index) if d.is_manifest)
    store.blob_path(manifest.digest).write_bytes(b"garbage")
    report = store.prune(repair=True)
    assert manifest.digest in report.corrupt
    assert report.untagged == ("multi:1",)


def test_present_platforms_of_single_and_complete_images(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    single = add_image(store, platform=ARM7)
    assert store.present_platforms(single) == [ARM7]
    both = [add_image(store, platform=p, layers=({str(p): b"x"},)) for p in (AMD64, ARM64)]
    data = Index(manifests=tuple(both)).to_bytes()
    index = Descriptor(mt.OCI_INDEX, store.put_bytes(data), len(data))
    assert store.present_platforms(index) == [AMD64, ARM64]
