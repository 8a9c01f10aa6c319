from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from dockwright.errors import CorruptBlobError, NotFoundError, StoreError
from dockwright.image.digest import Digest
from dockwright.store import DigestMismatchError, Store, _fs, default_root
from store.storekit import make_store, readonly_dir, remove, run_unprivileged


def temp_files(store: Store) -> list[Path]:
    return sorted((store.root / "dockwright" / "tmp").iterdir())


def test_open_creates_an_oci_layout(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "new" / "store")
    assert (store.root / "oci-layout").read_text() == '{"imageLayoutVersion":"1.0.0"}'
    assert (store.root / "index.json").is_file()
    assert (store.root / "blobs" / "sha256").is_dir()
    assert store.tags() == []
    assert store.verify() == []
    # Opening again keeps what is there.
    digest = store.put_bytes(b"x")
    assert Store.open(store.root).has(digest)


def test_default_root_honours_dockwright_home(tmp_path: Path) -> None:
    assert default_root({"DOCKWRIGHT_HOME": str(tmp_path / "h")}) == tmp_path / "h"
    assert default_root({}).name == "dockwright"


def test_open_without_root_uses_dockwright_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKWRIGHT_HOME", str(tmp_path / "home"))
    assert Store.open().root == tmp_path / "home"


def test_put_and_read_round_trip(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data = b"hello blob\n"
    digest = store.put_bytes(data)
    assert digest == Digest.of(data)
    assert store.has(digest)
    assert store.size(digest) == len(data)
    assert store.read(digest) == data
    with store.open_blob(digest) as stream:
        assert stream.read() == data
    assert store.blob_path(digest) == store.root / "blobs" / "sha256" / digest.hex
    assert store.put_bytes(data, Digest.of(data)) == digest
    assert temp_files(store) == []


def test_put_bytes_with_wrong_expected_digest_stores_nothing(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with pytest.raises(DigestMismatchError) as info:
        store.put_bytes(b"abc", Digest.of(b"abd"))
    assert isinstance(info.value, CorruptBlobError)
    assert not store.has(Digest.of(b"abc"))
    assert temp_files(store) == []


def test_sha512_blobs(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    import hashlib

    data = b"long digest"
    expected = Digest("sha512", hashlib.sha512(data).hexdigest())
    assert store.put_bytes(data, expected) == expected
    assert store.read(expected) == data
    assert store.verify() == []


def test_missing_blob_errors(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    absent = Digest.of(b"nope")
    assert not store.has(absent)
    for call in (store.read, store.open_blob, store.size):
        with pytest.raises(NotFoundError) as info:
            call(absent)
        assert str(absent) in str(info.value)
        assert str(store.root) in str(info.value)


def test_ingest_hashes_while_writing(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.ingest() as writer:
        assert writer.write(b"abc") == 3
        writer.write(b"def")
        digest, size = writer.commit()
    assert (digest, size) == (Digest.of(b"abcdef"), 6)
    assert store.read(digest) == b"abcdef"
    assert temp_files(store) == []


def test_ingest_through_fileobj_with_tarfile_and_gzip(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.ingest() as writer:
        with (
            gzip.GzipFile(fileobj=writer.fileobj, mode="wb", mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w") as tar,
        ):
            info = tarfile.TarInfo("a.txt")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
        digest, size = writer.commit()
    data = store.read(digest)
    assert len(data) == size
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        assert tar.getnames() == ["a.txt"]


def test_ingest_mixing_write_and_fileobj(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.ingest() as writer:
        writer.write(b"head-")
        writer.fileobj.write(b"tail")
        digest, size = writer.commit()
    assert digest == Digest.of(b"head-tail")
    assert size == 9


def test_ingest_without_commit_leaves_nothing(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.ingest() as writer:
        writer.write(b"abandoned")
        assert len(temp_files(store)) == 1
    assert temp_files(store) == []
    assert not store.has(Digest.of(b"abandoned"))

    with pytest.raises(RuntimeError), store.ingest() as writer:
        writer.write(b"failing")
        raise RuntimeError("boom")
    assert temp_files(store) == []


def test_ingest_commit_with_wrong_digest(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.ingest() as writer:
        writer.write(b"one")
        with pytest.raises(DigestMismatchError) as info:
            writer.commit(Digest.of(b"two"))
    assert "nothing was stored" in str(info.value)
    assert not store.has(Digest.of(b"one"))
    assert temp_files(store) == []


def test_ingest_of_existing_blob_keeps_the_stored_copy(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    digest = store.put_bytes(b"same")
    before = store.blob_path(digest).stat().st_ino
    with store.ingest() as writer:
        writer.write(b"same")
        assert writer.commit() == (digest, 4)
    assert store.blob_path(digest).stat().st_ino == before
    assert temp_files(store) == []


def test_put_file_streams_a_file(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    source = tmp_path / "big.bin"
    data = os.urandom(3 << 20)
    source.write_bytes(data)
    digest = store.put_file(source)
    assert digest == Digest.of(data)
    assert store.read(digest) == data
    with pytest.raises(StoreError, match="cannot read"):
        store.put_file(tmp_path / "missing")
    with pytest.raises(DigestMismatchError):
        store.put_file(source, Digest.of(b"other"))


def test_corrupt_blob_is_detected(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    digest = store.put_bytes(b"good content")
    path = store.blob_path(digest)
    path.chmod(0o644)
    path.write_bytes(b"evil content")
    with pytest.raises(CorruptBlobError) as info:
        store.read(digest)
    assert str(path) in str(info.value)
    assert "dockwright prune --repair" in str(info.value)
    assert store.read(digest, verify=False) == b"evil content"
    problems = store.verify()
    assert len(problems) == 1 and str(path) in problems[0]


def test_stale_temp_files_are_cleaned_but_live_ones_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path / "s")
    tmpdir = store.root / "dockwright" / "tmp"
    stale = tmpdir / "tmp-999-dead.blob"
    stale.write_bytes(b"left by a killed writer")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh_dead = tmpdir / "tmp-999-fresh.blob"
    fresh_dead.write_bytes(b"just created, maybe not locked yet")
    with store.ingest() as live:
        live.write(b"in progress")
        live_path = next(p for p in tmpdir.iterdir() if p not in (stale, fresh_dead))
        os.utime(live_path, (old, old))
        Store.open(store.root)
        assert not stale.exists()
        assert fresh_dead.exists()  # within the grace period
        assert live_path.exists()  # its writer holds the lock
        digest, _ = live.commit()
    assert store.read(digest) == b"in progress"
    monkeypatch.setattr(_fs, "TEMP_GRACE_SECONDS", 0.0)
    Store.open(store.root)
    assert not fresh_dead.exists()


def test_open_refuses_unusable_roots(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(StoreError, match="not a directory") as info:
        Store.open(a_file)
    assert "DOCKWRIGHT_HOME" in str(info.value)
    with pytest.raises(StoreError, match="cannot use") as info:
        Store.open(a_file / "below")
    assert str(a_file / "below") in str(info.value)
    assert "DOCKWRIGHT_HOME" in str(info.value)
    busy = tmp_path / "someone-elses"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not an OCI image layout"):
        Store.open(busy)


def test_open_refuses_read_only_root() -> None:
    parent = readonly_dir()
    try:
        message = run_unprivileged(Store.open, parent / "store")
    finally:
        remove(parent)
    assert message.startswith("StoreError: cannot use"), message
    assert str(parent / "store") in message
    assert "DOCKWRIGHT_HOME" in message


def test_bad_oci_layout_file(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    (store.root / "oci-layout").write_text("garbage")
    with pytest.raises(StoreError, match="oci-layout"):
        Store.open(store.root)


def test_blob_writer_is_a_binary_file(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.ingest() as writer:
        out: BinaryIO = writer
        with tarfile.open(fileobj=out, mode="w") as tar:
            info = tarfile.TarInfo("b.txt")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
        out.write(memoryview(b"trailer"))
        assert not writer.closed and writer.writable() and not writer.readable()
        with pytest.raises(io.UnsupportedOperation):
            out.read()
        digest, size = writer.commit()
    data = store.read(digest)
    assert size == len(data) and data.endswith(b"trailer")
    assert writer.closed


def _read_blob(root: Path, digest: Digest) -> None:
    # Store() without open(): reading needs no write access.
    Store(root).read(digest)


def test_unreadable_blob_is_a_store_error() -> None:
    parent = Path(tempfile.mkdtemp(prefix="dw-unreadable-"))
    try:
        parent.chmod(0o755)
        store = Store.open(parent / "store")
        digest = store.put_bytes(b"secret")
        store.blob_path(digest).chmod(0o000)
        message = run_unprivileged(_read_blob, store.root, digest)
    finally:
        shutil.rmtree(parent)
    assert message.startswith("StoreError: cannot read blob"), message
    assert "DOCKWRIGHT_HOME" in message
