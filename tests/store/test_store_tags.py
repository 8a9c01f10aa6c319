from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dockwright.errors import InvalidReferenceError, NotFoundError, StoreError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, Index, Manifest
from dockwright.image.platform import Platform
from dockwright.store import BlobStore, MemoryStore, Store
from dockwright.store.testing import add_image, add_index
from store.storekit import make_store


def test_store_and_fake_satisfy_the_protocol(tmp_path: Path) -> None:
    stores: list[BlobStore] = [make_store(tmp_path), MemoryStore()]
    for store in stores:
        desc = add_image(store)
        store.tag("hello:1", desc)
        assert store.resolve("hello:1") == desc
        assert [name for name, _ in store.tags()] == ["hello:1"]
        with store.ingest() as writer:
            writer.write(b"x")
            assert writer.commit() == (Digest.of(b"x"), 1)
        with store.session():
            store.cache_put("ns", "k", "v")
        assert store.cache_get("ns", "k") == "v"
        assert store.untag("hello:1") == desc


def test_tag_resolve_untag(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    image = add_image(store)
    store.tag("hello", image)
    store.tag("hello:1", image)
    assert store.resolve("hello") == image
    assert store.resolve("hello:latest") == image
    assert [name for name, _ in store.tags()] == ["hello:1", "hello:latest"]
    raw = json.loads((store.root / "index.json").read_text())
    assert [m["annotations"][mt.ANNOTATION_REF_NAME] for m in raw["manifests"]] == [
        "hello:1",
        "hello:latest",
    ]
    assert store.untag("hello:1") == image
    assert [name for name, _ in store.tags()] == ["hello:latest"]
    with pytest.raises(NotFoundError) as info:
        store.resolve("hello:1")
    message = str(info.value)
    assert "no image hello:1 in the store at" in message
    assert str(store.root) in message
    assert "dockwright images" in message
    with pytest.raises(NotFoundError, match="dockwright images"):
        store.untag("hello:1")
    with pytest.raises(InvalidReferenceError):
        store.tag("Bad Name", image)


def test_tag_replaces_and_keeps_descriptor_annotations(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    first = add_image(store, layers=({"a": b"1"},))
    second = add_image(store, layers=({"a": b"2"},)).with_annotations({"x": "y"})
    store.tag("app:1", first)
    store.tag("app:1", second)
    assert store.resolve("app:1") == second
    assert len(store.tags()) == 1


def test_tag_refuses_incomplete_closures(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    image = add_image(store)
    manifest = Manifest.from_bytes(store.read(image.digest))
    missing_layer = Descriptor(mt.OCI_LAYER_GZIP, Digest.of(b"not stored"), 10)
    broken = replace(manifest, layers=(*manifest.layers, missing_layer))
    broken_desc = Descriptor(mt.OCI_MANIFEST, store.put_bytes(broken.to_bytes()), 0)
    broken_desc = replace(broken_desc, size=store.size(broken_desc.digest))
    with pytest.raises(StoreError) as info:
        store.tag("broken:1", broken_desc)
    assert str(missing_layer.digest) in str(info.value)
    index = Index(manifests=(broken_desc,))
    index_desc = Descriptor(mt.OCI_INDEX, store.put_bytes(index.to_bytes()), len(index.to_bytes()))
    with pytest.raises(StoreError, match="not in the store"):
        store.tag("broken:2", index_desc)
    with pytest.raises(StoreError, match="not in the store"):
        store.tag("absent", Descriptor(mt.OCI_MANIFEST, Digest.of(b"nothing"), 7))
    with pytest.raises(StoreError, match="descriptor says"):
        store.tag("wrongsize", replace(image, size=image.size + 1))
    assert store.tags() == []


def test_foreign_layers_may_be_absent(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    image = add_image(store)
    manifest = Manifest.from_bytes(store.read(image.digest))
    foreign = Descriptor(
        mt.DOCKER_LAYER_FOREIGN, Digest.of(b"windows base"), 12, urls=("https://x/y",)
    )
    with_foreign = replace(manifest, layers=(foreign, *manifest.layers))
    data = with_foreign.to_bytes()
    desc = Descriptor(mt.OCI_MANIFEST, store.put_bytes(data), len(data))
    store.tag("win:1", desc)
    assert store.verify() == []
    assert foreign not in store.walk(desc)


def test_children_and_walk(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    index = add_index(store, (Platform("linux", "amd64"), Platform("linux", "arm64")))
    manifests = store.children(index)
    assert [m.platform and str(m.platform) for m in manifests] == ["linux/amd64", "linux/arm64"]
    config_and_layers = store.children(manifests[0])
    assert [d.media_type for d in config_and_layers] == [mt.OCI_CONFIG, mt.OCI_LAYER_GZIP]
    assert store.children(config_and_layers[0]) == []
    closure = store.walk(index)
    assert closure[0] == index
    assert len(closure) == 7
    assert len({d.digest for d in closure}) == 7


def test_corrupt_index_json_is_a_clear_error(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.tag("hello:1", add_image(store))
    (store.root / "index.json").write_text('{"schemaVersion": 2, "manifests": [')
    with pytest.raises(StoreError) as info:
        store.tags()
    assert str(store.root / "index.json") in str(info.value)
    assert "move it aside" in str(info.value)
    with pytest.raises(StoreError):
        store.tag("other:1", add_image(store))
    problems = store.verify()
    assert any("index.json" in p for p in problems)


def test_entries_written_by_other_tools_are_kept(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    image = add_image(store)
    index = json.loads((store.root / "index.json").read_text())
    index["manifests"].append(image.to_json())  # unnamed entry, as `skopeo copy` may write
    (store.root / "index.json").write_text(json.dumps(index))
    store.tag("hello:1", image)
    raw = json.loads((store.root / "index.json").read_text())
    assert len(raw["manifests"]) == 2
    assert store.prune().removed == ()
    assert [name for name, _ in store.tags()] == ["hello:1"]


def test_cache(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert store.cache_get("layers", "abc") is None
    store.cache_put("layers", "abc", '{"digest": "x"}')
    store.cache_put("other", "abc", "different namespace")
    assert store.cache_get("layers", "abc") == '{"digest": "x"}'
    assert store.cache_get("other", "abc") == "different namespace"
    store.cache_put("layers", "abc", "replaced")
    assert Store.open(store.root).cache_get("layers", "abc") == "replaced"
    entry = next((store.root / "dockwright" / "cache").rglob("*/*"))
    entry.write_text("not json")
    assert store.cache_get("layers", "abc") in (None, "different namespace")
    assert list((store.root / "dockwright" / "tmp").iterdir()) == []


def test_memory_store_fake_behaves_like_the_store() -> None:
    fake = MemoryStore()
    image = add_image(fake)
    with pytest.raises(StoreError):
        fake.tag("x", Descriptor(mt.OCI_MANIFEST, Digest.of(b"none"), 4))
    fake.tag("hello", image.with_annotations({mt.ANNOTATION_REF_NAME: "ignored"}))
    assert fake.resolve("hello:latest") == image
    assert len(fake.walk(image)) == 3
    with pytest.raises(NotFoundError):
        fake.resolve("other")
    with fake.session():
        assert fake.sessions == 1
