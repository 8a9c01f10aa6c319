"""Processes racing and dying: concurrent unpacks, SIGKILL mid-unpack and mid-mount, recover()."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockwright.image.digest import Digest
from dockwright.image.layer import LayerEntry
from dockwright.snapshot import Snapshotter

from .conftest import layer_bytes, make_snapshotter, tree

CHILD = r"""
import io, json, os, sys, time
from pathlib import Path
from dockwright.image.digest import Digest
from dockwright.snapshot import CopySnapshotter, OverlaySnapshotter

args = json.loads(sys.argv[1])
root, blob_path, ready = Path(args["root"]), Path(args["blob"]), Path(args["ready"])
snap = (OverlaySnapshotter if args["kind"] == "overlay" else CopySnapshotter)(root)
diff_id = Digest.parse(args["diff_id"])
blob = blob_path.read_bytes()

def announce(text):
    # Whole or not at all: the parent polls for the file and reads it at once.
    staging = ready.with_suffix(".tmp")
    staging.write_text(text)
    os.replace(staging, ready)

class Stalling(io.RawIOBase):
    # Hands out half the layer, then announces itself and hangs.
    def __init__(self):
        self.left = blob[: len(blob) // 2]
    def readable(self):
        return True
    def readinto(self, buf):
        if not self.left:
            announce("stalled")
            time.sleep(3600)
        n = min(len(buf), len(self.left))
        buf[:n] = self.left[:n]
        self.left = self.left[n:]
        return n

def waiting():
    announce("waiting")
    while not Path(args["go"]).exists():
        time.sleep(0.01)
    return io.BytesIO(blob)

if args["mode"] == "stall":
    snap.unpack(diff_id, lambda: io.BufferedReader(Stalling()), args["media_type"])
elif args["mode"] == "race":
    snap.unpack(diff_id, waiting, args["media_type"])
elif args["mode"] == "hold":
    snap.unpack(diff_id, lambda: io.BytesIO(blob), args["media_type"])
    with snap.mount([diff_id]) as active:
        (active.root / "written").write_bytes(b"w")
        announce(str(active.root))
        time.sleep(3600)
"""

ENTRIES = [
    LayerEntry(f"dir{i}/file{j}", data=os.urandom(2048)) for i in range(20) for j in range(20)
]


def _spawn(
    kind: str, root: Path, tmp: Path, mode: str, name: str
) -> tuple[subprocess.Popen[bytes], Path]:
    blob, diff_id, media_type = layer_bytes(ENTRIES)
    blob_path = tmp / "blob"
    if not blob_path.exists():
        blob_path.write_bytes(blob)
    ready = tmp / f"ready-{name}"
    args = {
        "kind": kind,
        "root": str(root),
        "blob": str(blob_path),
        "ready": str(ready),
        "go": str(tmp / "go"),
        "diff_id": str(diff_id),
        "media_type": media_type,
        "mode": mode,
    }
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)])
    return proc, ready


def _wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, f"child exited early with {proc.returncode}"
        assert time.monotonic() < deadline, f"child never wrote {path}"
        time.sleep(0.01)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _mounted_below(root: Path) -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        points = [line.split()[4] for line in info]
    return [point for point in points if point.startswith(str(root.resolve()) + "/")]


@pytest.fixture(params=["overlay", "copy"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_two_processes_unpack_the_same_layer_at_once(kind: str, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    procs = [_spawn(kind, root, tmp_path, "race", name) for name in ("a", "b")]
    for proc, ready in procs:
        _wait_for(ready, proc)
    (tmp_path / "go").touch()
    assert [proc.wait(timeout=120) for proc, _ in procs] == [0, 0]
    snap = make_snapshotter(kind, root)
    _, diff_id, _ = layer_bytes(ENTRIES)
    assert snap.has(diff_id)
    assert [u.diff_id for u in snap.usage()] == [diff_id]
    assert list((root / "tmp").iterdir()) == []
    with snap.mount([diff_id], writable=False) as view:
        got = tree(view.root)
    assert got["dir3/file4"][4] == ENTRIES[3 * 20 + 4].data


def test_sigkill_mid_unpack_leaves_nothing_has_reports(kind: str, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    proc, ready = _spawn(kind, root, tmp_path, "stall", "a")
    _wait_for(ready, proc)
    _kill(proc)
    snap = make_snapshotter(kind, root)
    blob, diff_id, media_type = layer_bytes(ENTRIES)
    assert not snap.has(diff_id)
    leftovers = list((root / "tmp").iterdir())
    assert leftovers, "the killed unpack should have left its temporary folder"
    cleaned = snap.recover()
    assert len(cleaned) == 1 and cleaned[0].startswith("tmp/")
    assert list((root / "tmp").iterdir()) == []
    assert snap.recover() == []
    snap.unpack(diff_id, lambda: io.BytesIO(blob), media_type)
    assert snap.has(diff_id)


def test_sigkill_mid_mount_then_recover_unmounts_and_cleans(kind: str, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    live, live_ready = _spawn(kind, root, tmp_path, "hold", "live")
    dead, dead_ready = _spawn(kind, root, tmp_path, "hold", "dead")
    try:
        _wait_for(live_ready, live)
        _wait_for(dead_ready, dead)
        _kill(dead)
        dead_root = Path(dead_ready.read_text())
        live_root = Path(live_ready.read_text())
        if kind == "overlay":
            assert str(dead_root) in _mounted_below(root)
        snap: Snapshotter = make_snapshotter(kind, root)
        cleaned = snap.recover()
        assert cleaned == [str(dead_root.parent.relative_to(root))]
        assert not dead_root.parent.exists()
        assert str(dead_root) not in _mounted_below(root)
        # The live process keeps its snapshot.
        assert (live_root / "written").read_bytes() == b"w"
        assert snap.recover() == []
    except BaseException:
        for proc in (live, dead):
            if proc.poll() is None:
                _kill(proc)
        make_snapshotter(kind, root).recover()  # leave no mount behind a failed test
        raise
    _kill(live)
    assert snap.recover() == [str(live_root.parent.relative_to(root))]
    assert _mounted_below(root) == []
    assert list((root / "active").iterdir()) == []
    _, diff_id, _ = layer_bytes(ENTRIES)
    assert snap.has(diff_id)


def test_recover_removes_orphan_directories(snap: Snapshotter) -> None:
    orphan = snap.root / "active" / "deadbeef"
    (orphan / "merged").mkdir(parents=True)
    (orphan / "merged" / "f").write_bytes(b"x")
    assert snap.recover() == ["active/deadbeef"]
    assert not orphan.exists()
    assert not snap.has(Digest.of(b"x"))
