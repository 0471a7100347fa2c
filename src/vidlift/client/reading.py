"""The reader role: what senders need from a source of bytes (client layer).

Platforms send bytes they read through a :class:`RangeReader`; sources provide readers.
Both sit above this layer and neither imports the other: this Protocol is their contract
(``vidlift.sources`` implements it; ``vidlift.platforms`` consumes it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from vidlift.client.fileslice import FileSlice
from vidlift.protocol.ranges import ByteRange

__all__ = ["RangeReader", "SourceInfo"]


class SourceInfo(Protocol):
    """What a sender shows of a source."""

    @property
    def name(self) -> str:
        """For messages: a path, or scheme://host/path (never a query string)."""
        ...

    @property
    def filename(self) -> str:
        """For Content-Disposition."""
        ...

    @property
    def size_bytes(self) -> int:
        """The source's size."""
        ...


class RangeReader(Protocol):
    """Byte ranges of one open source, in pieces; optionally zero-copy."""

    @property
    def source(self) -> SourceInfo:
        """The source read."""
        ...

    @property
    def hashing(self) -> bool:
        """True when the reader computes the source's md5 while reading in order."""
        ...

    @property
    def can_zero_copy(self) -> bool:
        """True when :meth:`file_slice` can give a sendfile body (local files)."""
        ...

    def iter_range(self, byte_range: ByteRange) -> AsyncIterator[bytes]:
        """The bytes of ``byte_range`` in pieces. Raises SourceError."""
        ...

    def file_slice(
        self, byte_range: ByteRange, on_sent: Callable[[int], None] | None = None
    ) -> FileSlice:
        """The range as a zero-copy body (only when ``can_zero_copy``)."""
        ...

    def hashing_beside(self, end: int) -> AbstractAsyncContextManager[None]:
        """Hash up to ``end`` beside a zero-copy send of the same bytes."""
        ...
