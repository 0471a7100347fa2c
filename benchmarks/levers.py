"""Prototypes of performance levers, applied by monkeypatching vidlift in a benchmark's
client process only (never in src/): each is measured against the unpatched library.

What earlier prototypes here measured is now built in: the read and md5 of each piece in
a worker thread (``SourceReader._read_piece``), ``verify_md5=False`` (was ``no_md5``) and
group commit of journal transitions (``SqliteJournal``). What is left:

- ``readinto``: read each piece into one of two reused ``bytearray`` buffers
  (``os.preadv`` in the worker thread, md5 there too when on), yielding memoryviews: no
  new bytes object per piece.
- ``sendfile``: when the reader does not hash (``verify_md5=False``) and there is no
  bandwidth throttle, the segment body goes out with ``loop.sendfile`` on the
  connection's socket once aiohttp's headers are flushed (zero copy). With the md5 on it
  changes nothing: the md5 has to read every byte anyway, so the body is sent from those
  reads as usual.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio.to_thread
from aiohttp import payload

from vidlift.client import uploader as uploader_module
from vidlift.client.source import SourceReader
from vidlift.errors import SourceError
from vidlift.protocol.ranges import ByteRange

LEVERS = ("readinto", "sendfile")

_original_body = uploader_module.SegmentSender._body


def apply(names: Sequence[str]) -> None:
    """Patch vidlift with the named levers (see the module docstring)."""
    for name in names:
        if name not in LEVERS:
            raise ValueError(f"unknown lever {name!r}; known: {', '.join(LEVERS)}")
    if "readinto" in names:
        SourceReader.iter_range = _iter_readinto  # type: ignore[method-assign,assignment]
    if "sendfile" in names:
        uploader_module.SegmentSender._body = _sendfile_body  # type: ignore[method-assign,assignment]


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


class SendfilePayload(payload.Payload):
    """A segment body sent with ``loop.sendfile`` (headers flushed first)."""

    def __init__(
        self, reader: SourceReader, byte_range: ByteRange, on_sent: Callable[[int], None] | None
    ) -> None:
        super().__init__(reader, content_type="application/octet-stream")
        self._reader, self._range, self._on_sent = reader, byte_range, on_sent
        self._size = byte_range.length

    async def write(self, writer: Any) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        writer.send_headers()
        await writer.drain()
        reader, start, length = self._reader, self._range.start, self._range.length
        with _file_object(_fd(reader)) as raw:
            loop = asyncio.get_running_loop()
            sent = await loop.sendfile(writer.transport, raw, start, length, fallback=True)
        if self._on_sent is not None:
            self._on_sent(sent)
        if sent < length:
            raise SourceError(str(reader.source.path), "the file became shorter during the upload")

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a file body is not text")


def _file_object(fd: int) -> io.FileIO:
    """What loop.sendfile wants: a file object. This one shares the reader's descriptor and
    does not close it (the reader only uses pread: the position sendfile moves is unused)."""
    return io.FileIO(fd, "rb", closefd=False)


def _sendfile_body(
    self: uploader_module.SegmentSender,
    reader: SourceReader,
    byte_range: ByteRange,
    on_sent: Callable[[int], None] | None,
) -> SendfilePayload | AsyncIterator[bytes]:
    if reader._md5 is not None or self._throttle is not None:
        return _original_body(self, reader, byte_range, on_sent)
    return SendfilePayload(reader, byte_range, on_sent)
