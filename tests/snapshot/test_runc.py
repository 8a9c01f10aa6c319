"""A RUN step for real: runc in a mounted snapshot, its diff committed and stacked."""

from __future__ import annotations

import io
from pathlib import Path

from dockwright.image.digest import Digest
from dockwright.image.layer import write_layer
from dockwright.sandbox import ProcessSpec, RuncExecutor
from dockwright.snapshot import Snapshotter
from support import require_tool, rootfs_tar

ENV = ("PATH=/bin",)


def test_runc_runs_in_a_snapshot_and_its_diff_becomes_a_layer(
    snap: Snapshotter, busybox_rootfs_dir: Path, tmp_path: Path
) -> None:
    executor = RuncExecutor(
        require_tool("runc", "apt-get install -y runc"), state_root=tmp_path / "runc"
    )
    tar = rootfs_tar(busybox_rootfs_dir, tmp_path / "base.tar")
    blob = tar.read_bytes()
    base = Digest.of(blob)
    snap.unpack(base, lambda: io.BytesIO(blob), "application/vnd.oci.image.layer.v1.tar")
    script = "echo made > /made && rm /etc/group && mkdir -p /opt/app && ln -s /made /opt/app/l"
    with snap.mount([base]) as active:
        status = executor.run(active.root, ProcessSpec(args=("/bin/sh", "-c", script), env=ENV))
        assert status == 0
        changes = active.changes(clamp_mtime=0)
        paths = {entry.path: entry for entry in changes}
        assert paths["made"].kind == "file" and "etc/.wh.group" in paths
        assert paths["opt/app/l"].linkname == "/made"
        assert not any(path.startswith("bin/") for path in paths)
        out = io.BytesIO()
        step = write_layer(changes, out, compression="none").diff_id
        active.keep(step)
    with snap.mount([base, step]) as active:
        check = 'test "$(cat /opt/app/l)" = made && test ! -e /etc/group'
        status = executor.run(active.root, ProcessSpec(args=("/bin/sh", "-c", check), env=ENV))
        assert status == 0
