"""The deterministic layer writer: bytes, digests, headers, ordering, streaming."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
import tarfile
import tracemalloc
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from dockwright.errors import DockwrightError, ImageFormatError, UsageError
from dockwright.image import mediatypes as mt
from dockwright.image.layer import (
    LayerEntry,
    LayerInfo,
    normalize_path,
    sort_key,
    source_date_epoch,
    write_layer,
)


def _write(entries: list[LayerEntry], **kwargs: object) -> tuple[bytes, LayerInfo]:
    out = io.BytesIO()
    info = write_layer(entries, out, **kwargs)  # type: ignore[arg-type]
    return out.getvalue(), info


def _members(tar_bytes: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return tar.getmembers()


def _make_tree(root: Path, mtime: int, file_mode: int) -> list[LayerEntry]:
    root.mkdir(parents=True)
    (root / "app").write_bytes(b"\x7fELF" + bytes(range(256)) * 4000)
    (root / "config.json").write_bytes(b'{"debug": false}\n')
    for name in ("app", "config.json"):
        os.chmod(root / name, file_mode)
        os.utime(root / name, (mtime, mtime))
    return [
        LayerEntry("usr/local/bin/app", mode=0o755, source=root / "app"),
        LayerEntry("etc/app/config.json", source=root / "config.json"),
        LayerEntry("etc/app", "dir", 0o755),
        LayerEntry("usr/bin/app", "symlink", 0o777, linkname="../local/bin/app"),
        LayerEntry("usr/local/bin/app2", "hardlink", linkname="usr/local/bin/app"),
    ]


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_output_does_not_depend_on_the_host(tmp_path: Path, compression: str) -> None:
    first = _write(_make_tree(tmp_path / "one", 1_000_000, 0o600), compression=compression)
    old_cwd, old_umask = Path.cwd(), os.umask(0o002)
    os.chdir(tmp_path)
    try:
        second = _write(_make_tree(tmp_path / "two", 1_700_000_000, 0o777), compression=compression)
    finally:
        os.chdir(old_cwd)
        os.umask(old_umask)
    assert first == second


def test_relative_sources_under_different_cwd_and_umask(tmp_path: Path) -> None:
    results = []
    old_cwd = Path.cwd()
    for name, umask in (("one", 0o077), ("two", 0o000)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "rel.bin").write_bytes(b"same content")
        old_umask = os.umask(umask)
        os.chdir(tmp_path / name)
        try:
            results.append(_write([LayerEntry("x", source=Path("rel.bin"))]))
        finally:
            os.chdir(old_cwd)
            os.umask(old_umask)
    assert results[0] == results[1]


def test_digests_and_sizes_describe_the_output(tmp_path: Path) -> None:
    entries = _make_tree(tmp_path / "t", 0, 0o644)
    data, info = _write(entries)
    tar_bytes = gzip.decompress(data)
    assert info.digest.hex == hashlib.sha256(data).hexdigest()
    assert info.diff_id.hex == hashlib.sha256(tar_bytes).hexdigest()
    assert (info.size, info.uncompressed_size) == (len(data), len(tar_bytes))
    assert info.media_type == mt.OCI_LAYER_GZIP


def test_gzip_header_names_no_file_and_no_time() -> None:
    data, _ = _write([LayerEntry("a", data=b"a")])
    assert data[:4] == b"\x1f\x8b\x08\x00"  # magic, deflate, no FNAME/FEXTRA/FCOMMENT flags
    assert data[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert data[9] == 255  # OS "unknown", the same on every host
    fast, _ = _write([LayerEntry("a", data=b"a")], level=1)
    assert fast[8] == 4 and data[8] == 0


def test_every_header_carries_only_the_given_metadata() -> None:
    data, _ = _write(
        [
            LayerEntry("a/f", data=b"x", mode=0o4755, uid=1000, gid=1001, uname="app", gname="g"),
            LayerEntry("a/d", "dir", 0o700),
        ],
        compression="none",
        mtime=1_234_567_890,
    )
    members = {m.name: m for m in _members(data)}
    assert list(members) == ["a", "a/d", "a/f"]
    f = members["a/f"]
    assert (f.mode, f.uid, f.gid, f.uname, f.gname, f.mtime) == (
        0o4755,
        1000,
        1001,
        "app",
        "g",
        1_234_567_890,
    )
    assert (members["a"].uid, members["a"].mode, members["a"].mtime) == (0, 0o755, 1_234_567_890)
    # Directory names end in "/" in the raw header, as Docker and BuildKit write them.
    assert data[:512].startswith(b"a/\0")
    assert b"mtime=" not in data and b"atime=" not in data and b"ctime=" not in data
    assert data.endswith(bytes(1024))


def test_pax_headers_only_when_needed_and_without_times() -> None:
    long_dir = "d" * 150
    long_file = long_dir + "/" + "f" * 254
    entries = [
        LayerEntry(long_file, data=b"long", uid=3_000_000, uname="u" * 40),
        LayerEntry("ünïcode", data=b"u"),
        LayerEntry("link", "symlink", linkname="/" + "t" * 300),
        LayerEntry("short", data=b"s"),
    ]
    data, _ = _write(entries, compression="none", mtime=8**11 + 5)
    members = {m.name: m for m in _members(data)}
    assert set(members) == {long_dir, long_file, "ünïcode", "link", "short"}
    long_member = members[long_file]
    assert (long_member.uid, long_member.uname) == (3_000_000, "u" * 40)
    assert members["link"].linkname == "/" + "t" * 300
    assert members["short"].mtime == 8**11 + 5
    assert b"atime=" not in data and b"ctime=" not in data


def test_pax_records_stay_off_simple_entries() -> None:
    data, _ = _write([LayerEntry("short", data=b"s")], compression="none")
    assert all(not m.pax_headers for m in _members(data))
    assert b"PaxHeader" not in data


def test_parents_are_added_and_entries_sorted() -> None:
    entries = [
        LayerEntry("a-b", data=b"1"),
        LayerEntry("a/b/c", data=b"2"),
        LayerEntry("ab", data=b"3"),
        LayerEntry("/a/", "dir", 0o700),
    ]
    data, _ = _write(entries, compression="none", parent_mode=0o711)
    members = _members(data)
    assert [m.name for m in members] == ["a", "a/b", "a/b/c", "a-b", "ab"]
    assert [oct(m.mode) for m in members[:2]] == ["0o700", "0o711"]
    bare, _ = _write(entries, compression="none", add_parents=False)
    assert [m.name for m in _members(bare)] == ["a", "a/b/c", "a-b", "ab"]


def test_sort_key_orders_a_directory_before_its_contents() -> None:
    paths = ["a-b", "a/b", "a", "a/b/c", "ab", "a.b", "a/a"]
    assert sorted(paths, key=sort_key) == ["a", "a/a", "a/b", "a/b/c", "a-b", "a.b", "ab"]


def test_paths_are_normalised() -> None:
    assert LayerEntry("/usr//local/./bin/").path == "usr/local/bin"
    assert normalize_path("./") == ""
    with pytest.raises(ImageFormatError):
        LayerEntry("a/../b")
    with pytest.raises(ImageFormatError):
        LayerEntry("/")
    with pytest.raises(ImageFormatError):
        LayerEntry("x", "hardlink", linkname="../etc/passwd")


@pytest.mark.parametrize(
    "entry_args",
    [
        {"kind": "sock"},
        {"mode": 0o10000},
        {"uid": -1},
        {"kind": "dir", "data": b"x"},
        {"data": b"x", "source": Path("/bin/sh")},
        {"kind": "symlink"},
        {"kind": "file", "linkname": "x"},
    ],
)
def test_invalid_entries(entry_args: dict[str, object]) -> None:
    with pytest.raises(ImageFormatError):
        LayerEntry("p", **entry_args)  # type: ignore[arg-type]


def test_duplicates_are_rejected() -> None:
    with pytest.raises(ImageFormatError, match="duplicate"):
        _write([LayerEntry("a", "dir", 0o755), LayerEntry("/a/", "dir", 0o755)])


def test_file_where_a_parent_directory_is_needed() -> None:
    with pytest.raises(ImageFormatError, match="directory"):
        _write([LayerEntry("a", data=b""), LayerEntry("a/b", data=b"")])


def test_hardlink_content_goes_to_the_first_path() -> None:
    data, _ = _write(
        [LayerEntry("z/target", data=b"T"), LayerEntry("a/link", "hardlink", linkname="z/target")],
        compression="none",
    )
    members = {m.name: m for m in _members(data)}
    assert members["a/link"].isreg() and members["a/link"].size == 1
    assert members["z/target"].islnk() and members["z/target"].linkname == "a/link"


@pytest.mark.parametrize(
    "entries",
    [
        [LayerEntry("l", "hardlink", linkname="missing")],
        [LayerEntry("d", "dir", 0o755), LayerEntry("l", "hardlink", linkname="d")],
        [LayerEntry("l1", "hardlink", linkname="l2"), LayerEntry("l2", "hardlink", linkname="l1")],
    ],
    ids=["missing", "directory", "cycle"],
)
def test_bad_hardlinks(entries: list[LayerEntry]) -> None:
    with pytest.raises(ImageFormatError):
        _write(entries)


def test_zstd_and_none_variants() -> None:
    import zstandard

    entries = [LayerEntry("a", data=b"A" * 10_000)]
    plain, plain_info = _write(entries, compression="none")
    zst, zst_info = _write(entries, compression="zstd")
    assert plain_info.media_type == mt.OCI_LAYER
    assert zst_info.media_type == mt.OCI_LAYER_ZSTD
    assert plain_info.digest == plain_info.diff_id == zst_info.diff_id
    assert plain_info.size == plain_info.uncompressed_size == len(plain)
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(zst))
    assert reader.read() == plain
    assert zst_info.digest.hex == hashlib.sha256(zst).hexdigest()
    assert _write(entries, compression="zstd", level=19)[0] != zst


def test_missing_zstandard_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(DockwrightError, match=r"dockwright\[zstd\]"):
        _write([LayerEntry("a")], compression="zstd")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"compression": "bzip2"}, UsageError),
        ({"level": 10}, UsageError),
        ({"compression": "zstd", "level": 23}, UsageError),
        ({"compression": "none", "level": 1}, UsageError),
        ({"mtime": -1}, UsageError),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        _write([LayerEntry("a")], **kwargs)


def test_source_date_epoch() -> None:
    assert source_date_epoch({}) == 0
    assert source_date_epoch({"SOURCE_DATE_EPOCH": ""}) == 0
    assert source_date_epoch({"SOURCE_DATE_EPOCH": "1700000000"}) == 1_700_000_000
    for bad in ("abc", "-1", "1.5", "1e9"):
        with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
            source_date_epoch({"SOURCE_DATE_EPOCH": bad})


def test_source_date_epoch_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "42")
    assert source_date_epoch() == 42


def test_source_must_be_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to("/etc/hostname")
    for path in (tmp_path, fifo, link, tmp_path / "missing"):
        with pytest.raises(ImageFormatError, match=str(path)):
            _write([LayerEntry("a", source=path)])


def test_source_that_grows_while_read_is_rejected() -> None:
    # /proc files report size 0 but have content: the same as a file that grew.
    with pytest.raises(ImageFormatError, match="grew"):
        _write([LayerEntry("a", source=Path("/proc/self/status"))])


class _TruncatingSink(io.RawIOBase):
    """An output that truncates ``victim`` once the first megabyte has gone through."""

    def __init__(self, victim: Path) -> None:
        self.victim = victim
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        size = len(memoryview(data))  # type: ignore[arg-type]
        self.written += size
        if self.written > 1 << 20:
            os.truncate(self.victim, 10)
        return size


def test_source_that_shrinks_while_read_is_rejected(tmp_path: Path) -> None:
    source = tmp_path / "big"
    source.write_bytes(os.urandom(5 << 20))
    with pytest.raises(ImageFormatError, match="shrank"):
        write_layer(
            [LayerEntry("big", source=source)],
            cast(BinaryIO, _TruncatingSink(source)),
            compression="none",
        )


class _HashSink(io.RawIOBase):
    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        view = memoryview(data)  # type: ignore[arg-type]
        self.hasher.update(view)
        self.size += len(view)
        return len(view)


def test_big_sparse_source_streams_in_little_memory(tmp_path: Path) -> None:
    source = tmp_path / "sparse"
    with source.open("wb") as f:
        f.truncate(200 * 1024 * 1024)
    sink = _HashSink()
    tracemalloc.start()
    try:
        info = write_layer(
            [LayerEntry("sparse", source=source)], cast(BinaryIO, sink), compression="gzip", level=1
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024
    assert info.uncompressed_size == 200 * 1024 * 1024 + 512 + 1024
    assert (info.size, info.digest.hex) == (sink.size, sink.hasher.hexdigest())


def test_short_writes_are_completed() -> None:
    class Dribble(io.RawIOBase):
        def __init__(self) -> None:
            self.buf = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            view = memoryview(data)  # type: ignore[arg-type]
            self.buf += view[:7]
            return min(7, len(view))

    sink = Dribble()
    info = write_layer([LayerEntry("a", data=b"A" * 5000)], cast(BinaryIO, sink))
    assert len(sink.buf) == info.size
    assert hashlib.sha256(sink.buf).hexdigest() == info.digest.hex
