"""Content digests (``algorithm:hex``), as the OCI image spec defines them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Self

from dockwright.errors import ImageFormatError

_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"^[a-f0-9]+$")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A content digest such as ``sha256:e3b0…``; compare and hash it as a value."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        length = _HEX_LENGTHS.get(self.algorithm)
        if length is None:
            raise ImageFormatError(f"unsupported digest algorithm {self.algorithm!r}")
        if len(self.hex) != length or not _HEX.match(self.hex):
            raise ImageFormatError(f"malformed {self.algorithm} digest {self.hex!r}")

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``algorithm:hex``; raise :class:`ImageFormatError` when it is not one."""
        algorithm, sep, hexpart = text.partition(":")
        if not sep:
            raise ImageFormatError(f"malformed digest {text!r}: expected 'sha256:<hex>'")
        return cls(algorithm, hexpart)

    @classmethod
    def of(cls, data: bytes) -> Digest:
        """The sha256 digest of ``data``."""
        return Digest("sha256", hashlib.sha256(data).hexdigest())

    @classmethod
    def from_hasher(cls, hasher: hashlib._Hash) -> Digest:
        """The digest a finished sha256/sha512 hasher stands for."""
        return Digest(hasher.name, hasher.hexdigest())

    def hasher(self) -> hashlib._Hash:
        """A fresh hasher of this digest's algorithm."""
        return hashlib.new(self.algorithm)

    @property
    def short(self) -> str:
        """The first 12 hex characters, as Docker shows image IDs."""
        return self.hex[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"
