"""Prototypes of performance levers, applied by monkeypatching vidlift in a benchmark's
client process only (never in src/): each is measured against the unpatched library.

What earlier prototypes here measured is now built in: the read and md5 of each piece in
a worker thread (``SourceReader._read_piece``), ``verify_md5=False`` (was ``no_md5``),
group commit of journal transitions (``SqliteJournal``) and zero-copy segment bodies
(was ``sendfile``; now ``vidlift.client.fileslice``, used whenever the reader does not
hash, there is no throttle and the URL is plain HTTP). What is left:

- ``readinto``: read each piece into one of two reused ``bytearray`` buffers
  (``os.preadv`` in the worker thread, md5 there too when on), yielding memoryviews: no
  new bytes object per piece. It patches ``SourceReader.iter_range``, i.e. the path
  the bytes take when they do go through Python: with the md5 on (the default), or
  with ``zero_copy=False``. With ``verify_md5=False`` on plain HTTP it changes nothing:
  the bodies are sendfile()d.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence

import anyio.to_thread

from vidlift.client.source import SourceReader
from vidlift.errors import SourceError
from vidlift.protocol.ranges import ByteRange

LEVERS = ("readinto",)


def apply(names: Sequence[str]) -> None:
    """Patch vidlift with the named levers (see the module docstring)."""
    for name in names:
        if name not in LEVERS:
            raise ValueError(f"unknown lever {name!r}; known: {', '.join(LEVERS)}")
    if "readinto" in names:
        SourceReader.iter_range = _iter_readinto  # type: ignore[method-assign,assignment]


def _fd(reader: SourceReader) -> int:
    if reader._fd is None:
        raise RuntimeError("SourceReader used outside 'async with'")
    return reader._fd


def _readinto_and_hash(
    reader: SourceReader, fd: int, buffer: bytearray | memoryview, position: int
) -> int:
    """Blocking, in a worker thread: what ``SourceReader._read_piece`` does, into a buffer."""
    count = os.preadv(fd, [buffer], position)
    if count and reader._md5 is not None and position == reader._hashed_upto:
        reader._md5.update(memoryview(buffer)[:count])
        reader._hashed_upto += count
    return count


async def _iter_readinto(self: SourceReader, byte_range: ByteRange) -> AsyncIterator[memoryview]:
    # Two buffers: one being sent while the next is filled. Safe on CPython 3.11, whose
    # selector transport copies what the socket did not take at once (not with uvloop).
    fd, position, end = _fd(self), byte_range.start, byte_range.end + 1
    size = min(self._piece_bytes, byte_range.length)
    buffers = (bytearray(size), bytearray(size))
    turn = 0
    while position < end:
        buffer = buffers[turn]
        want = min(size, end - position)
        view = memoryview(buffer)[:want]
        try:
            count = await anyio.to_thread.run_sync(
                _readinto_and_hash, self, fd, buffer if want == size else view, position
            )
        except OSError as exc:
            raise SourceError(str(self.source.path), f"read failed: {exc.strerror}") from None
        if not count:
            raise SourceError(str(self.source.path), "the file became shorter during the upload")
        position += count
        turn ^= 1
        yield view[:count]
