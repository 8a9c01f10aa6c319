"""open_snapshotter: the overlay probe, its cached answer, and the environment override."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockwright.errors import UsageError
from dockwright.snapshot import CopySnapshotter, OverlaySnapshotter, open_snapshotter


def test_overlay_is_chosen_here_and_the_answer_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKWRIGHT_SNAPSHOTTER", raising=False)
    root = tmp_path / "snapshots"
    # These machines run the tests as root on a kernel with overlayfs.
    assert isinstance(open_snapshotter(root), OverlaySnapshotter)
    cached = json.loads((root / "probe.json").read_text())
    assert cached["overlay"] is True
    assert list((root / "tmp").iterdir()) == []
    cached["overlay"] = False
    (root / "probe.json").write_text(json.dumps(cached))
    assert isinstance(open_snapshotter(root), CopySnapshotter)
    cached["kernel"] = "0.0-other"
    (root / "probe.json").write_text(json.dumps(cached))
    assert isinstance(open_snapshotter(root), OverlaySnapshotter)


def test_the_environment_forces_a_snapshotter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKWRIGHT_SNAPSHOTTER", "copy")
    assert isinstance(open_snapshotter(tmp_path / "a"), CopySnapshotter)
    monkeypatch.setenv("DOCKWRIGHT_SNAPSHOTTER", "overlay")
    assert isinstance(open_snapshotter(tmp_path / "b"), OverlaySnapshotter)
    assert not (tmp_path / "b" / "probe.json").exists()
    monkeypatch.setenv("DOCKWRIGHT_SNAPSHOTTER", "zfs")
    with pytest.raises(UsageError):
        open_snapshotter(tmp_path / "c")
