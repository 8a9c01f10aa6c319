"""OCI layout outputs (tar and folder), checked with skopeo and umoci, and read back."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from dockwright.errors import PublishError
from dockwright.image import mediatypes as mt
from dockwright.image.model import Index
from dockwright.publish import publish_oci_layout, read_oci_layout
from dockwright.store import MemoryStore, Store
from dockwright.store.graph import walk
from dockwright.store.testing import add_image
from publish.publishkit import make_images
from store.storekit import run_tool

CONTAINERD_NAME = "io.containerd.image.name"


def index_of_tar(path: Path) -> dict[str, object]:
    with tarfile.open(path) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        data: dict[str, object] = json.loads(member.read())
        return data


def test_oci_tar_is_valid_for_skopeo_and_umoci(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "hello.tar"
    result = publish_oci_layout(images.store, images.image, dest, tags=["hello:1"], tar=True)
    assert (result.kind, result.dest, result.digest) == ("oci", str(dest), images.image.digest)

    raw = run_tool("skopeo", "inspect", "--raw", f"oci-archive:{dest}:1").stdout
    assert raw.encode() == images.store.read(images.image.digest)
    index = index_of_tar(dest)
    assert index["manifests"] == [
        {
            **images.image.to_json(),
            "annotations": {
                mt.ANNOTATION_REF_NAME: "1",
                CONTAINERD_NAME: "docker.io/library/hello:1",
            },
        }
    ]
    layout = tmp_path / "copied"
    run_tool("skopeo", "copy", f"oci-archive:{dest}:1", f"oci:{layout}:hello")
    bundle = tmp_path / "bundle"
    rootless = [] if os.geteuid() == 0 else ["--rootless"]
    run_tool("umoci", "unpack", *rootless, "--image", f"{layout}:hello", str(bundle))
    assert (bundle / "rootfs" / "app" / "hello.txt").read_bytes() == b"hello\n"


def test_oci_tar_is_deterministic(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    first, second, third = tmp_path / "a.tar", tmp_path / "b.tar", tmp_path / "c.tar"
    publish_oci_layout(images.store, images.index, first, tags=["multi:1", "multi"], tar=True)
    publish_oci_layout(images.store, images.index, second, tags=["multi:1", "multi"], tar=True)
    # The same image held by another kind of source gives the same bytes too.
    memory = MemoryStore()
    for desc in walk(images.store, images.index):
        memory.put_bytes(images.store.read(desc.digest))
    publish_oci_layout(memory, images.index, third, tags=["multi:1", "multi"], tar=True)
    assert first.read_bytes() == second.read_bytes() == third.read_bytes()
    assert len(first.read_bytes()) % 10240 == 0
    with tarfile.open(first) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert names[:2] == ["blobs", "blobs/sha256"]
    assert names[-2:] == ["index.json", "oci-layout"]
    for member in members:
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (
            0,
            0,
            0,
            "",
            "",
        )
        assert member.mode == (0o755 if member.isdir() else 0o644)
    assert len(names) == 2 + 7 + 2  # dirs, index + 2 × (manifest, config, layer), files


def test_multi_platform_index_in_oci_tar(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "multi.tar"
    publish_oci_layout(images.store, images.index, dest, tags=["multi:1"], tar=True)
    raw = json.loads(run_tool("skopeo", "inspect", "--raw", f"oci-archive:{dest}:1").stdout)
    assert raw["mediaType"] == mt.OCI_INDEX
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == ["amd64", "arm64"]
    arm = json.loads(
        run_tool("skopeo", "--override-arch", "arm64", "inspect", f"oci-archive:{dest}:1").stdout
    )
    assert arm["Architecture"] == "arm64"
    run_tool("skopeo", "copy", "--all", f"oci-archive:{dest}:1", f"oci:{tmp_path / 'all'}:x")


def test_oci_dir_is_valid_and_merges(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "layout"
    publish_oci_layout(images.store, images.image, dest, tags=["hello:1"], tar=False)
    raw = run_tool("skopeo", "inspect", "--raw", f"oci:{dest}:1").stdout
    assert raw.encode() == images.store.read(images.image.digest)
    assert run_tool("umoci", "ls", "--layout", str(dest)).stdout.split() == ["1"]

    other = add_image(images.store, layers=({"other": b"2"},))
    publish_oci_layout(images.store, other, dest, tags=["world:2"], tar=False)
    publish_oci_layout(images.store, images.index, dest, tags=["multi:3"], tar=False)
    assert sorted(run_tool("umoci", "ls", "--layout", str(dest)).stdout.split()) == ["1", "2", "3"]
    # Re-publishing a name replaces its entry instead of adding a second one.
    publish_oci_layout(images.store, other, dest, tags=["hello:1"], tar=False)
    index = Index.from_bytes((dest / "index.json").read_bytes())
    named = {d.annotations[CONTAINERD_NAME]: d.digest for d in index.manifests}
    assert named == {
        "docker.io/library/hello:1": other.digest,
        "docker.io/library/world:2": other.digest,
        "docker.io/library/multi:3": images.index.digest,
    }
    assert [p.name for p in dest.iterdir() if p.name.startswith(".")] == []
    for path in (dest / "blobs" / "sha256").iterdir():
        assert path.stat().st_mode & 0o777 == 0o644
    run_tool("skopeo", "inspect", "--raw", f"oci:{dest}:3")


def test_untagged_output_has_one_plain_entry(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "plain.tar"
    publish_oci_layout(images.store, images.image, dest, tags=[], tar=True)
    manifests = index_of_tar(dest)["manifests"]
    assert isinstance(manifests, list) and len(manifests) == 1
    assert "annotations" not in manifests[0]
    run_tool("skopeo", "inspect", f"oci-archive:{dest}")
    _source, root = read_oci_layout(dest, None)
    assert root == images.image


@pytest.mark.parametrize("tar", [True, False])
def test_read_oci_layout_round_trip(tmp_path: Path, tar: bool) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / ("out.tar" if tar else "out")
    publish_oci_layout(images.store, images.image, dest, tags=["hello:1"], tar=tar)
    publish_oci_layout(images.store, images.index, tmp_path / "x", tags=["multi:1"], tar=False)
    for ref in ("1", "hello:1", "docker.io/library/hello:1", None):
        source, root = read_oci_layout(dest, ref)
        assert root == images.image
        assert [d.digest for d in walk(source, root)] == [
            d.digest for d in walk(images.store, images.image)
        ]
        for desc in walk(source, root):
            assert source.read(desc.digest) == images.store.read(desc.digest)
            with source.open_blob(desc.digest) as stream:
                assert stream.read() == images.store.read(desc.digest)
    with pytest.raises(PublishError, match="no image 'nope'") as info:
        read_oci_layout(dest, "nope")
    assert "available: 1, docker.io/library/hello:1" in str(info.value)


def test_read_oci_layout_written_by_skopeo(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    layout = tmp_path / "by-skopeo"
    run_tool("skopeo", "copy", f"oci:{images.store.root}:hello:1", f"oci:{layout}:base")
    run_tool("skopeo", "copy", f"oci:{images.store.root}:hello:1", f"oci:{layout}:other")
    source, root = read_oci_layout(layout, "base")
    assert root.is_manifest
    assert len(walk(source, root)) == 4
    archive = tmp_path / "by-skopeo.tar"
    run_tool("skopeo", "copy", f"oci:{images.store.root}:multi:1", f"oci-archive:{archive}:m")
    source, root = read_oci_layout(archive, None)
    assert root.is_manifest  # skopeo copies one platform unless --all


def test_read_oci_layout_errors(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    with pytest.raises(PublishError, match="does not exist"):
        read_oci_layout(tmp_path / "missing", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PublishError, match="no oci-layout file"):
        read_oci_layout(tmp_path / "empty", None)
    not_tar = tmp_path / "not.tar"
    not_tar.write_bytes(b"this is not a tar archive at all" * 20)
    with pytest.raises(PublishError, match="not a readable tar"):
        read_oci_layout(not_tar, None)
    # The store itself is a layout with several images: a ref is needed.
    with pytest.raises(PublishError, match="several images") as info:
        read_oci_layout(images.store.root, None)
    assert "hello:1" in str(info.value)
    _source, root = read_oci_layout(images.store.root, "multi:1")
    assert root == images.index
    both = tmp_path / "both"
    publish_oci_layout(images.store, images.image, both, tags=["a:1"], tar=False)
    other = add_image(images.store, layers=({"x": b"y"},))
    publish_oci_layout(images.store, other, both, tags=["b:1"], tar=False)
    with pytest.raises(PublishError, match="names several images"):
        read_oci_layout(both, "1")
    assert read_oci_layout(both, "b:1")[1] == other
    assert isinstance(images.store, Store)
