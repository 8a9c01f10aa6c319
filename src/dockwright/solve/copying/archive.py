"""ADD's local archive extraction: a tar, plain or gzip/bzip2/xz (zstd when available).

Detection is by content, as Docker's: the file decompresses and its first tar header reads;
an empty tar or anything else is copied as a file. Entries keep the archive's modes, owners
and mtimes. Extraction happens as in a chroot at the destination directory: symlinks met on
the way (in the archive or already there) resolve inside it, and ``..`` stops at its top.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import shutil
import stat as st
import tarfile
from pathlib import Path
from typing import IO

from dockwright.solve.copying.destpath import resolve_dest
from dockwright.solve.copying.model import CopySourceError

__all__ = ["extract_archive", "is_archive"]


def _open_stream(path: str) -> IO[bytes]:
    raw = open(path, "rb")  # noqa: SIM115 - handed to the decompressor, closed by it
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        try:
            import zstandard  # noqa: PLC0415 - optional extra
        except ImportError:
            return raw
        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
    return raw


def is_archive(path: str) -> bool:
    """Whether ``path`` is a (possibly compressed) tar with at least one entry."""
    try:
        with _open_stream(path) as stream:
            block = stream.read(tarfile.BLOCKSIZE)
    except (OSError, EOFError, lzma.LZMAError, ValueError):
        return False
    if len(block) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _clean(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


def extract_archive(source: str, target: Path, dest_root: Path, mtime: int | None) -> None:
    """Unpack the archive ``source`` into directory ``target`` (inside ``dest_root``)."""
    del dest_root
    dirs: list[tuple[Path, int]] = []
    clamp = None if mtime is None else mtime
    try:
        with _open_stream(source) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                name = _clean(member.name)
                if not name or name == ".":
                    continue
                parent = _parents(target, posixpath.dirname(name))
                path = parent / posixpath.basename(name)
                stamp = int(member.mtime) if clamp is None else min(int(member.mtime), clamp)
                _extract_one(tar, member, path, target)
                if member.isdir():
                    dirs.append((path, stamp))
                elif not member.islnk():
                    os.utime(path, (stamp, stamp), follow_symlinks=False)
    except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as exc:
        raise CopySourceError(f"cannot extract {os.path.basename(source)}: {exc}") from exc
    for path, stamp in reversed(dirs):
        os.utime(path, (stamp, stamp), follow_symlinks=False)


def _parents(target: Path, rel: str) -> Path:
    current = ""
    for part in [p for p in rel.split("/") if p]:
        current = f"{current}/{part}"
        host = resolve_dest(target, current)
        if not host.exists():
            os.mkdir(host, 0o755)
            os.chmod(host, 0o755)  # noqa: S103 - Docker's mode for made parents
            os.lchown(host, 0, 0)
    return resolve_dest(target, rel)


def _extract_one(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path, target: Path) -> None:
    try:
        existing: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None and not (member.isdir() and st.S_ISDIR(existing.st_mode)):
        if st.S_ISDIR(existing.st_mode):
            _remove_tree(path)
        else:
            os.unlink(path)
    if member.isdir():
        if existing is None or not st.S_ISDIR(existing.st_mode):
            os.mkdir(path, 0o700)
    elif member.issym():
        os.symlink(member.linkname, path)
    elif member.islnk():
        os.link(resolve_dest(target, _clean(member.linkname)), path)
        return
    elif member.ischr() or member.isblk():
        kind = st.S_IFCHR if member.ischr() else st.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
    elif member.isfifo():
        os.mkfifo(path, 0o600)
    else:
        data = tar.extractfile(member)
        with open(path, "wb") as out:
            if data is not None:
                _pump(data, out)
    os.lchown(path, member.uid, member.gid)
    if not member.issym():
        os.chmod(path, member.mode & 0o7777)
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(path, key[13:], value.encode("utf-8", "surrogateescape"))
            except OSError:
                continue


def _pump(data: IO[bytes], out: io.BufferedWriter) -> None:
    while chunk := data.read(1 << 20):
        out.write(chunk)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path)
