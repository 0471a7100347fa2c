"""What the readers of remote sources (HTTP origins, S3 objects) share (sources layer).

A remote reader fetches each range it is asked for (or continues a stream it holds) and
sees every byte in Python: it counts the bytes read (re-reads included), computes the
md5 in order on the way, and cuts the data in pieces of at most ``piece_bytes``. A range
that starts past what the md5 has seen (a resumed upload) is fetched from there, so the
source is read once in all; only what was never read in order (parallel parts) is read
again for the final digest. Remote sources are never sent zero-copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Protocol, Self

import anyio

from vidlift.client.fileslice import FileSlice
from vidlift.errors import ConnectionDropped, LocalProtocolError
from vidlift.protocol.ranges import ByteRange

__all__ = ["RemoteReader", "RemoteSource", "read_exactly"]

# Hash pieces this big in a worker thread (hashlib releases the GIL); smaller ones inline,
# where a thread hop would cost more than the hash.
_THREAD_HASH_MIN_BYTES = 256 * 1024


class RemoteSource(Protocol):
    """What a remote reader needs of its source."""

    @property
    def name(self) -> str: ...

    @property
    def size_bytes(self) -> int: ...


async def read_exactly(read: Callable[[int], Awaitable[bytes]], size: int, what: str) -> bytes:
    """``size`` bytes from ``read`` (which may return fewer); ConnectionDropped when the
    stream ends first."""
    first = await read(size)
    if len(first) == size:
        return first
    parts, got = [first], len(first)
    while got < size:
        more = await read(size - got)
        if not more:
            raise ConnectionDropped(f"{what}: the answer ended {size - got} bytes early")
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _update_all(digest: hashlib._Hash, chunks: Sequence[bytes]) -> None:
    for chunk in chunks:
        digest.update(chunk)


class RemoteReader:
    """The common part of HTTP and S3 readers; subclasses implement :meth:`_fetch`."""

    def __init__(self, source: RemoteSource, piece_bytes: int, *, hash_md5: bool) -> None:
        if piece_bytes < 1:
            raise LocalProtocolError("piece_bytes must be at least 1")
        self._source = source
        self._piece_bytes = piece_bytes
        self._md5 = hashlib.md5(usedforsecurity=False) if hash_md5 else None
        self._hashed_upto = 0
        self._bytes_read = 0
        self._active = 0  # ranges being read

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release what the reader holds open (a subclass's stream)."""

    def _fetch(self, byte_range: ByteRange) -> AsyncIterator[bytes]:
        """Pieces of at most ``piece_bytes`` making exactly ``byte_range``; each piece,
        and every other byte read on the way, goes through :meth:`_account`."""
        raise NotImplementedError

    async def _account(self, position: int, data: bytes) -> None:
        """Count ``data`` (read at ``position``) and hash it if it extends the md5."""
        await self._account_all(position, (data,))

    async def _account_all(self, position: int, chunks: Sequence[bytes]) -> None:
        """Count ``chunks`` (read one after another from ``position``) and hash them if
        they extend the md5: one worker-thread hop for the lot, no joined copy."""
        size = sum(len(chunk) for chunk in chunks)
        self._bytes_read += size
        if self._md5 is None or position != self._hashed_upto or not size:
            return
        if size >= _THREAD_HASH_MIN_BYTES:
            await anyio.to_thread.run_sync(_update_all, self._md5, chunks)
        else:
            _update_all(self._md5, chunks)
        self._hashed_upto += size

    async def iter_range(self, byte_range: ByteRange) -> AsyncIterator[bytes]:
        """The bytes of ``byte_range`` in pieces of at most ``piece_bytes``.

        Raises SourceError (SourceChanged) for a source that cannot be read as it was, a
        TransportError for a failure worth retrying.
        """
        if byte_range.end >= self._source.size_bytes:
            raise LocalProtocolError(
                f"range {byte_range} is beyond the source's {self._source.size_bytes} bytes"
            )
        start = byte_range.start
        # A resumed upload starts past bytes the md5 has not seen: read them first, in
        # the same request, rather than again at the end (not while other ranges are in
        # flight: parallel parts would each read the same gap).
        catch_up = self._md5 is not None and not self._active and self._hashed_upto < start
        fetched = ByteRange(self._hashed_upto, byte_range.end) if catch_up else byte_range
        position = fetched.start
        self._active += 1
        try:
            async for piece in self._fetch(fetched):
                end = position + len(piece)
                if end > start:
                    yield piece if position >= start else piece[start - position :]
                position = end
        finally:
            self._active -= 1

    @property
    def hashing(self) -> bool:
        """True when this reader computes the source's md5."""
        return self._md5 is not None

    @property
    def can_zero_copy(self) -> bool:
        """Always False: a remote source's bytes pass through Python."""
        return False

    @property
    def bytes_read(self) -> int:
        """Bytes received from the source so far, re-reads and skipped bytes included."""
        return self._bytes_read

    def file_slice(
        self, byte_range: ByteRange, on_sent: Callable[[int], None] | None = None
    ) -> FileSlice:
        """Not available: check :attr:`can_zero_copy` first."""
        raise LocalProtocolError(f"{self._source.name}: a remote source cannot be sent zero-copy")

    @asynccontextmanager
    async def hashing_beside(self, end: int) -> AsyncIterator[None]:
        """Nothing to do: a remote reader hashes what it reads (no zero-copy sends)."""
        yield

    async def md5_hexdigest(self) -> str:
        """The md5 of the whole source; reads what was not read in order."""
        if self._md5 is None:
            raise RuntimeError("this reader does not hash")
        size = self._source.size_bytes
        if self._hashed_upto < size:
            async for _ in self.iter_range(ByteRange(self._hashed_upto, size - 1)):
                pass
        return self._md5.hexdigest()
