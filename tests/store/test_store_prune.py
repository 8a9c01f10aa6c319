from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from dockwright.errors import StoreError
from dockwright.image.digest import Digest
from dockwright.image.platform import Platform
from dockwright.store import Store
from dockwright.store.testing import add_image, add_index
from store.storekit import make_store


def blob_count(store: Store) -> int:
    return len(list((store.root / "blobs" / "sha256").iterdir()))


def test_prune_keeps_tagged_closures_and_drops_the_rest(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    kept_index = add_index(store, (Platform("linux", "amd64"), Platform("linux", "arm64")))
    kept_image = add_image(store, layers=({"shared": b"same"}, {"own": b"kept"}))
    dropped = add_image(store, layers=({"shared": b"same"}, {"own": b"dropped"}))
    stray = store.put_bytes(b"stray blob")
    store.tag("multi:1", kept_index)
    store.tag("single:1", kept_image)
    store.tag("gone:1", dropped)
    store.untag("gone:1")
    keep = {d.digest for d in store.walk(kept_index) + store.walk(kept_image)}
    drop_closure = {d.digest for d in store.walk(dropped)}
    before = blob_count(store)

    report = store.prune()

    expected_removed = (drop_closure - keep) | {stray}
    assert set(report.removed) == expected_removed
    assert report.corrupt == () and report.untagged == ()
    assert report.freed_bytes > 0
    assert blob_count(store) == before - len(expected_removed)
    assert all(store.has(d) for d in keep)
    assert store.verify() == []
    assert store.prune().removed == ()


def test_prune_removes_stale_temp_files(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    stale = store.root / "dockwright" / "tmp" / "tmp-1-dead"
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))
    store.prune()
    assert not stale.exists()


def _hold_session(root: str, ready: multiprocessing.synchronize.Event, seconds: float) -> None:
    store = Store.open(Path(root))
    with store.session():
        # An untagged blob written during the build must survive a concurrent prune.
        store.put_bytes(b"written by the build, not yet tagged")
        ready.set()
        time.sleep(seconds)


def test_prune_waits_for_a_session_in_another_process(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    builder = ctx.Process(target=_hold_session, args=(str(store.root), ready, 1.5))
    builder.start()
    try:
        assert ready.wait(30), "the session process did not start"
        started = time.monotonic()
        report = store.prune()
        waited = time.monotonic() - started
    finally:
        builder.join(30)
    assert waited > 0.5, f"prune returned after {waited:.2f}s, while a session was open"
    assert report.removed == (Digest.of(b"written by the build, not yet tagged"),)


def test_prune_waits_for_a_session_in_another_thread(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    events: list[str] = []
    entered = threading.Event()

    def build() -> None:
        with store.session():
            entered.set()
            time.sleep(0.5)
            events.append("session over")

    thread = threading.Thread(target=build)
    thread.start()
    entered.wait(10)
    store.prune()
    events.append("pruned")
    thread.join()
    assert events == ["session over", "pruned"]


def test_prune_inside_own_session_is_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.session(), pytest.raises(StoreError, match="wait for itself"):
        store.prune()
    store.prune()


def test_repair_drops_corrupt_blobs_and_broken_tags(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    healthy = add_image(store, layers=({"a": b"healthy"},))
    damaged = add_image(store, layers=({"a": b"damaged"},))
    store.tag("healthy:1", healthy)
    store.tag("damaged:1", damaged)
    _, config, layer = store.walk(damaged)
    path = store.blob_path(layer.digest)
    path.write_bytes(b"bit rot")
    problems = store.verify()
    assert len(problems) == 1 and "corrupt blob" in problems[0]
    assert "dockwright prune --repair" in problems[0]

    report = store.prune(repair=True)

    assert report.corrupt == (layer.digest,)
    assert report.untagged == ("damaged:1",)
    # Once untagged, the rest of the damaged image is garbage too.
    assert set(report.removed) == {damaged.digest, config.digest}
    assert [name for name, _ in store.tags()] == ["healthy:1"]
    assert store.verify() == []
    assert not path.exists()


def test_repair_untags_images_with_missing_blobs(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    image = add_image(store)
    store.tag("hello:1", image)
    store.blob_path(store.walk(image)[1].digest).unlink()  # the config
    problems = store.verify()
    assert len(problems) == 1 and "hello:1 lacks" in problems[0]
    report = store.prune(repair=True)
    assert report.untagged == ("hello:1",)
    assert store.tags() == [] and store.verify() == []


def test_plain_prune_refuses_when_a_tagged_manifest_is_corrupt(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    image = add_image(store)
    store.tag("hello:1", image)
    store.blob_path(image.digest).write_bytes(b"{}")
    with pytest.raises(StoreError) as info:
        store.prune()
    assert "--repair" in str(info.value)
    assert blob_count(store) == 3  # nothing was deleted on a guess
