"""Local source files: checks, change detection and streaming reads (client layer).

A file is never read whole into memory: segments stream from disk in pieces.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import aiofiles.os
import anyio

from vidlift.client.fileslice import FileSlice
from vidlift.config import READ_PIECE_BYTES
from vidlift.errors import SourceError
from vidlift.protocol.ranges import ByteRange

__all__ = ["SourceFile", "SourceReader"]

_SHORTER = "the file became shorter during the upload"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A regular, readable, non-empty file, with the size and mtime it had when checked."""

    path: Path
    size_bytes: int
    mtime_ns: int

    @classmethod
    async def inspect(cls, path: Path | str) -> SourceFile:
        """Check the file and record its size and mtime.

        Raises SourceError (missing, not a regular file, unreadable, zero bytes).
        """
        path = Path(path)
        try:
            info = await aiofiles.os.stat(path)
        except FileNotFoundError:
            raise SourceError(str(path), "file not found") from None
        except OSError as exc:
            raise SourceError(str(path), f"cannot read file information: {exc.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(str(path), "not a regular file")
        if not os.access(path, os.R_OK):
            raise SourceError(str(path), "no permission to read the file")
        if info.st_size == 0:
            raise SourceError(str(path), "the file is empty (0 bytes): nothing to upload")
        return cls(path, info.st_size, info.st_mtime_ns)

    @property
    def name(self) -> str:
        """The path, for messages."""
        return str(self.path)

    @property
    def filename(self) -> str:
        """The file's name, for Content-Disposition."""
        return self.path.name

    @property
    def identity(self) -> str:
        """Changes when the content changes (size and modification time)."""
        return f"mtime:{self.mtime_ns}"

    async def check_unchanged(self) -> None:
        """Raise SourceError when the file's size or mtime differs from when it was checked."""
        try:
            info = await aiofiles.os.stat(self.path)
        except OSError:
            raise SourceError(str(self.path), "the file disappeared during the upload") from None
        if info.st_size != self.size_bytes or info.st_mtime_ns != self.mtime_ns:
            raise SourceError(
                str(self.path),
                f"the file changed since it was queued (size {self.size_bytes} -> "
                f"{info.st_size}, or its modification time); the next `vidlift run` uploads "
                "the new version into the same video",
            )

    def open(self, piece_bytes: int = READ_PIECE_BYTES, *, hash_md5: bool = True) -> SourceReader:
        """A reader for ranges of the file (opened lazily on ``async with``)."""
        return SourceReader(self, piece_bytes, hash_md5=hash_md5)


class SourceReader:
    """Reads byte ranges of one source file in pieces of ``piece_bytes``.

    Each piece is read with ``os.pread`` in a worker thread, and hashed there too
    (hashlib releases the GIL), so neither the read nor the md5 blocks the event loop.
    """

    def __init__(self, source: SourceFile, piece_bytes: int, *, hash_md5: bool = True) -> None:
        self.source = source
        self._piece_bytes = piece_bytes
        self._fd: int | None = None
        # md5 of the source, computed on the fly while segments go out in order; only
        # the bytes never sent in order are read a second time (see md5_hexdigest).
        self._md5 = hashlib.md5(usedforsecurity=False) if hash_md5 else None
        self._hashed_upto = 0
        self.bytes_read = 0

    async def __aenter__(self) -> SourceReader:
        try:
            self._fd = await anyio.to_thread.run_sync(os.open, self.source.path, os.O_RDONLY)
        except OSError as exc:
            raise SourceError(str(self.source.path), f"cannot open: {exc.strerror}") from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _read_piece(self, fd: int, size: int, position: int) -> bytes:
        """Blocking: runs in a worker thread, one at a time per reader."""
        piece = os.pread(fd, size, position)
        self.bytes_read += len(piece)
        if piece and self._md5 is not None and position == self._hashed_upto:
            self._md5.update(piece)
            self._hashed_upto += len(piece)
        return piece

    def _open_fd(self) -> int:
        if self._fd is None:
            raise RuntimeError("SourceReader used outside 'async with'")
        return self._fd

    def _read_failed(self, exc: OSError) -> SourceError:
        return SourceError(str(self.source.path), f"read failed: {exc.strerror}")

    async def iter_range(self, byte_range: ByteRange) -> AsyncIterator[bytes]:
        """Yield the bytes of ``byte_range`` in pieces. Raises SourceError if the file is short."""
        fd, position, end = self._open_fd(), byte_range.start, byte_range.end + 1
        while position < end:
            size = min(self._piece_bytes, end - position)
            try:
                piece = await anyio.to_thread.run_sync(self._read_piece, fd, size, position)
            except OSError as exc:
                raise self._read_failed(exc) from None
            if not piece:
                raise SourceError(str(self.source.path), _SHORTER)
            position += len(piece)
            yield piece

    @property
    def can_zero_copy(self) -> bool:
        """A local file can be sent with sendfile."""
        return True

    @property
    def hashing(self) -> bool:
        """True when this reader computes the file's md5."""
        return self._md5 is not None

    def file_slice(
        self, byte_range: ByteRange, on_sent: Callable[[int], None] | None = None
    ) -> FileSlice:
        """The range as a zero-copy body. A hashing reader does not see those bytes: send
        it inside :meth:`hashing_beside`."""
        return FileSlice(self._open_fd(), byte_range.start, byte_range.length, on_sent)

    @asynccontextmanager
    async def hashing_beside(self, end: int) -> AsyncIterator[None]:
        """Hash the file up to byte ``end`` (exclusive) in a worker thread while the body
        of the ``async with`` runs (a zero-copy send of the same range: both read the same
        pages, so the file comes from the disk once). Waits for the hash on the way out,
        even when cancelled. The md5 is the local file's: a send that fails loses nothing
        here, what is hashed stays hashed.
        """
        fd = self._open_fd()
        if self._md5 is None or self._hashed_upto >= end:
            yield
            return
        work = asyncio.get_running_loop().run_in_executor(None, self._hash_sync, fd, end)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await work
                except OSError as exc:
                    raise self._read_failed(exc) from None

    def _hash_sync(self, fd: int, end: int) -> None:
        """Blocking: hash [hashed_upto, end) with one reused buffer."""
        assert self._md5 is not None
        buffer = bytearray(min(self._piece_bytes, end - self._hashed_upto))
        view = memoryview(buffer)
        while self._hashed_upto < end:
            size = min(len(buffer), end - self._hashed_upto)
            got = os.preadv(fd, [view[:size]], self._hashed_upto)
            if got == 0:
                raise SourceError(str(self.source.path), _SHORTER)
            self._md5.update(view[:got])
            self._hashed_upto += got

    async def md5_hexdigest(self) -> str:
        """The md5 of the whole file (reads only what was not hashed while sending)."""
        if self._md5 is None:
            raise RuntimeError("this reader does not hash")
        if self._hashed_upto < self.source.size_bytes:
            try:  # one thread hop, one reused buffer
                await anyio.to_thread.run_sync(
                    self._hash_sync, self._open_fd(), self.source.size_bytes
                )
            except OSError as exc:
                raise self._read_failed(exc) from None
        return self._md5.hexdigest()
