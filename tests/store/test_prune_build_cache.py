"""prune and the build cache: records keep their layers; --keep-storage trims oldest first."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest
from dockwright.snapshot import open_snapshotter
from dockwright.solve.cache_prune import BuildCacheTrimmer
from dockwright.solve.commit import CACHE_NAMESPACE, StepLayer, cached, remember
from dockwright.store import Store
from dockwright.store.testing import add_image, add_layer


def _record(store: Store, key: str, files: dict[str, bytes], age: float) -> StepLayer:
    """A build cache record (and its uncompressed layer) last used ``age`` seconds ago."""
    desc, diff_id = add_layer(store, files, compress=False)
    step = StepLayer(desc, diff_id, "2026-01-01T00:00:00Z")
    remember(store, key, step)
    _age(store, key, age)
    return step


def _age(store: Store, key: str, age: float) -> None:
    when = time.time() - age
    path = store._cache_path(CACHE_NAMESPACE, key)
    os.utime(path, (when, when))


def _digest(step: StepLayer) -> Digest:
    assert step.layer is not None
    return step.layer.digest


def test_plain_prune_keeps_build_cache_layers_and_drops_dead_records(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    step = _record(store, "k-live", {"a": b"a" * 100}, age=10)
    dead = _record(store, "k-dead", {"b": b"b"}, age=10)
    # The old behaviour (no hook) is unchanged: untagged layers go.
    assert Store.open(tmp_path / "s").prune(keep=None).removed != ()
    assert not store.has(_digest(step))
    step = _record(store, "k-live", {"a": b"a" * 100}, age=10)
    stray = store.put_bytes(b"garbage")

    trimmer = BuildCacheTrimmer(store, keep_storage=None)
    report = store.prune(keep=trimmer)

    assert report.removed == (stray,) and report.kept == 1
    assert cached(store, "k-live") == step
    # k-dead's layer was removed by the first prune: its record is deleted too.
    assert store.cache_get(CACHE_NAMESPACE, "k-dead") is None
    assert trimmer.report.records_removed == 1
    del dead


def test_keep_storage_removes_least_recently_used_layers_first(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    old = _record(store, "k-old", {"old": b"o" * 3000}, age=3000)
    mid = _record(store, "k-mid", {"mid": b"m" * 3000}, age=2000)
    new = _record(store, "k-new", {"new": b"n" * 3000}, age=1000)
    # A second record naming the old layer, used recently, keeps it alive as a whole.
    remember(store, "k-old-again", old)
    _age(store, "k-old-again", 10)
    tagged_layer = add_image(store, layers=({"base": b"x" * 5000},), compress=False)
    store.tag("base:1", tagged_layer)
    tagged_step = StepLayer(
        store.children(tagged_layer)[1], store.children(tagged_layer)[1].digest, "t"
    )
    remember(store, "k-tagged", tagged_step)
    _age(store, "k-tagged", 99999)
    nothing = StepLayer(None, None, "t")
    remember(store, "k-nothing", nothing)
    sizes = {key: store.size(_digest(s)) for key, s in (("old", old), ("mid", mid), ("new", new))}

    trimmer = BuildCacheTrimmer(store, keep_storage=sizes["old"] + sizes["new"])
    report = store.prune(keep=trimmer)

    assert report.removed == (_digest(mid),)
    assert report.freed_bytes == sizes["mid"]
    assert cached(store, "k-mid") is None
    assert cached(store, "k-old") == old and cached(store, "k-new") == new
    # A layer a tag needs costs the cache nothing: it is neither counted nor trimmed.
    assert cached(store, "k-tagged") == tagged_step
    assert cached(store, "k-nothing") == nothing
    assert trimmer.report.usage_before == sum(sizes.values())
    assert trimmer.report.usage_after == sizes["old"] + sizes["new"]
    assert store.verify() == []

    everything = BuildCacheTrimmer(store, keep_storage=0)
    store.prune(keep=everything)
    assert not store.has(_digest(old)) and not store.has(_digest(new))
    assert cached(store, "k-nothing") is None
    assert cached(store, "k-tagged") == tagged_step
    assert store.resolve("base:1").digest == tagged_layer.digest


def test_cache_touch_marks_a_record_as_recently_used(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    first = _record(store, "k1", {"one": b"1" * 2000}, age=500)
    second = _record(store, "k2", {"two": b"2" * 2000}, age=100)
    before = {i.key: i.last_used for i in store.cache_items(CACHE_NAMESPACE)}
    # Listing the records (as prune does) is not a use.
    assert {i.key: i.last_used for i in store.cache_items(CACHE_NAMESPACE)} == before
    store.cache_touch(CACHE_NAMESPACE, "k1")

    store.prune(keep=BuildCacheTrimmer(store, keep_storage=store.size(_digest(first))))

    assert cached(store, "k1") == first
    assert cached(store, "k2") is None and not store.has(_digest(second))


def test_keep_storage_counts_and_trims_cache_mounts_and_unpacked_layers(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    mounts = store.root / "cache-mounts"
    for name, age in (("aaaa", 4000), ("bbbb", 10)):
        data = mounts / name / "data"
        data.mkdir(parents=True)
        (data / "blob").write_bytes(os.urandom(64 * 1024))
        (mounts / name / "lock").touch()
        when = time.time() - age
        for path in (data, mounts / name):
            os.utime(path, (when, when))
    (mounts / ".deleting-cccc").mkdir()  # left by a prune killed mid-delete
    snapshotter = open_snapshotter(store.root / "snapshots")
    layer, diff_id = add_layer(store, {"unpacked": b"u" * 50_000}, compress=False)
    snapshotter.unpack(diff_id, functools.partial(store.open_blob, layer.digest), mt.OCI_LAYER)
    snap_used = snapshotter.usage()[0]
    (used,) = (store.root / "snapshots").glob(f"*/{diff_id.hex}/used")
    os.utime(used, (1, 1))
    step = _record(store, "k", {"recent": b"r" * 10}, age=1)

    trimmer = BuildCacheTrimmer(store, keep_storage=100 * 1024, snapshotter=snapshotter)
    store.prune(keep=trimmer)

    report = trimmer.report
    assert [(u.kind, u.name) for u in report.removed] == [
        ("snapshot", str(diff_id)),
        ("cache-mount", "aaaa"),
    ]
    assert report.snapshots_removed == 1 and report.cache_mounts_removed == 1
    assert report.freed_bytes >= 64 * 1024 + snap_used.size
    assert sorted(os.listdir(mounts)) == ["bbbb"]
    assert not snapshotter.has(diff_id)
    assert cached(store, "k") == step
