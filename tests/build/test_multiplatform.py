"""`--platform a,b`: one index, one image per platform; the builder stage FROM
--platform=$BUILDPLATFORM runs natively and cross-compiles for each target."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from build.harness import BuildEnv
from support import run_dockwright

E_MACHINE = {"amd64": 62, "arm64": 183}


def _elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF"
    return int.from_bytes(data[18:20], "little")


@pytest.mark.slow
def test_two_platforms_give_an_index_of_cross_compiled_images(
    build_env: BuildEnv, fixtures_root: Path, tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    shutil.copytree(fixtures_root / "go-multistage" / "context", ctx)
    dockerfile = fixtures_root / "go-multistage" / "Dockerfile"
    out = tmp_path / "multi.tar"
    result = run_dockwright(
        "build", ctx, "-f", dockerfile, "-t", "dw/multi:latest",
        "--platform", "linux/amd64,linux/arm64",
        "--output", f"type=oci,dest={out}", "--progress", "plain",
        env={"DOCKWRIGHT_HOME": str(build_env.home)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(out) as tar:
        tar.extractall(layout, filter="data")
    index = json.loads((layout / "index.json").read_text())
    root = index["manifests"][0]
    inner = json.loads((layout / "blobs" / "sha256" / root["digest"].split(":")[1]).read_text())
    platforms = {m["platform"]["architecture"]: m for m in inner["manifests"]}
    assert set(platforms) == {"amd64", "arm64"}
    for arch, desc in platforms.items():
        manifest = json.loads(
            (layout / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_text()
        )
        config = json.loads(
            (layout / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).read_text()
        )
        assert config["architecture"] == arch
        (layer,) = manifest["layers"]
        blob = layout / "blobs" / "sha256" / layer["digest"].split(":")[1]
        with tarfile.open(blob) as tar:
            member = tar.extractfile("hello")
            assert member is not None
            assert _elf_machine(member.read(64)) == E_MACHINE[arch], arch
