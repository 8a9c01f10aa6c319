"""gzip on every core, with output that does not depend on how many there are.

The input is cut into fixed pieces; each is deflated on its own (zlib releases the GIL, so
threads run in parallel), primed with the last 32 KiB of the piece before it so the ratio
stays close to a single stream's, and ended with a sync flush so the pieces join into one
deflate stream. The result is one ordinary gzip member, as pigz writes, that any gzip reader
accepts. Its bytes depend only on the data, the level and the piece size: never on the
number of threads or on timing.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

PIECE = 1 << 20
_WINDOW = 32 * 1024
# No file name, mtime 0; OS 255 (unknown) so hosts of any OS agree. XFL set from the level.
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"


def _deflate_piece(piece: bytes, primer: bytes, level: int, last: bool) -> bytes:
    if primer:
        deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zdict=primer)
    else:
        deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8)
    body = deflate.compress(piece)
    return body + deflate.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def gzip_stream(
    src: BinaryIO,
    emit: Callable[[bytes], None],
    *,
    level: int,
    tar_hash: hashlib._Hash,
    workers: int | None = None,
) -> int:
    """Read ``src`` to its end and pass its gzip encoding to ``emit`` in order; feed the
    uncompressed bytes to ``tar_hash``. Return the number of uncompressed bytes."""
    xfl = 2 if level == 9 else 4 if level == 1 else 0
    emit(_HEADER + bytes([xfl, 255]))
    crc = 0
    length = 0
    primer = b""
    threads = workers or min(8, os.cpu_count() or 1)
    pending: deque[Future[bytes]] = deque()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        piece = src.read(PIECE)
        if not piece:
            pending.append(pool.submit(_deflate_piece, b"", b"", level, True))
        while piece:
            following = src.read(PIECE)
            tar_hash.update(piece)
            crc = zlib.crc32(piece, crc)
            length += len(piece)
            pending.append(pool.submit(_deflate_piece, piece, primer, level, not following))
            primer = piece[-_WINDOW:]
            # Keep a bounded number of pieces in flight: memory stays a few MiB per thread.
            while len(pending) > 2 * threads:
                emit(pending.popleft().result())
            piece = following
        while pending:
            emit(pending.popleft().result())
    emit(struct.pack("<II", crc, length & 0xFFFFFFFF))
    return length
