"""In-memory companions of upload sessions: segments in flight and running checksums (part
of the public test kit, :mod:`vidlift.testing`).

Nothing here is durable: after a restart the in-flight set is empty (those connections
are gone) and checksums are recomputed from the file on disk at completion.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

from vidlift.testing.emulator.ranges import ByteRange, overlaps

__all__ = ["READ_BLOCK_BYTES", "SessionRuntime", "StreamHash"]

READ_BLOCK_BYTES = 1024 * 1024


class StreamHash:
    """md5 and sha256 of a file's first ``offset`` bytes, grown as bytes arrive in order."""

    __slots__ = ("md5", "offset", "sha256")

    def __init__(self) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.offset = 0

    def copy(self) -> StreamHash:
        """An independent copy (a segment hashes into a copy, adopted only on commit)."""
        twin = StreamHash()
        twin.md5, twin.sha256, twin.offset = self.md5.copy(), self.sha256.copy(), self.offset
        return twin

    def update(self, data: bytes | memoryview) -> None:
        """Hash the next ``len(data)`` bytes of the file."""
        self.md5.update(data)
        self.sha256.update(data)
        self.offset += len(data)

    def update_from_file(self, path: Path, end: int) -> None:
        """Hash bytes ``offset..end-1`` read from ``path`` (blocking: run in a thread)."""
        if self.offset >= end:
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            while self.offset < end:
                block = os.pread(fd, min(READ_BLOCK_BYTES, end - self.offset), self.offset)
                if not block:
                    raise OSError(f"{path}: file shorter than {end} bytes")
                self.update(block)
        finally:
            os.close(fd)

    def hexdigests(self) -> tuple[str, str]:
        """(md5, sha256) as lowercase hex."""
        return self.md5.hexdigest(), self.sha256.hexdigest()


@dataclass(slots=True)
class SessionRuntime:
    """What the upload server keeps in memory for one session.

    ``generation`` changes when a completed session is forgotten (the ``forget_completed``
    fault): a segment that started before must not commit into the new upload.
    """

    hasher: StreamHash | None
    inflight: dict[int, ByteRange] = field(default_factory=dict)
    hashing: bool = False
    generation: int = 0
    finish_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tokens: itertools.count[int] = field(default_factory=itertools.count)

    def enter(self, segment: ByteRange) -> int:
        """Register a segment in flight; returns the token for :meth:`leave`."""
        token = next(self._tokens)
        self.inflight[token] = segment
        return token

    def leave(self, token: int) -> None:
        """Forget a segment that is no longer in flight."""
        self.inflight.pop(token, None)

    def overlaps_inflight(self, segment: ByteRange) -> bool:
        """True when ``segment`` shares a byte with a segment still in flight."""
        return overlaps(self.inflight.values(), segment)

    def restart(self, *, checksums: bool) -> None:
        """A new upload starts under the same session id (the session was forgotten)."""
        self.generation += 1
        self.hasher = StreamHash() if checksums else None
        self.hashing = False
