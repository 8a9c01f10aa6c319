"""Readers of the tar inside a layer blob: gzip, zstd or plain, sniffed by default.

:func:`decompressed` wraps a binary stream so reads give the uncompressed tar. With
``compression="auto"`` the first bytes decide: the gzip magic ``1f 8b``, the zstd frame magic
``28 b5 2f fd``, anything else is read as it is. Every read failure (a corrupt or truncated
blob, a bad checksum) surfaces as :class:`ImageFormatError`.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO, Literal, Protocol, cast

from dockwright.errors import DockwrightError, ImageFormatError, UsageError

ExtractCompression = Literal["auto", "gzip", "zstd", "none"]

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Reader(Protocol):
    """Anything with a binary ``read``: what :func:`decompressed` takes and gives back."""

    def read(self, size: int = -1, /) -> bytes: ...


class _Prefixed:
    """A reader that gives back bytes already taken from ``raw`` before reading on."""

    def __init__(self, prefix: bytes, raw: Reader) -> None:
        self._prefix, self._raw = prefix, raw

    def read(self, size: int = -1, /) -> bytes:
        if not self._prefix:
            return self._raw.read(size)
        cut = len(self._prefix) if size < 0 else size
        data, self._prefix = self._prefix[:cut], self._prefix[cut:]
        return data + self._raw.read() if size < 0 else data


class _Guarded:
    """Makes a failure to read or decompress the layer an :class:`ImageFormatError`, apart
    from errors writing ``dest``."""

    def __init__(self, raw: Reader, errors: tuple[type[BaseException], ...]) -> None:
        self._raw, self._errors = raw, errors

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._raw.read(size)
        except self._errors as exc:
            raise ImageFormatError(f"layer data is corrupt or truncated: {exc}") from exc


def _decompressed(raw: Reader, compression: str) -> _Guarded:
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
    raw = _Guarded(raw, (OSError,))
    if compression == "auto":
        head = b""
        while len(head) < 4 and (more := raw.read(4 - len(head))):
            head += more
        raw = _Prefixed(head, raw)
        if head.startswith(_GZIP_MAGIC):
            compression = "gzip"
        elif head == _ZSTD_MAGIC:
            compression = "zstd"
        else:
            compression = "none"
    if compression == "gzip":
        import gzip  # noqa: PLC0415 - only layers that need it pay for the import

        return _Guarded(gzip.GzipFile(fileobj=cast(BinaryIO, raw), mode="rb"), errors)
    if compression == "zstd":
        try:
            import zstandard  # noqa: PLC0415 - optional extra
        except ImportError as exc:
            raise DockwrightError(
                "zstd layers need the 'zstandard' package", hint="pip install dockwright[zstd]"
            ) from exc
        reader: Reader = zstandard.ZstdDecompressor().stream_reader(
            cast(BinaryIO, raw), read_across_frames=True, closefd=False
        )
        return _Guarded(reader, (*errors, zstandard.ZstdError))
    if compression == "none":
        return _Guarded(raw, errors)
    raise UsageError(f"unknown layer compression {compression!r}: use auto, gzip, zstd or none")


def decompressed(raw: BinaryIO, compression: ExtractCompression = "auto") -> Reader:
    """A reader of the tar inside the layer blob ``raw`` (gzip or zstd sniffed with "auto").

    Reading raises :class:`ImageFormatError` when the blob is corrupt or truncated; an
    unknown ``compression`` raises :class:`UsageError`.
    """
    return _decompressed(raw, compression)
