"""Deflate on several cores, with bytes that do not depend on how many there are.

A large file (a COCO JSON of a million annotations) is deflated in pieces of a fixed size on a
few threads (zlib works without the GIL), as pigz does: every piece starts a new
compressor primed with the 32 KiB before it (so matches reach back across pieces as in one
stream), ends byte-aligned with a sync flush, and the last one ends the stream. The pieces join
into one raw deflate stream any inflater reads; cut at fixed offsets of the input, the bytes
are the same on one core or sixteen, so archives stay reproducible and a sharded export's merge
writes the bytes a single worker writes.
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

PIECE = 1 << 20
"""Bytes of input per piece: big enough that the sync flushes cost nothing (5 bytes each)."""
_WINDOW = 32 * 1024
"""Deflate's window: how far back a piece may match into the one before."""
_THREADS = 4
"""Threads per deflater at most, whatever the cores: a worker may run several jobs that each
deflate, and past a few threads the writer feeding one entry, not deflate, sets the pace."""
_LEVEL = 6
"""zipfile's default level (zlib's; the packager's tar.gz uses it too), so an entry deflates
about as small as before."""


def _deflate(piece: bytes, primer: bytes, last: bool) -> bytes:
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL,
                                  zlib.Z_DEFAULT_STRATEGY, primer)
    return compressor.compress(piece) + compressor.flush(zlib.Z_FINISH if last
                                                         else zlib.Z_SYNC_FLUSH)


class ParallelDeflate:
    """A raw deflate compressor (``compress``, then ``flush`` once) as `zlib.compressobj`
    gives, deflating `PIECE`-sized pieces on ``threads`` threads; at most two pieces per thread
    are held at once. ``close`` (or the context's end) stops the threads."""

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads or min(_THREADS, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="labelport-deflate")
        self._pending: deque[Future[bytes]] = deque()
        self._buffer = bytearray()
        self._primer = b""

    def __enter__(self) -> ParallelDeflate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        """Take ``data``; the deflated bytes of the pieces finished so far, in order."""
        self._buffer += data
        start = 0
        while len(self._buffer) - start >= PIECE:
            piece = bytes(self._buffer[start:start + PIECE])
            self._submit(piece, last=False)
            start += PIECE
        del self._buffer[:start]
        return self._collect(block=len(self._pending) > 2 * self._threads)

    def flush(self) -> bytes:
        """The rest of the stream, ended."""
        self._submit(bytes(self._buffer), last=True)
        self._buffer.clear()
        return self._collect(block=True, every=True)

    def close(self) -> None:
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, piece: bytes, *, last: bool) -> None:
        self._pending.append(self._pool.submit(_deflate, piece, self._primer, last))
        self._primer = piece[-_WINDOW:]

    def _collect(self, *, block: bool, every: bool = False) -> bytes:
        done: list[bytes] = []
        while self._pending and (self._pending[0].done() or every
                                 or (block and len(self._pending) > self._threads)):
            done.append(self._pending.popleft().result())
        return b"".join(done)
