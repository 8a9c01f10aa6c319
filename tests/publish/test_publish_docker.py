"""docker-archive output (checked with skopeo, and docker load when a daemon is at hand)
and docker-archive input, including archives written by skopeo."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dockwright.errors import PublishError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.image.model import Descriptor, ImageConfig, Manifest
from dockwright.image.platform import Platform, host_platform
from dockwright.publish import (
    publish_docker_archive,
    publish_oci_layout,
    publish_to_store,
    read_docker_archive,
)
from dockwright.store import Store
from dockwright.store.graph import walk
from dockwright.store.testing import add_layer
from publish.publishkit import make_images
from store.storekit import run_tool


def members(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            if handle is not None:
                out[member.name] = handle.read()
    return out


def test_docker_archive_layout_and_skopeo(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "hello-docker.tar"
    result = publish_docker_archive(
        images.store, images.image, dest, tags=["hello:1", "hello"], platform=None
    )
    assert result.kind == "docker" and result.digest == images.image.digest
    assert result.notes == ()
    files = members(dest)
    manifest = Manifest.from_bytes(images.store.read(images.image.digest))
    assert json.loads(files["manifest.json"]) == [
        {
            "Config": f"blobs/sha256/{manifest.config.digest.hex}",
            "RepoTags": ["hello:1", "hello:latest"],
            "Layers": [f"blobs/sha256/{layer.digest.hex}" for layer in manifest.layers],
        }
    ]
    top = manifest.layers[-1].digest.hex
    assert json.loads(files["repositories"]) == {"hello": {"1": top, "latest": top}}
    assert files["oci-layout"] == b'{"imageLayoutVersion":"1.0.0"}'
    assert len(json.loads(files["index.json"])["manifests"]) == 2

    info = json.loads(run_tool("skopeo", "inspect", f"docker-archive:{dest}").stdout)
    config = ImageConfig.from_bytes(images.store.read(manifest.config.digest))
    assert info["Layers"] == [str(d) for d in config.diff_ids]
    assert info["Architecture"] == "amd64"
    # skopeo picks images by their RepoTags too.
    run_tool("skopeo", "inspect", f"docker-archive:{dest}:hello:latest")
    # The same tar is an OCI archive as well.
    raw = run_tool("skopeo", "inspect", "--raw", f"oci-archive:{dest}:1").stdout
    assert raw.encode() == images.store.read(images.image.digest)

    layout = tmp_path / "from-docker"
    run_tool("skopeo", "copy", f"docker-archive:{dest}", f"oci:{layout}:hello")
    bundle = tmp_path / "bundle"
    rootless = [] if os.geteuid() == 0 else ["--rootless"]
    run_tool("umoci", "unpack", *rootless, "--image", f"{layout}:hello", str(bundle))
    assert (bundle / "rootfs" / "app" / "hello.txt").read_bytes() == b"hello\n"
    assert (bundle / "rootfs" / "etc" / "motd").read_bytes() == b"base\n"

    again = tmp_path / "again.tar"
    publish_docker_archive(
        images.store, images.image, again, tags=["hello:1", "hello"], platform=None
    )
    assert again.read_bytes() == dest.read_bytes()


def test_docker_archive_of_an_index_holds_one_platform(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "arm.tar"
    result = publish_docker_archive(
        images.store, images.index, dest, tags=["multi:1"], platform=Platform("linux", "arm64")
    )
    assert result.notes == (
        "docker-archive holds one platform: linux/arm64 (of linux/amd64, linux/arm64)",
    )
    info = json.loads(run_tool("skopeo", "inspect", f"docker-archive:{dest}").stdout)
    assert info["Architecture"] == "arm64"
    arm = images.store.children(images.index)[1]
    assert result.digest == arm.digest

    default = tmp_path / "host.tar"
    result = publish_docker_archive(
        images.store, images.index, default, tags=["multi:1"], platform=None
    )
    expected_arch = host_platform().architecture
    if expected_arch in ("amd64", "arm64"):
        info = json.loads(run_tool("skopeo", "inspect", f"docker-archive:{default}").stdout)
        assert info["Architecture"] == expected_arch

    with pytest.raises(PublishError) as info_exc:
        publish_docker_archive(
            images.store,
            images.index,
            tmp_path / "s390x.tar",
            tags=[],
            platform=Platform("linux", "s390x"),
        )
    assert "no linux/s390x variant (it has linux/amd64, linux/arm64)" in str(info_exc.value)
    assert "--platform" in str(info_exc.value)
    assert not (tmp_path / "s390x.tar").exists()


def test_read_our_docker_archive_keeps_the_original_manifest(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    dest = tmp_path / "hello.tar"
    publish_docker_archive(images.store, images.image, dest, tags=["hello:1"], platform=None)
    for tag in ("hello:1", "docker.io/library/hello:1", None):
        source, root = read_docker_archive(dest, tag)
        assert root.digest == images.image.digest
        for desc in walk(source, root):
            assert source.read(desc.digest) == images.store.read(desc.digest)
    with pytest.raises(PublishError, match="no image 'other:1'") as info:
        read_docker_archive(dest, "other:1")
    assert "hello:1" in str(info.value)


def test_read_docker_archive_written_by_skopeo(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    archive = tmp_path / "skopeo-docker.tar"
    run_tool(
        "skopeo",
        "copy",
        f"oci:{images.store.root}:hello:1",
        f"docker-archive:{archive}:hello:1",
    )
    source, root = read_docker_archive(archive, "hello:1")
    assert root.is_manifest and root.platform == Platform("linux", "amd64")
    manifest = Manifest.from_bytes(source.read(root.digest))
    config = ImageConfig.from_bytes(source.read(manifest.config.digest))
    assert [layer.media_type for layer in manifest.layers] == [mt.OCI_LAYER, mt.OCI_LAYER]
    # skopeo stores layers uncompressed, so their digests are the diff IDs.
    assert [layer.digest for layer in manifest.layers] == list(config.diff_ids)
    with tarfile.open(fileobj=source.open_blob(manifest.layers[1].digest)) as tar:
        assert tar.getnames() == ["app", "app/hello.txt"]

    # Usable as a base: into a store, then out as an OCI archive skopeo reads.
    target = Store.open(tmp_path / "target")
    publish_to_store(source, root, target, ["base:1"])
    assert target.verify() == []
    run_tool("skopeo", "inspect", f"oci:{target.root}:base:1")

    gz = tmp_path / "skopeo-docker.tar.gz"
    gz.write_bytes(gzip.compress(archive.read_bytes()))
    source, root_gz = read_docker_archive(gz, None)
    assert root_gz == root


def _legacy_archive(path: Path, images_store: Store, image: Descriptor) -> None:
    # The pre-Docker-25 layout: <id>/layer.tar (one a symlink), <hex>.json config.
    manifest = Manifest.from_bytes(images_store.read(image.digest))
    config = images_store.read(manifest.config.digest)
    layer_paths: list[str] = []
    with tarfile.open(path, "w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        config_name = hashlib.sha256(config).hexdigest() + ".json"
        add(config_name, config)
        for n, layer in enumerate(manifest.layers):
            raw = gzip.decompress(images_store.read(layer.digest))
            add(f"layer{n}/layer.tar", raw)
            layer_paths.append(f"layer{n}/layer.tar")
        link = tarfile.TarInfo("dup/layer.tar")
        link.type = tarfile.SYMTYPE
        link.linkname = "../layer0/layer.tar"
        tar.addfile(link)
        layers = ["dup/layer.tar", *layer_paths[1:]]
        entry = {"Config": config_name, "RepoTags": ["old:1"], "Layers": layers}
        add("manifest.json", json.dumps([entry]).encode())


def test_read_legacy_docker_archive_with_symlinked_layers(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    archive = tmp_path / "legacy.tar"
    _legacy_archive(archive, images.store, images.image)
    source, root = read_docker_archive(archive, "old:1")
    manifest = Manifest.from_bytes(source.read(root.digest))
    config = ImageConfig.from_bytes(source.read(manifest.config.digest))
    assert [d.digest for d in manifest.layers] == list(config.diff_ids)
    out = tmp_path / "republished.tar"
    publish_docker_archive(source, root, out, tags=["old:2"], platform=None)
    run_tool("skopeo", "inspect", f"docker-archive:{out}")


def test_read_docker_archive_errors(tmp_path: Path) -> None:
    images = make_images(tmp_path)
    with pytest.raises(PublishError, match="does not exist"):
        read_docker_archive(tmp_path / "nothing.tar", None)
    oci = tmp_path / "oci.tar"
    publish_oci_layout(images.store, images.image, oci, tags=["a:1"], tar=True)
    with pytest.raises(PublishError, match=r"no manifest\.json"):
        read_docker_archive(oci, None)
    two = tmp_path / "two.tar"
    run_tool("skopeo", "copy", f"oci:{images.store.root}:hello:1", f"docker-archive:{two}:a:1")
    _source, root = read_docker_archive(two, "a:1")
    assert root.is_manifest


@pytest.mark.docker
def test_docker_loads_and_runs_the_archive(
    tmp_path: Path, dockerd: Any, busybox_rootfs_dir: Path
) -> None:
    # dockerd and busybox_rootfs_dir come from tests/conftest.py (a private Docker Engine).
    store = Store.open(tmp_path / "store")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(busybox_rootfs_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(busybox_rootfs_dir)), recursive=False)
    raw = buffer.getvalue()
    base = Descriptor(mt.OCI_LAYER_GZIP, store.put_bytes(gzip.compress(raw, mtime=0)), 0)
    base = Descriptor(base.media_type, base.digest, store.size(base.digest))
    top, top_diff = add_layer(store, {"hello.txt": b"hello from dockwright\n"})
    config = ImageConfig(
        architecture=host_platform().architecture,
        os="linux",
        diff_ids=(Digest.of(raw), top_diff),
    )
    config_bytes = config.to_bytes()
    config_desc = Descriptor(mt.OCI_CONFIG, store.put_bytes(config_bytes), len(config_bytes))
    manifest = Manifest(config=config_desc, layers=(base, top))
    data = manifest.to_bytes()
    root = Descriptor(mt.OCI_MANIFEST, store.put_bytes(data), len(data))
    dest = tmp_path / "busybox-hello.tar"
    publish_docker_archive(store, root, dest, tags=["dwtest/hello:1"], platform=None)
    assert dockerd.load(dest) == ["dwtest/hello:1"]
    out = dockerd.run("run", "--rm", "--network", "none", "dwtest/hello:1", "cat", "/hello.txt")
    assert out.stdout == "hello from dockwright\n"
