"""The overlay mount helpers: the new mount API, the classic mount(2) fallback, read-only views."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from dockwright.errors import StoreError
from dockwright.image.layer import LayerEntry
from dockwright.snapshot import OverlaySnapshotter, mounts

from .conftest import add_layer


def test_classic_mount_works_for_a_few_lowers_and_says_when_too_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mounts, "_new_api_ok", False)
    snap = OverlaySnapshotter(tmp_path / "s")
    lowers = [add_layer(snap, [LayerEntry(f"f{i}", data=b"x")]) for i in range(120)]
    with snap.mount(lowers[:3]) as active:
        assert sorted(p.name for p in active.root.iterdir()) == ["f0", "f1", "f2"]
        (active.root / "new").write_bytes(b"n")
        assert [e.path for e in active.changes()] == ["new"]
    with pytest.raises(StoreError, match="do not fit"), snap.mount(lowers):
        pass
    assert list((snap.root / "active").iterdir()) == []


def test_overlay_read_only_views_refuse_writes_and_keep(tmp_path: Path) -> None:
    snap = OverlaySnapshotter(tmp_path / "s")
    base = add_layer(snap, [LayerEntry("f", data=b"x")])
    with snap.mount([base], writable=False) as view:
        with pytest.raises(OSError) as caught:
            (view.root / "g").write_bytes(b"y")
        assert caught.value.errno == errno.EROFS
        with pytest.raises(StoreError):
            view.keep(base)


def test_unmount_of_nothing_is_false(tmp_path: Path) -> None:
    assert mounts.unmount(tmp_path) is False


def test_more_lowers_than_overlayfs_stacks_is_a_clear_error(tmp_path: Path) -> None:
    lowers = []
    for i in range(mounts.MAX_LOWERS + 1):
        lowers.append(tmp_path / f"l{i}")
        lowers[-1].mkdir()
    (tmp_path / "m").mkdir()
    with pytest.raises(StoreError, match="more than overlayfs stacks"):
        mounts.mount_overlay(tmp_path / "m", lowers)
