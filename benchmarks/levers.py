"""Prototypes of performance levers, applied by monkeypatching vidlift in a benchmark's
client process only (never in src/): each is measured against the unpatched library.

- ``md5_thread``: read and hash each piece in one worker-thread call (``os.pread`` +
  ``md5.update``, which releases the GIL) instead of hashing on the event loop.
- ``readinto``: the same, into two reused ``bytearray`` buffers (``os.preadv``), yielding
  memoryviews: no new bytes object per piece.
- ``sendfile``: the segment body goes out with ``loop.sendfile`` on the connection's
  socket once aiohttp's headers are flushed (zero copy); the md5 is computed meanwhile
  in a worker thread.
- ``no_md5``: no md5 of the source at all (what the verification costs).
- ``group_commit``: durable journal transitions of concurrent jobs share one transaction
  (one fsync): a caller queues its change; whoever holds the lock commits the whole queue.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio
import anyio.to_thread
from aiohttp import payload

from vidlift.client import uploader as uploader_module
from vidlift.client.source import SourceFile, SourceReader
from vidlift.errors import SourceError
from vidlift.journal import transitions
from vidlift.journal.base import JobRecord
from vidlift.journal.sqlite import SqliteJournal
from vidlift.protocol.ranges import ByteRange

LEVERS = ("md5_thread", "readinto", "sendfile", "no_md5", "group_commit")


def apply(names: Sequence[str]) -> None:
    """Patch vidlift with the named levers (see the module docstring)."""
    for name in names:
        if name not in LEVERS:
            raise ValueError(f"unknown lever {name!r}; known: {', '.join(LEVERS)}")
    if "no_md5" in names:
        SourceReader.md5_hexdigest = _no_md5  # type: ignore[method-assign,assignment]
        original_init = SourceReader.__init__

        def init_without_md5(self: SourceReader, source: SourceFile, piece_bytes: int) -> None:
            original_init(self, source, piece_bytes)
            self._md5 = _NoHash()  # type: ignore[assignment]

        SourceReader.__init__ = init_without_md5  # type: ignore[method-assign]
    if "readinto" in names:
        SourceReader.iter_range = _iter_readinto  # type: ignore[method-assign,assignment]
    elif "md5_thread" in names:
        SourceReader.iter_range = _iter_pread  # type: ignore[method-assign]
    if "sendfile" in names:
        uploader_module.SegmentSender._body = _sendfile_body  # type: ignore[method-assign,assignment]
    if "group_commit" in names:
        SqliteJournal._change = _grouped_change  # type: ignore[method-assign]
    _hash_enabled[0] = "no_md5" not in names


_hash_enabled = [True]


class _NoHash:
    """Stands in for hashlib.md5 when the md5 is not wanted."""

    def update(self, data: object) -> None:
        del data

    def hexdigest(self) -> str:
        return ""


async def _no_md5(self: SourceReader) -> str | None:
    return None


def _fd(reader: SourceReader) -> int:
    handle = reader._file
    if handle is None:
        raise RuntimeError("SourceReader used outside 'async with'")
    return int(handle.fileno())


def _read_and_hash(reader: SourceReader, fd: int, size: int, position: int) -> bytes:
    piece = os.pread(fd, size, position)
    if piece and _hash_enabled[0] and position == reader._hashed_upto:
        reader._md5.update(piece)
        reader._hashed_upto += len(piece)
    return piece


async def _iter_pread(self: SourceReader, byte_range: ByteRange) -> AsyncIterator[bytes]:
    fd, position, end = _fd(self), byte_range.start, byte_range.start + byte_range.length
    while position < end:
        size = min(self._piece_bytes, end - position)
        piece = await anyio.to_thread.run_sync(_read_and_hash, self, fd, size, position)
        if not piece:
            raise SourceError(str(self.source.path), "the file became shorter during the upload")
        position += len(piece)
        yield piece


def _readinto_and_hash(
    reader: SourceReader, fd: int, buffer: bytearray | memoryview, position: int
) -> int:
    count = os.preadv(fd, [buffer], position)
    if count and _hash_enabled[0] and position == reader._hashed_upto:
        reader._md5.update(memoryview(buffer)[:count])
        reader._hashed_upto += count
    return count


async def _iter_readinto(self: SourceReader, byte_range: ByteRange) -> AsyncIterator[memoryview]:
    # Two buffers: one being sent while the next is filled. Safe on CPython 3.11, whose
    # selector transport copies what the socket did not take at once.
    fd, position, end = _fd(self), byte_range.start, byte_range.start + byte_range.length
    size = min(self._piece_bytes, byte_range.length)
    buffers = (bytearray(size), bytearray(size))
    turn = 0
    while position < end:
        buffer = buffers[turn]
        want = min(size, end - position)
        view = memoryview(buffer)[:want]
        count = await anyio.to_thread.run_sync(
            _readinto_and_hash, self, fd, buffer if want == size else view, position
        )
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
        hashing = None
        if _hash_enabled[0] and start == reader._hashed_upto:
            hashing = asyncio.ensure_future(
                anyio.to_thread.run_sync(_hash_range, reader, start, start + length)
            )
        handle = reader._file
        assert handle is not None
        raw = handle._file  # type: ignore[attr-defined]  # the blocking file under aiofiles
        loop = asyncio.get_running_loop()
        sent = await loop.sendfile(writer.transport, raw, start, length, fallback=True)
        if self._on_sent is not None:
            self._on_sent(sent)
        if hashing is not None:
            await asyncio.shield(hashing)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a file body is not text")


def _hash_range(reader: SourceReader, start: int, end: int) -> None:
    fd, position = _fd(reader), start
    while position < end:
        piece = os.pread(fd, min(1024 * 1024, end - position), position)
        if not piece:
            return
        reader._md5.update(piece)
        position += len(piece)
    reader._hashed_upto = end


def _sendfile_body(
    self: uploader_module.SegmentSender,
    reader: SourceReader,
    byte_range: ByteRange,
    on_sent: Callable[[int], None] | None,
) -> SendfilePayload:
    return SendfilePayload(reader, byte_range, on_sent)


class _Group:
    """The queue of durable changes waiting for the next group commit of one journal."""

    def __init__(self) -> None:
        self.lock = anyio.Lock()
        self.queue: list[tuple[str, transitions.Change, list[JobRecord]]] = []


_groups: dict[int, _Group] = {}


async def _grouped_change(
    self: SqliteJournal, job_id: str, change: transitions.Change
) -> JobRecord:
    group = _groups.setdefault(id(self), _Group())
    slot: list[JobRecord] = []
    group.queue.append((job_id, change, slot))
    async with group.lock:
        if not slot:  # nobody committed it yet: commit everything queued, at once
            batch, group.queue = group.queue, []
            pairs = [(job, step) for job, step, _ in batch]
            records = await self._run(lambda store: store.change(pairs), durable=True)
            for (_, _, waiting), record in zip(batch, records, strict=True):
                waiting.append(record)
    return slot[-1]
