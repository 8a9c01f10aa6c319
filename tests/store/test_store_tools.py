"""skopeo and umoci read the store directory as a plain OCI image layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dockwright.image.platform import Platform
from dockwright.store.testing import add_image, add_index
from store.storekit import make_store, run_tool


def test_skopeo_reads_the_store(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    image = add_image(store, layers=({"hello.txt": b"hello\n"},))
    index = add_index(store, (Platform("linux", "amd64"), Platform("linux", "arm64")))
    store.tag("hello:1", image)
    store.tag("localhost:5000/team/multi", index)

    raw = run_tool("skopeo", "inspect", "--raw", f"oci:{store.root}:hello:1").stdout
    assert raw.encode() == store.read(image.digest)
    info = json.loads(run_tool("skopeo", "inspect", f"oci:{store.root}:hello:1").stdout)
    assert info["Digest"] == str(image.digest)
    assert info["Architecture"] == "amd64"

    ref = f"oci:{store.root}:localhost:5000/team/multi:latest"
    raw_index = json.loads(run_tool("skopeo", "inspect", "--raw", ref).stdout)
    assert len(raw_index["manifests"]) == 2
    arm = json.loads(run_tool("skopeo", "--override-arch", "arm64", "inspect", ref).stdout)
    assert arm["Architecture"] == "arm64"

    copy = tmp_path / "copy"
    run_tool("skopeo", "copy", "--all", ref, f"oci:{copy}:multi")
    run_tool("skopeo", "copy", f"oci:{store.root}:hello:1", f"oci:{copy}:hello")
    assert store.verify() == []


def test_umoci_lists_and_unpacks_from_the_store(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    image = add_image(store, layers=({"etc/motd": b"base\n"}, {"app/hello.txt": b"hello\n"}))
    store.tag("hello:1", image)
    store.tag("other", image)
    listed = run_tool("umoci", "ls", "--layout", str(store.root)).stdout.split()
    assert sorted(listed) == ["hello:1", "other:latest"]
    bundle = tmp_path / "bundle"
    rootless = [] if os.geteuid() == 0 else ["--rootless"]
    run_tool("umoci", "unpack", *rootless, "--image", f"{store.root}:hello:1", str(bundle))
    assert (bundle / "rootfs" / "app" / "hello.txt").read_bytes() == b"hello\n"
    assert (bundle / "rootfs" / "etc" / "motd").read_bytes() == b"base\n"
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["args"] == ["/bin/sh"]
