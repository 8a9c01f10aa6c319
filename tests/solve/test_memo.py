"""solve.memo reads the store's files without the store's code (the no-change fast path
imports only the standard library): these tests pin its copy of the layout to the store's."""

from __future__ import annotations

from pathlib import Path

from dockwright.solve import memo
from dockwright.store import Store
from support.images import store_rootfs_image


def _signature(folder: Path) -> str:
    signature = memo.tree_signature([folder])
    assert signature is not None
    return signature


def test_memo_finds_the_records_the_store_writes(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (rootfs / "hello").write_text("hi")
    image = store_rootfs_image(tmp_path / "s", rootfs, "example.com/app:1")
    store = Store.open(tmp_path / "s")
    blob = image.digest
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "f").write_text("x")
    tags = memo.read_tags(store.root)
    assert tags == {"example.com/app:1": str(blob)}

    def record(step: str) -> None:
        memo.remember(
            store.cache_put,
            "key-1",
            context=_signature(context),
            bases=tags,
            blobs=[str(blob)],
            root={"digest": str(blob)},
            steps=[step],
        )

    record("RUN x")
    assert memo._cache_path(store.root, "key-1") == store._cache_path(memo.NAMESPACE, "key-1")
    found = memo.lookup(store.root, "key-1", [context])
    assert found is not None and found["steps"] == ["RUN x"]
    # Each recorded input is checked: the context, the base tags and the blobs.
    (context / "f").write_text("y")
    assert memo.lookup(store.root, "key-1", [context]) is None
    assert memo.lookup(store.root, "other-key", [context]) is None
    record("RUN y")
    assert memo.lookup(store.root, "key-1", [context]) is not None
    (rootfs / "hello").write_text("changed")
    store_rootfs_image(tmp_path / "s", rootfs, "example.com/app:1")
    assert memo.lookup(store.root, "key-1", [context]) is None
