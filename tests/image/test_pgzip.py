"""Parallel gzip: a standard single-member stream whose bytes ignore the thread count."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import zlib

import pytest

from dockwright.image.pgzip import PIECE, gzip_stream


def _run(data: bytes, level: int, workers: int) -> tuple[bytes, int, str]:
    out: list[bytes] = []
    tar_hash = hashlib.sha256()
    length = gzip_stream(
        io.BytesIO(data), out.append, level=level, tar_hash=tar_hash, workers=workers
    )
    return b"".join(out), length, tar_hash.hexdigest()


@pytest.mark.parametrize("size", [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 12345])
def test_round_trip_and_thread_independence(size: int) -> None:
    # Half random, half repetitive: both incompressible and compressible pieces.
    data = (os.urandom(size // 2) + b"abcdefgh" * (size // 16))[:size].ljust(size, b"z")
    results = {workers: _run(data, 6, workers) for workers in (1, 2, 5)}
    blobs = {blob for blob, _, _ in results.values()}
    assert len(blobs) == 1
    blob, length, digest = results[1]
    assert gzip.decompress(blob) == data
    assert length == size
    assert digest == hashlib.sha256(data).hexdigest()
    assert blob[:4] == b"\x1f\x8b\x08\x00"
    assert blob[4:8] == b"\x00\x00\x00\x00"  # no mtime


def test_one_member_that_gzip_tool_reads() -> None:
    data = b"dockwright " * 300_000
    blob, _, _ = _run(data, 1, 2)
    # One member, as pigz and gzip write: zlib stops at the first member's end.
    member = zlib.decompressobj(wbits=31)
    assert member.decompress(blob) == data
    assert member.eof
    assert member.unused_data == b""
    proc = subprocess.run(["gzip", "-dc"], input=blob, capture_output=True, check=True)
    assert proc.stdout == data
    # Priming each piece with its predecessor keeps the ratio near a single stream's.
    assert len(blob) <= len(gzip.compress(data, 1, mtime=0)) * 1.02
