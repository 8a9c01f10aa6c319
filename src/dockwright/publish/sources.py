"""Blob sources over files a user hands us: an OCI layout folder or a tar archive."""

from __future__ import annotations

import io
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockwright.errors import CorruptBlobError, ImageFormatError, NotFoundError, PublishError
from dockwright.image.digest import Digest

_GZIP_MAGIC = b"\x1f\x8b"


def _verify(data: bytes, digest: Digest, where: Path) -> None:
    hasher = digest.hasher()
    hasher.update(data)
    if hasher.hexdigest() != digest.hex:
        raise CorruptBlobError(where, str(digest), f"{digest.algorithm}:{hasher.hexdigest()}")


def blob_name(digest: Digest) -> str:
    """The path of a blob inside an OCI layout: ``blobs/<alg>/<hex>``."""
    return f"blobs/{digest.algorithm}/{digest.hex}"


class LayoutDirSource:
    """The blobs of an OCI image layout folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: Digest) -> Path:
        return self.root / blob_name(digest)

    def has(self, digest: Digest) -> bool:
        """True when the layout holds the blob."""
        return self._path(digest).is_file()

    def size(self, digest: Digest) -> int:
        """The blob's size."""
        try:
            return self._path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc

    def read(self, digest: Digest, *, verify: bool = True) -> bytes:
        """The blob's bytes (checked against ``digest`` unless ``verify`` is false)."""
        try:
            data = self._path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc
        if verify:
            _verify(data, digest, self._path(digest))
        return data

    def open_blob(self, digest: Digest) -> BinaryIO:
        """The blob as an open file."""
        try:
            return self._path(digest).open("rb")
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc

    def _missing(self, digest: Digest) -> NotFoundError:
        return NotFoundError(f"blob {digest} is not in the OCI layout {self.root}")


@dataclass(frozen=True, slots=True)
class _Member:
    offset: int
    size: int


class _Slice(io.RawIOBase):
    """A read-only window onto a shared file descriptor (pread keeps readers independent)."""

    def __init__(self, fd: int, member: _Member) -> None:
        self._fd = fd
        self._member = member
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._member.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        left = self._member.size - self._pos
        if left <= 0:
            return 0
        data = os.pread(self._fd, min(len(buffer), left), self._member.offset + self._pos)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


class TarSource:
    """Files and blobs of a tar archive (plain or gzip-compressed), read in place.

    Regular members are indexed once; symbolic and hard links (as older ``docker save``
    writes for repeated layers) resolve to their targets. ``digests`` maps blob digests to
    member names; an OCI layout inside the archive fills it from ``blobs/<alg>/<hex>``.
    """

    def __init__(self, path: Path) -> None:
        import tarfile  # noqa: PLC0415 - heavy; only needed when reading archives

        self.path = path
        self._file = self._open(path)
        self.members: dict[str, _Member] = {}
        self.digests: dict[Digest, str] = {}
        try:
            self._index()
        except (tarfile.TarError, EOFError, OSError) as exc:
            self.close()
            raise PublishError(
                f"{path} is not a readable tar archive: {exc}",
                hint="give an OCI archive (docker save / buildx type=oci output) or its folder",
            ) from exc

    @staticmethod
    def _open(path: Path) -> BinaryIO:
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise PublishError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if handle.read(2) != _GZIP_MAGIC:
            handle.seek(0)
            return handle
        # Offsets into a gzip stream cannot be seeked, so expand it once into a temp file.
        import gzip  # noqa: PLC0415 - heavy; only for compressed archives
        import shutil  # noqa: PLC0415
        import tempfile  # noqa: PLC0415

        handle.seek(0)
        spool: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the source
        try:
            with handle, gzip.GzipFile(fileobj=handle) as stream:
                shutil.copyfileobj(stream, spool, 1 << 20)
        except (OSError, EOFError) as exc:
            spool.close()
            raise PublishError(f"{path} is not a readable gzip file: {exc}") from exc
        spool.seek(0)
        return spool

    def _index(self) -> None:
        import tarfile  # noqa: PLC0415 - heavy; only needed when reading archives

        links: dict[str, str] = {}
        with tarfile.open(fileobj=self._file, mode="r:") as tar:
            for info in tar:
                name = posixpath.normpath(info.name.lstrip("/")).removeprefix("./")
                if info.isreg():
                    self.members[name] = _Member(info.offset_data, info.size)
                elif info.issym():
                    links[name] = posixpath.normpath(
                        posixpath.join(posixpath.dirname(name), info.linkname)
                    )
                elif info.islnk():
                    links[name] = posixpath.normpath(info.linkname.lstrip("/"))
        for name, first in links.items():
            target = first
            for _ in range(16):  # a bound, in case links form a loop
                if target in self.members or target not in links:
                    break
                target = links[target]
            if target in self.members:
                self.members[name] = self.members[target]
        for name in self.members:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "blobs":
                try:
                    self.digests[Digest(parts[1], parts[2])] = name
                except ImageFormatError:
                    continue

    def close(self) -> None:
        """Release the open archive."""
        self._file.close()

    def __del__(self) -> None:
        self._file.close()

    # -- files by name

    def has_file(self, name: str) -> bool:
        """True when the archive holds a regular file ``name``."""
        return name in self.members

    def read_file(self, name: str) -> bytes:
        """The content of member ``name``."""
        with self.open_file(name) as stream:
            return stream.read()

    def open_file(self, name: str) -> BinaryIO:
        """A stream of member ``name``."""
        try:
            member = self.members[name]
        except KeyError as exc:
            raise NotFoundError(f"{self.path} has no file {name}") from exc
        return io.BufferedReader(_Slice(self._file.fileno(), member), 1 << 16)

    # -- blobs by digest

    def has(self, digest: Digest) -> bool:
        """True when a member is known to hold the blob."""
        return digest in self.digests

    def size(self, digest: Digest) -> int:
        """The blob's size."""
        return self.members[self._name(digest)].size

    def read(self, digest: Digest, *, verify: bool = True) -> bytes:
        """The blob's bytes (checked against ``digest`` unless ``verify`` is false)."""
        name = self._name(digest)
        data = self.read_file(name)
        if verify:
            _verify(data, digest, self.path / name)
        return data

    def open_blob(self, digest: Digest) -> BinaryIO:
        """A stream of the blob."""
        return self.open_file(self._name(digest))

    def _name(self, digest: Digest) -> str:
        try:
            return self.digests[digest]
        except KeyError as exc:
            raise NotFoundError(f"blob {digest} is not in the archive {self.path}") from exc


class OverlaySource:
    """Blobs made in memory (e.g. a manifest written for a docker-archive) over a source."""

    def __init__(self, base: TarSource | LayoutDirSource, extra: Mapping[Digest, bytes]) -> None:
        self.base = base
        self.extra = dict(extra)

    def has(self, digest: Digest) -> bool:
        """True when either layer holds the blob."""
        return digest in self.extra or self.base.has(digest)

    def size(self, digest: Digest) -> int:
        """The blob's size."""
        if digest in self.extra:
            return len(self.extra[digest])
        return self.base.size(digest)

    def read(self, digest: Digest, *, verify: bool = True) -> bytes:
        """The blob's bytes."""
        if digest in self.extra:
            return self.extra[digest]
        return self.base.read(digest, verify=verify)

    def open_blob(self, digest: Digest) -> BinaryIO:
        """A stream of the blob."""
        if digest in self.extra:
            return io.BytesIO(self.extra[digest])
        return self.base.open_blob(digest)
