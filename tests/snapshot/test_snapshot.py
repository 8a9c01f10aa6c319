"""Both snapshotters: unpack, mount, changes, keep, usage, remove (parametrized)."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dockwright.errors import NotFoundError, UnsafeLayerError
from dockwright.image.digest import Digest
from dockwright.image.layer import LayerEntry, write_layer
from dockwright.snapshot import Snapshotter

from .conftest import add_layer, flatten, layer_bytes, tree

BASE = [
    LayerEntry("etc", "dir", 0o755),
    LayerEntry("etc/passwd", data=b"root:x:0:0\n"),
    LayerEntry("etc/keep", data=b"keep"),
    LayerEntry("etc/old", data=b"old"),
    LayerEntry("d", "dir", 0o755),
    LayerEntry("d/x", data=b"x"),
    LayerEntry("d/sub", "dir", 0o750),
    LayerEntry("d/sub/y", data=b"y"),
    LayerEntry("usr/bin/tool", mode=0o755, data=b"#!/bin/sh\n"),
    LayerEntry("gone", data=b"g"),
    LayerEntry("opq", "dir", 0o755),
    LayerEntry("opq/hidden", data=b"h"),
    LayerEntry("owned", uid=1000, gid=1001, mode=0o600, data=b"o"),
]
SECOND = [
    LayerEntry(".wh.gone"),
    LayerEntry("opq/.wh..wh..opq"),
    LayerEntry("opq/new", data=b"new"),
    LayerEntry("etc/.wh.keep"),
]


def _summary(entries: list[LayerEntry]) -> list[tuple[str, str, int, str]]:
    return [(e.path, e.kind, e.mode, e.linkname) for e in entries]


@pytest.mark.parametrize("compression", ["gzip", "none", "zstd"])
def test_unpacked_layers_show_through_a_mount_with_whiteouts_and_opaques(
    snap: Snapshotter, compression: str, tmp_path: Path
) -> None:
    base = add_layer(snap, BASE, compression)  # type: ignore[arg-type]
    second = add_layer(snap, SECOND, compression)  # type: ignore[arg-type]
    assert snap.has(base) and snap.has(second)
    with snap.mount([base, second], writable=False) as view:
        got = tree(view.root)
        assert view.changes() == []
    assert "gone" not in got and "etc/keep" not in got
    assert sorted(k for k in got if k.startswith("opq/")) == ["opq/new"]
    assert got["owned"] == ("file", 0o600, 1000, 1001, b"o")
    reference = flatten([layer_bytes(BASE)[0], layer_bytes(SECOND)[0]], tmp_path / "flat")
    assert got == tree(reference)


def test_unpack_is_idempotent_and_missing_layers_are_reported(snap: Snapshotter) -> None:
    base = add_layer(snap, BASE)
    calls = []
    snap.unpack(base, lambda: calls.append(1) or io.BytesIO(b""), "x")  # type: ignore[func-returns-value]
    assert calls == []
    missing = Digest.of(b"nothing")
    assert not snap.has(missing)
    with pytest.raises(NotFoundError), snap.mount([base, missing]):
        pass


def test_a_hostile_layer_is_refused_and_never_reported(snap: Snapshotter) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        member = tarfile.TarInfo("../escape")
        member.size = 1
        tar.addfile(member, io.BytesIO(b"x"))
    blob = out.getvalue()
    diff_id = Digest.of(blob)
    with pytest.raises(UnsafeLayerError):
        snap.unpack(diff_id, lambda: io.BytesIO(blob), "application/vnd.oci.image.layer.v1.tar")
    assert not snap.has(diff_id)
    assert list((snap.root / "tmp").iterdir()) == []


def _step(root: Path) -> None:
    """A build step touching every kind of change."""
    (root / "etc/passwd").write_bytes(b"root:x:0:0\nuser:x:1:1\n")
    os.chmod(root / "usr/bin/tool", 0o700)
    os.remove(root / "etc/old")
    shutil.rmtree(root / "d")
    os.mkdir(root / "d")
    (root / "d/z").write_bytes(b"z")
    os.mkdir(root / "new")
    (root / "new/f").write_bytes(b"f")
    os.link(root / "new/f", root / "new/g")
    os.symlink("etc/passwd", root / "link")
    os.mkfifo(root / "fifo", 0o640)
    (root / "scratch").write_bytes(b"tmp")
    os.remove(root / "scratch")


EXPECTED = [
    ("d", "dir", 0o755, ""),
    ("d/.wh..wh..opq", "file", 0o644, ""),
    ("d/z", "file", 0o644, ""),
    ("etc", "dir", 0o755, ""),
    ("etc/.wh.old", "file", 0o644, ""),
    ("etc/passwd", "file", 0o644, ""),
    ("fifo", "fifo", 0o640, ""),
    ("link", "symlink", 0o777, "etc/passwd"),
    ("new", "dir", 0o755, ""),
    ("new/f", "file", 0o644, ""),
    ("new/g", "hardlink", 0o644, "new/f"),
    ("usr", "dir", 0o755, ""),
    ("usr/bin", "dir", 0o755, ""),
    ("usr/bin/tool", "file", 0o700, ""),
]


def test_changes_are_exactly_the_step_diff_and_keep_makes_a_lower(
    snap: Snapshotter, tmp_path: Path
) -> None:
    old_umask = os.umask(0o022)
    try:
        base = add_layer(snap, BASE)
        with snap.mount([base]) as active:
            _step(active.root)
            changes = active.changes(clamp_mtime=5)
            assert _summary(changes) == EXPECTED
            assert all(e.mtime is not None and e.mtime <= 5 for e in changes)
            by_path = {e.path: e for e in changes}
            assert by_path["etc/passwd"].source is not None
            assert by_path["etc/passwd"].source.read_bytes().startswith(b"root:x:0:0\nuser")
            out = io.BytesIO()
            info = write_layer(changes, out, compression="none")
            step_tree = tree(active.root)
            active.keep(info.diff_id)
    finally:
        os.umask(old_umask)
    assert snap.has(info.diff_id)
    assert list((snap.root / "active").iterdir()) == []
    with snap.mount([base, info.diff_id], writable=False) as view:
        assert tree(view.root) == step_tree
    reference = flatten([layer_bytes(BASE)[0], out.getvalue()], tmp_path / "flat")
    assert tree(reference) == step_tree
    # A layer on top of the kept one sees it as a lower and diffs against it.
    with snap.mount([base, info.diff_id]) as active:
        assert (active.root / "d/z").read_bytes() == b"z"
        (active.root / "new/f").write_bytes(b"F")
        assert _summary(active.changes()) == [
            ("new", "dir", 0o755, ""),
            ("new/f", "file", 0o644, ""),
            ("new/g", "hardlink", 0o644, "new/f"),
        ] or _summary(active.changes()) == [("new", "dir", 0o755, ""), ("new/f", "file", 0o644, "")]


def test_no_change_gives_no_entries_and_leaving_discards(snap: Snapshotter) -> None:
    base = add_layer(snap, BASE)
    with snap.mount([base]) as active:
        assert active.changes() == []
        (active.root / "etc/passwd").read_bytes()
    assert list((snap.root / "active").iterdir()) == []
    with snap.mount([base]) as active:
        (active.root / "added").write_bytes(b"a")
    with snap.mount([base], writable=False) as view:
        assert not (view.root / "added").exists()


def test_keep_of_a_present_layer_discards(snap: Snapshotter) -> None:
    base = add_layer(snap, BASE)
    with snap.mount([base]) as active:
        (active.root / "etc/passwd").write_bytes(b"other")
        active.keep(base)
    with snap.mount([base], writable=False) as view:
        assert (view.root / "etc/passwd").read_bytes() == b"root:x:0:0\n"


def test_scratch_mounts_and_devices(snap: Snapshotter) -> None:
    with snap.mount([]) as active:
        assert list(active.root.iterdir()) == []
        os.mknod(active.root / "null", 0o020666, os.makedev(1, 3))
        os.mknod(active.root / "sock", stat.S_IFSOCK | 0o600)  # sockets are never layered
        (active.root / "hello").write_bytes(b"hi")
        changes = active.changes()
        assert [(e.path, e.kind, e.devmajor, e.devminor) for e in changes] == [
            ("hello", "file", 0, 0),
            ("null", "chardev", 1, 3),
        ]
        info = write_layer(changes, io.BytesIO(), compression="none")
        active.keep(info.diff_id)
    with snap.mount([info.diff_id], writable=False) as view:
        assert os.major((view.root / "null").lstat().st_rdev) == 1
    with snap.mount([], writable=False) as view:
        assert list(view.root.iterdir()) == []


def test_replacing_a_file_by_a_dir_and_a_dir_by_a_file(snap: Snapshotter, tmp_path: Path) -> None:
    base = add_layer(snap, BASE)
    with snap.mount([base]) as active:
        os.remove(active.root / "gone")
        os.mkdir(active.root / "gone")
        (active.root / "gone/in").write_bytes(b"i")
        shutil.rmtree(active.root / "opq")
        (active.root / "opq").write_bytes(b"now a file")
        changes = active.changes()
        expected = tree(active.root)
        blob = io.BytesIO()
        info = write_layer(changes, blob, compression="none")
        active.keep(info.diff_id)
    paths = [e.path for e in changes]
    assert "opq" in paths and not any(p.startswith("opq/") for p in paths)
    assert "gone/in" in paths
    reference = flatten([layer_bytes(BASE)[0], blob.getvalue()], tmp_path / "flat")
    assert tree(reference) == expected
    with snap.mount([base, info.diff_id], writable=False) as view:
        assert tree(view.root) == expected


def test_usage_touch_and_remove(snap: Snapshotter) -> None:
    base = add_layer(snap, BASE)
    second = add_layer(snap, SECOND)
    usage = {u.diff_id: u for u in snap.usage()}
    assert set(usage) == {base, second}
    assert all(u.size > 0 for u in usage.values())
    os.utime(snap.root, None)
    before = usage[base].last_used
    for u in usage.values():
        layer = next(p for p in snap.root.glob(f"*/{u.diff_id.hex}"))
        os.utime(layer / "used", (1000, 1000))
    with snap.mount([base]):
        pass
    after = {u.diff_id: u.last_used for u in snap.usage()}
    assert after[base] >= before and after[second] == 1000
    snap.remove(base)
    assert not snap.has(base)
    snap.remove(base)
    assert [u.diff_id for u in snap.usage()] == [second]
    assert list((snap.root / "tmp").iterdir()) == []


def test_two_hundred_and_ten_lowers(snap: Snapshotter, tmp_path: Path) -> None:
    lowers = [
        add_layer(snap, [LayerEntry(f"f{i:03}", data=b"%d" % i), LayerEntry("top", data=b"%d" % i)])
        for i in range(210)
    ]
    with snap.mount(lowers, writable=False) as view:
        names = sorted(os.listdir(view.root))
        assert names == sorted([*(f"f{i:03}" for i in range(210)), "top"])
        assert (view.root / "top").read_bytes() == b"209"
    with snap.mount(lowers) as active:
        (active.root / "top").write_bytes(b"mine")
        assert [e.path for e in active.changes()] == ["top"]


def test_a_layer_twice_and_empty_layers_mount_as_the_flattened_layers(
    snap: Snapshotter, tmp_path: Path
) -> None:
    # Two `RUN true` give the same (empty) layer twice; two identical COPY steps the same
    # layer twice with another in between. Overlayfs refuses one directory twice (ELOOP).
    empty = add_layer(snap, [])
    same = [LayerEntry("s", "dir", 0o755), LayerEntry("s/f", data=b"same")]
    middle = [LayerEntry("s/.wh.f"), LayerEntry("m", data=b"m")]
    base, dup, mid = add_layer(snap, BASE), add_layer(snap, same), add_layer(snap, middle)
    lowers = [base, empty, dup, empty, mid, dup, empty]
    with snap.mount(lowers, writable=False) as view:
        got = tree(view.root)
    blobs = [layer_bytes(e)[0] for e in (BASE, [], same, [], middle, same, [])]
    assert got == tree(flatten(blobs, tmp_path / "flat"))
    assert got["s/f"][-1] == b"same"
    with snap.mount([empty, empty]) as active:
        (active.root / "new").write_bytes(b"n")
        assert [e.path for e in active.changes()] == ["new"]
    with snap.mount([base, dup, mid, dup]) as active:
        (active.root / "s" / "g").write_bytes(b"g")
        assert [e.path for e in active.changes()] == ["s", "s/g"]


def test_a_directory_restored_to_its_lower_state_is_no_change(snap: Snapshotter) -> None:
    base = add_layer(snap, BASE)
    with snap.mount([base]) as active:
        etc = active.root / "etc"
        before = etc.stat()
        # What a sandbox does for a mount point: create it, remove it, restore the times.
        (etc / "hosts").write_bytes(b"")
        (etc / "hosts").unlink()
        assert [e.path for e in active.changes()] == ["etc"]
        os.utime(etc, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert active.changes() == []
        os.chmod(etc, 0o700)
        assert [(e.path, e.mode) for e in active.changes()] == [("etc", 0o700)]


def test_parallel_steps_in_threads(snap: Snapshotter) -> None:
    base = add_layer(snap, BASE)

    def step(i: int) -> Digest:
        with snap.mount([base]) as active:
            (active.root / "etc" / f"n{i}").write_bytes(b"%d" % i)
            out = io.BytesIO()
            diff_id = write_layer(active.changes(), out, compression="none").diff_id
            active.keep(diff_id)
            return diff_id

    with ThreadPoolExecutor(4) as pool:
        layers = list(pool.map(step, range(8)))
    assert len(set(layers)) == 8 and all(snap.has(d) for d in layers)
    with snap.mount([base, *layers], writable=False) as view:
        assert sorted(p.name for p in (view.root / "etc").glob("n*")) == [f"n{i}" for i in range(8)]
    assert list((snap.root / "active").iterdir()) == []
