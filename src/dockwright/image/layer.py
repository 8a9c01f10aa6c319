"""Deterministic layer tars: the same entries always give the same bytes and digests.

:func:`write_layer` turns :class:`LayerEntry` values into a (compressed) layer tar and hashes
it on the way out, so the caller gets the blob ``digest`` and the uncompressed ``diff_id``
from one pass, without the layer ever being held in memory or read back.

What the bytes depend on: the entries (path, kind, mode, owner, content, link target), the
compression and its level, and ``mtime``. Nothing of the host leaks in: every header's mtime
is the ``mtime`` argument, owners are the entries' numbers and names (never looked up), modes
are the entries' bits (never the umask), and the order is fixed by sorting.

The tar format is written here rather than by :mod:`tarfile`, so the bytes do not change with
the Python version:

- USTAR headers (magic ``ustar\\0``, version ``00``), as Go's ``archive/tar`` writes them for
  BuildKit and containerd; numeric fields are zero-padded octal ending in NUL.
- A PAX extended header (``././@PaxHeader``, records sorted by key) only when a field does
  not fit USTAR: a path or link target over 100 bytes or not ASCII, a user or group name of
  32 bytes or more or not ASCII, an id of 8**7 or more, a size or mtime of 8**11 or more.
  The PAX header never carries ``atime``/``ctime`` or a fractional ``mtime``.
- Directories are named with a trailing ``/``; the mode field holds permission bits plus
  setuid/setgid/sticky, without file-type bits (as containerd writes them).
- The archive ends with two zero blocks and no further record padding.

Order: entries are sorted by their path split into components, comparing components by code
point (the same as comparing their UTF-8 bytes). So a directory comes right before its
contents and a whole subtree stays together: ``a``, ``a/b``, ``a/b/c``, ``a-b``, ``ab``. This
is the order of a depth-first walk with sorted directory listings (Go's ``filepath.Walk``).

Hard links: a group of paths sharing one file is written with its content under the path
that sorts first and as hard links to that path under the others, whichever of them the
caller named as the target, because extractors need a link's target to come before it.

Compression: gzip is written with a fixed header (no file name, mtime 0, OS byte 255,
XFL from the level) around raw zlib deflate; zstd uses the optional ``zstandard`` package,
single-threaded, with a checksum and without the content size. Compressed bytes are only as
stable as the compression library: a different zlib (e.g. zlib-ng) or libzstd release may
compress differently, which changes ``digest`` but never ``diff_id``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from dockwright.errors import DockwrightError, ImageFormatError, UsageError
from dockwright.image import mediatypes as mt
from dockwright.image.digest import Digest

EntryKind = Literal["file", "dir", "symlink", "hardlink", "fifo", "chardev", "blockdev"]
Compression = Literal["gzip", "zstd", "none"]

CHUNK_SIZE = 1 << 20
"""Bytes read from a source file (or from a layer) at a time."""

DEFAULT_GZIP_LEVEL = 6
DEFAULT_ZSTD_LEVEL = 3

_BLOCK = 512
_KINDS = frozenset({"file", "dir", "symlink", "hardlink", "fifo", "chardev", "blockdev"})
_TYPEFLAGS: dict[str, bytes] = {
    "file": b"0",
    "hardlink": b"1",
    "symlink": b"2",
    "chardev": b"3",
    "blockdev": b"4",
    "dir": b"5",
    "fifo": b"6",
}
_MAX_DEV = 8**7
_MAX_ID = 8**7
_MAX_SIZE = 8**11
_EPOCH_RE = re.compile(r"[0-9]+")


def normalize_path(path: str) -> str:
    """``path`` as a layer member name: no leading ``/``, no empty or ``.`` parts.

    ``"/usr//local/./bin/"`` becomes ``"usr/local/bin"`` and the root becomes ``""``.
    A ``..`` part raises :class:`ImageFormatError`, since a layer member must never climb.
    """
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ImageFormatError(f"layer path {path!r} contains '..'")
    return "/".join(parts)


def sort_key(path: str) -> tuple[str, ...]:
    """The key :func:`write_layer` orders normalised member paths by (see the module notes)."""
    return tuple(path.split("/")) if path else ()


@dataclass(frozen=True, slots=True)
class LayerEntry:
    """One member of a layer: a file, directory, symbolic link or hard link.

    ``path`` is normalised on construction (``"/usr/bin/app"`` → ``"usr/bin/app"``).
    A ``file`` takes its content from ``source`` (streamed from disk; it must be a regular
    file itself, not a symlink to one) or ``data``, or is empty when both are ``None``.
    ``linkname`` is a symlink's target as written, or a hard link's target path inside the
    layer (normalised). ``mode`` holds permission bits and setuid/setgid/sticky; it
    defaults to ``0o644`` for every kind, so give directories ``0o755`` (and symlinks
    ``0o777``, as Docker records them) explicitly. ``mtime``, when given, is this member's
    modification time instead of :func:`write_layer`'s ``mtime`` argument. ``chardev`` and
    ``blockdev`` nodes carry ``devmajor``/``devminor``; a ``fifo`` carries neither.
    """

    path: str
    kind: EntryKind = "file"
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    uname: str = ""
    gname: str = ""
    source: Path | None = None
    data: bytes | None = None
    linkname: str = ""
    mtime: int | None = None
    devmajor: int = 0
    devminor: int = 0

    def __post_init__(self) -> None:
        path = normalize_path(self.path)
        if not path:
            raise ImageFormatError("a layer entry cannot be the root directory itself")
        object.__setattr__(self, "path", path)
        if self.kind not in _KINDS:
            raise ImageFormatError(f"layer entry {path!r} has unknown kind {self.kind!r}")
        if not 0 <= self.mode <= 0o7777:
            raise ImageFormatError(f"layer entry {path!r} has mode {self.mode:o} beyond 7777")
        if self.uid < 0 or self.gid < 0:
            raise ImageFormatError(f"layer entry {path!r} has a negative uid or gid")
        if self.kind != "file" and (self.source is not None or self.data is not None):
            raise ImageFormatError(f"layer entry {path!r}: only files carry content")
        if self.source is not None and self.data is not None:
            raise ImageFormatError(f"layer entry {path!r} has both source and data")
        if self.kind == "symlink" and not self.linkname:
            raise ImageFormatError(f"symlink {path!r} has no target")
        if self.kind == "hardlink":
            target = normalize_path(self.linkname)
            if not target:
                raise ImageFormatError(f"hard link {path!r} has no target")
            object.__setattr__(self, "linkname", target)
        elif self.kind not in ("symlink", "hardlink") and self.linkname:
            raise ImageFormatError(f"layer entry {path!r} is a {self.kind} with a linkname")
        if self.mtime is not None and self.mtime < 0:
            raise ImageFormatError(f"layer entry {path!r} has a negative mtime")
        if self.kind in ("chardev", "blockdev"):
            if not (0 <= self.devmajor < _MAX_DEV and 0 <= self.devminor < _MAX_DEV):
                raise ImageFormatError(f"device {path!r} has a device number out of range")
        elif self.devmajor or self.devminor:
            raise ImageFormatError(f"layer entry {path!r} is a {self.kind} with a device number")


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """What :func:`write_layer` wrote: digests and sizes of the blob and of the tar in it."""

    digest: Digest
    diff_id: Digest
    size: int
    uncompressed_size: int
    media_type: str


def source_date_epoch(environ: Mapping[str, str] | None = None) -> int:
    """``SOURCE_DATE_EPOCH`` from ``environ`` (default ``os.environ``); 0 when unset or empty.

    Raise :class:`UsageError` when it is set to anything but a non-negative whole number of
    seconds, as the reproducible-builds specification requires.
    """
    env = os.environ if environ is None else environ
    text = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return 0
    if not _EPOCH_RE.fullmatch(text):
        raise UsageError(
            f"SOURCE_DATE_EPOCH={text!r} is not a whole number of seconds since 1970",
            hint="set it to the output of 'date +%s' or a commit time, or unset it",
        )
    return int(text)


class _Compressor(Protocol):
    def compress(self, data: bytes | memoryview, /) -> bytes: ...

    def flush(self) -> bytes: ...


class _Identity:
    def compress(self, data: bytes | memoryview, /) -> bytes:
        return bytes(data)

    def flush(self) -> bytes:
        return b""


class _Gzip:
    """A gzip member (RFC 1952) whose header says nothing about the host or the time."""

    def __init__(self, level: int) -> None:
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8)
        self._crc = 0
        self._length = 0
        # XFL as RFC 1952 defines it (2 = best compression, 4 = fastest); OS 255 = unknown,
        # so a layer made on Linux and on macOS has the same bytes.
        xfl = 2 if level == 9 else 4 if level == 1 else 0
        self._header: bytes = b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([xfl, 255])

    def _take_header(self) -> bytes:
        header, self._header = self._header, b""
        return header

    def compress(self, data: bytes | memoryview, /) -> bytes:
        self._crc = zlib.crc32(data, self._crc)
        self._length += len(data)
        return self._take_header() + self._deflate.compress(data)

    def flush(self) -> bytes:
        trailer = struct.pack("<II", self._crc, self._length & 0xFFFFFFFF)
        return self._take_header() + self._deflate.flush() + trailer


class _Zstd:
    def __init__(self, level: int) -> None:
        try:
            import zstandard  # noqa: PLC0415 - optional extra, imported only when used
        except ImportError as exc:
            raise DockwrightError(
                "zstd compression needs the 'zstandard' package",
                hint="pip install dockwright[zstd]",
            ) from exc
        # Fixed parameters: one thread (multi-threaded frames differ), no content size (a
        # stream's size is not known up front anyway), a checksum for integrity.
        cctx = zstandard.ZstdCompressor(
            level=level, write_checksum=True, write_content_size=False, threads=0
        )
        self._obj = cctx.compressobj()

    def compress(self, data: bytes | memoryview, /) -> bytes:
        out: bytes = self._obj.compress(data)
        return out

    def flush(self) -> bytes:
        out: bytes = self._obj.flush()
        return out


def _compressor(compression: str, level: int | None) -> tuple[_Compressor, str]:
    if compression == "gzip":
        level = DEFAULT_GZIP_LEVEL if level is None else level
        if not 0 <= level <= 9:
            raise UsageError(f"gzip level must be 0 to 9, not {level}")
        return _Gzip(level), mt.OCI_LAYER_GZIP
    if compression == "zstd":
        level = DEFAULT_ZSTD_LEVEL if level is None else level
        if not 1 <= level <= 22:
            raise UsageError(f"zstd level must be 1 to 22, not {level}")
        return _Zstd(level), mt.OCI_LAYER_ZSTD
    if compression == "none":
        if level is not None:
            raise UsageError("a compression level needs gzip or zstd compression")
        return _Identity(), mt.OCI_LAYER
    raise UsageError(f"unknown layer compression {compression!r}: use gzip, zstd or none")


def _write_all(out: BinaryIO, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = out.write(view)
        # Raw (unbuffered) streams may accept less than they are given.
        if written is None or written >= len(view):
            return
        view = view[written:]


class _HashingSink:
    """Hashes the tar stream, compresses it, hashes and writes the compressed bytes."""

    def __init__(self, out: BinaryIO, compressor: _Compressor) -> None:
        self._out = out
        self._compressor = compressor
        # Uncompressed, the blob is the tar: one hash serves as digest and diff_id.
        self._plain = isinstance(compressor, _Identity)
        self._tar_hash: hashlib._Hash = hashlib.sha256()
        self._blob_hash: hashlib._Hash = self._tar_hash if self._plain else hashlib.sha256()
        self.uncompressed_size = 0
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self._tar_hash.update(data)
        self.uncompressed_size += len(data)
        if self._plain:
            self.size += len(data)
            _write_all(self._out, data)
        else:
            self._emit(self._compressor.compress(data))

    def finish(self) -> tuple[Digest, Digest]:
        self._emit(self._compressor.flush())
        return Digest.from_hasher(self._blob_hash), Digest.from_hasher(self._tar_hash)

    def _emit(self, chunk: bytes) -> None:
        if chunk:
            self._blob_hash.update(chunk)
            self.size += len(chunk)
            _write_all(self._out, chunk)


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    # The length prefix counts its own digits.
    length = len(body) + len(str(len(body)))
    if len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def _ustar(
    name: bytes,
    typeflag: bytes,
    *,
    size: int = 0,
    mode: int = 0,
    uid: int = 0,
    gid: int = 0,
    mtime: int = 0,
    linkname: bytes = b"",
    uname: bytes = b"",
    gname: bytes = b"",
    devmajor: int = 0,
    devminor: int = 0,
) -> bytes:
    block = bytearray(_BLOCK)
    for offset, value in (
        (0, name[:100]),
        (100, _octal(mode, 8)),
        (108, _octal(uid, 8)),
        (116, _octal(gid, 8)),
        (124, _octal(size, 12)),
        (136, _octal(mtime, 12)),
        (148, b" " * 8),
        (156, typeflag),
        (157, linkname[:100]),
        (257, b"ustar\x0000"),
        (265, uname[:31]),
        (297, gname[:31]),
        (329, _octal(devmajor, 8)),
        (337, _octal(devminor, 8)),
    ):
        block[offset : offset + len(value)] = value
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ImageFormatError(f"{what} {text!r} is not valid UTF-8") from exc


def _text_field(value: str, limit: int, pax_key: str, pax: dict[str, str], what: str) -> bytes:
    raw = _utf8(value, what)
    if len(raw) <= limit and raw.isascii():
        return raw
    pax[pax_key] = value
    # The USTAR field keeps an ASCII stand-in for readers that ignore PAX.
    return value.encode("ascii", "replace")[:limit]


def _number_field(value: int, limit: int, pax_key: str, pax: dict[str, str]) -> int:
    if value < limit:
        return value
    pax[pax_key] = str(value)
    return 0


def _header(entry: LayerEntry, size: int, mtime: int) -> bytes:
    pax: dict[str, str] = {}
    name = entry.path + "/" if entry.kind == "dir" else entry.path
    fields = {
        "name": _text_field(name, 100, "path", pax, "path"),
        "linkname": _text_field(entry.linkname, 100, "linkpath", pax, "link target"),
        "uname": _text_field(entry.uname, 31, "uname", pax, "user name"),
        "gname": _text_field(entry.gname, 31, "gname", pax, "group name"),
    }
    uid = _number_field(entry.uid, _MAX_ID, "uid", pax)
    gid = _number_field(entry.gid, _MAX_ID, "gid", pax)
    size_field = _number_field(size, _MAX_SIZE, "size", pax)
    mtime_field = _number_field(mtime, _MAX_SIZE, "mtime", pax)
    main = _ustar(
        fields["name"],
        _TYPEFLAGS[entry.kind],
        size=size_field,
        mode=entry.mode,
        uid=uid,
        gid=gid,
        mtime=mtime_field,
        linkname=fields["linkname"],
        uname=fields["uname"],
        gname=fields["gname"],
        devmajor=entry.devmajor,
        devminor=entry.devminor,
    )
    if not pax:
        return main
    records = b"".join(_pax_record(key, pax[key]) for key in sorted(pax))
    return (
        _ustar(b"././@PaxHeader", b"x", size=len(records)) + records + _padding(len(records)) + main
    )


def _padding(size: int) -> bytes:
    return bytes(-size % _BLOCK)


def _link_root(entry: LayerEntry, by_path: Mapping[str, LayerEntry]) -> str:
    seen = {entry.path}
    current = entry
    while current.kind == "hardlink":
        target = by_path.get(current.linkname)
        if target is None:
            raise ImageFormatError(
                f"hard link {entry.path!r} points at {current.linkname!r}, "
                "which is not an entry of this layer"
            )
        if target.path in seen:
            raise ImageFormatError(f"hard link {entry.path!r} is part of a cycle")
        seen.add(target.path)
        current = target
    if current.kind != "file":
        raise ImageFormatError(
            f"hard link {entry.path!r} points at {current.path!r}, a {current.kind}, not a file"
        )
    return current.path


def _plan(entries: Iterable[LayerEntry], add_parents: bool, parent_mode: int) -> list[LayerEntry]:
    by_path: dict[str, LayerEntry] = {}
    for entry in entries:
        if entry.path in by_path:
            raise ImageFormatError(f"duplicate layer entry {entry.path!r}")
        by_path[entry.path] = entry

    groups: dict[str, list[str]] = {}
    for entry in by_path.values():
        if entry.kind == "hardlink":
            groups.setdefault(_link_root(entry, by_path), []).append(entry.path)
    for root, links in groups.items():
        members = sorted([root, *links], key=sort_key)
        file = by_path[root]
        by_path[members[0]] = replace(file, path=members[0])
        for member in members[1:]:
            by_path[member] = replace(
                file, path=member, kind="hardlink", source=None, data=None, linkname=members[0]
            )

    for path in list(by_path):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            existing = by_path.get(parent)
            if existing is None:
                if add_parents:
                    by_path[parent] = LayerEntry(parent, "dir", parent_mode)
            elif existing.kind != "dir":
                raise ImageFormatError(
                    f"layer entry {path!r} needs {parent!r} to be a directory, "
                    f"but it is a {existing.kind}"
                )
    return sorted(by_path.values(), key=lambda entry: sort_key(entry.path))


def _open_source(path: Path) -> tuple[int, int]:
    try:
        # O_NONBLOCK: a FIFO given by mistake is reported instead of blocking open().
        # O_NOFOLLOW: a link in a build context must not smuggle in the file it points at.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as exc:
        reason = "is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise ImageFormatError(f"cannot read layer source {path}: {reason}") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ImageFormatError(f"layer source {path} is not a regular file")
    return fd, st.st_size


def _copy_source(sink: _HashingSink, fd: int, size: int, path: Path, buf: bytearray) -> None:
    view = memoryview(buf)
    with open(fd, "rb", buffering=0, closefd=False) as reader:
        remaining = size
        while remaining:
            count = reader.readinto(view[: min(remaining, len(view))])
            if not count:
                raise ImageFormatError(
                    f"layer source {path} shrank while being read ({size} bytes expected)"
                )
            sink.write(view[:count])
            remaining -= count
        if reader.read(1) or os.fstat(fd).st_size != size:
            raise ImageFormatError(
                f"layer source {path} grew while being read ({size} bytes expected)"
            )


def _write_entry(sink: _HashingSink, entry: LayerEntry, mtime: int, buf: bytearray) -> None:
    if entry.mtime is not None:
        mtime = entry.mtime
    if entry.kind != "file":
        sink.write(_header(entry, 0, mtime))
        return
    if entry.source is None:
        data = entry.data or b""
        sink.write(_header(entry, len(data), mtime))
        view = memoryview(data)
        for start in range(0, len(view), CHUNK_SIZE):
            sink.write(view[start : start + CHUNK_SIZE])
        sink.write(_padding(len(data)))
        return
    fd, size = _open_source(entry.source)
    try:
        sink.write(_header(entry, size, mtime))
        try:
            _copy_source(sink, fd, size, entry.source, buf)
        except OSError as exc:
            raise ImageFormatError(
                f"cannot read layer source {entry.source}: {exc.strerror}"
            ) from exc
    finally:
        os.close(fd)
    sink.write(_padding(size))


def write_layer(
    entries: Iterable[LayerEntry],
    out: BinaryIO,
    *,
    compression: Compression = "gzip",
    level: int | None = None,
    mtime: int = 0,
    add_parents: bool = True,
    parent_mode: int = 0o755,
) -> LayerInfo:
    """Write ``entries`` to ``out`` as one deterministic layer tar; return its digests.

    The bytes depend only on the entries, ``compression``, ``level`` and ``mtime`` (the
    modification time of every member, e.g. :func:`source_date_epoch`). With
    ``add_parents``, missing parent directories are added with ``parent_mode`` and owner 0.
    ``digest`` and ``size`` describe the bytes written to ``out``; ``diff_id`` and
    ``uncompressed_size`` the tar inside. File content is streamed in chunks of
    :data:`CHUNK_SIZE`. Raise :class:`ImageFormatError` for duplicate paths, a file where a
    directory is needed, a hard link to something not a file of this layer, or a ``source``
    that is not a regular file or changes size while it is read; :class:`UsageError` for a
    bad compression, level or mtime.
    """
    if mtime < 0:
        raise UsageError(f"layer mtime must not be negative, not {mtime}")
    if not 0 <= parent_mode <= 0o7777:
        raise UsageError(f"parent directory mode {parent_mode:o} is beyond 7777")
    compressor, media_type = _compressor(compression, level)
    plan = _plan(entries, add_parents, parent_mode)
    sink = _HashingSink(out, compressor)
    buf = bytearray(CHUNK_SIZE)
    for entry in plan:
        _write_entry(sink, entry, mtime, buf)
    sink.write(bytes(2 * _BLOCK))
    digest, diff_id = sink.finish()
    return LayerInfo(
        digest=digest,
        diff_id=diff_id,
        size=sink.size,
        uncompressed_size=sink.uncompressed_size,
        media_type=media_type,
    )
