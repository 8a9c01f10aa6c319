"""Publishing into a store, and the dispatching publish() entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwright.errors import PublishError, StoreError, UsageError
from dockwright.image.platform import Platform
from dockwright.publish import (
    DockerArchivePublisher,
    OciLayoutPublisher,
    OutputSpec,
    Publisher,
    StorePublisher,
    parse_output,
    publish,
    publish_oci_layout,
    publish_to_store,
    read_oci_layout,
)
from dockwright.store import MemoryStore, Store
from dockwright.store.graph import walk
from dockwright.store.testing import add_index
from publish.publishkit import make_images
from store.storekit import run_tool


def test_publish_to_store_copies_from_another_source(tmp_path: Path) -> None:
    memory = MemoryStore()
    index = add_index(memory)
    target = Store.open(tmp_path / "target")
    result = publish_to_store(memory, index, target, ["multi:1", "multi:latest"])
    assert result == publish_to_store(memory, index, target, ["multi:1", "multi:latest"])
    assert (result.kind, result.dest, result.digest) == ("store", str(target.root), index.digest)
    assert [name for name, _ in target.tags()] == ["multi:1", "multi:latest"]
    assert {d.digest for d in target.walk(index)} == {d.digest for d in walk(memory, index)}
    assert target.verify() == []
    run_tool("skopeo", "inspect", "--raw", f"oci:{target.root}:multi:1")


def test_publish_to_store_without_tags_notes_it(tmp_path: Path) -> None:
    memory = MemoryStore()
    index = add_index(memory)
    target = Store.open(tmp_path / "target")
    result = publish_to_store(memory, index, target, [])
    assert result.notes and "untagged" in result.notes[0]
    assert target.has(index.digest)


def test_publish_to_store_from_a_layout_tar(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    archive = tmp_path / "hello.tar"
    publish_oci_layout(images.store, images.image, archive, tags=["hello:1"], tar=True)
    source, root = read_oci_layout(archive, "hello:1")
    target = Store.open(tmp_path / "other-store")
    publish_to_store(source, root, target, ["copied:1"])
    assert target.resolve("copied:1") == images.image
    assert target.verify() == []


def test_publish_to_store_refuses_a_corrupt_source(tmp_path: Path) -> None:
    memory = MemoryStore()
    index = add_index(memory)
    config = walk(memory, index)[2]
    memory.blobs[config.digest] = b"tampered"
    target = Store.open(tmp_path / "target")
    with pytest.raises(StoreError):
        publish_to_store(memory, index, target, ["bad:1"])
    assert target.tags() == []
    assert not target.has(config.digest)
    with pytest.raises(PublishError):
        publish_to_store(MemoryStore(), index, target, ["bad:1"])


def test_publish_dispatches_by_kind(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    oci = publish(
        parse_output(f"type=oci,dest={tmp_path / 'o.tar'}"), images.store, images.image, ["hello:1"]
    )
    assert oci.kind == "oci"
    run_tool("skopeo", "inspect", f"oci-archive:{tmp_path / 'o.tar'}:1")
    folder = publish(
        parse_output(f"type=oci,dest={tmp_path / 'dir'},tar=false,name=extra:2"),
        images.store,
        images.image,
        ["hello:1"],
    )
    assert folder.dest == str(tmp_path / "dir")
    assert sorted(run_tool("umoci", "ls", "--layout", str(tmp_path / "dir")).stdout.split()) == [
        "1",
        "2",
    ]
    docker = publish(
        parse_output(f"type=docker,dest={tmp_path / 'd.tar'},platform=linux/arm64"),
        images.store,
        images.index,
        ["multi:1"],
    )
    assert docker.kind == "docker" and "linux/arm64" in docker.notes[0]
    explicit = publish(
        OutputSpec("docker", tmp_path / "e.tar"),
        images.store,
        images.index,
        ["multi:1"],
        platform=Platform("linux", "amd64"),
    )
    assert "linux/amd64 (of" in explicit.notes[0]
    target = Store.open(tmp_path / "t")
    stored = publish(
        parse_output("type=image,name=named:1"), images.store, images.image, [], store=target
    )
    assert stored.kind == "store"
    assert target.resolve("named:1") == images.image
    with pytest.raises(UsageError, match="needs dest"):
        publish(OutputSpec("oci", None), images.store, images.image, [])


def test_publish_to_the_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKWRIGHT_HOME", str(tmp_path / "home"))
    memory = MemoryStore()
    index = add_index(memory)
    result = publish(OutputSpec("store", None), memory, index, ["app:1"])
    assert result.dest == str(tmp_path / "home")
    assert Store.open().resolve("app:1") == index


def test_publishers_satisfy_the_protocol(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    publishers: list[Publisher] = [
        StorePublisher(MemoryStore()),
        OciLayoutPublisher(tmp_path / "p.tar"),
        OciLayoutPublisher(tmp_path / "p", tar=False),
        DockerArchivePublisher(tmp_path / "d.tar", Platform("linux", "arm64")),
    ]
    for publisher in publishers:
        result = publisher.publish(images.store, images.index, ["multi:1"])
        assert result.digest in {d.digest for d in walk(images.store, images.index)}
