"""The Source seam: what the job loop needs from where a video's bytes live (sources layer).

A :class:`Source` is checked once (size, identity) and then read in byte ranges, as many
times as the upload needs, through a :class:`SourceReader`. Implementations: local files,
HTTP(S) origins, S3 objects. Every method raises only :mod:`vidlift.errors` classes:
:class:`~vidlift.errors.SourceError` for a source that cannot be used as it is (missing,
refused, changed: :class:`~vidlift.errors.SourceChanged`), a
:class:`~vidlift.errors.TransportError` for a failure worth retrying (5xx, a dropped
connection). Sources never retry and never sleep: the job loop decides.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from vidlift.client.reading import RangeReader

__all__ = ["Source", "SourceReader"]


class Source(Protocol):
    """A video's bytes somewhere: a size and an identity fixed when it was inspected."""

    @property
    def name(self) -> str:
        """For messages: a path, or scheme://host/path (NEVER a query string)."""
        ...

    @property
    def filename(self) -> str:
        """For Content-Disposition and default titles."""
        ...

    @property
    def size_bytes(self) -> int:
        """The size it had when inspected."""
        ...

    @property
    def identity(self) -> str:
        """``mtime:<ns>`` for files; ``etag:"..."`` or ``last-modified:...`` for origins."""
        ...

    async def check_unchanged(self) -> None:
        """Raise SourceChanged (a SourceError) when size or identity differ from now."""
        ...

    def open(self, piece_bytes: int, *, hash_md5: bool = True) -> SourceReader:
        """A reader of ranges in pieces of at most ``piece_bytes`` (opened on ``async with``)."""
        ...


class SourceReader(RangeReader, Protocol):
    """Reads ranges of one source; an async context manager, opened lazily in __aenter__."""

    @property
    def source(self) -> Source:
        """The source read (a plain attribute in implementations is fine)."""
        ...

    async def __aenter__(self) -> SourceReader: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def md5_hexdigest(self) -> str:
        """The md5 of the whole source (reads what was not hashed while sending)."""
        ...

    @property
    def bytes_read(self) -> int:
        """Bytes read from the source so far (re-reads included)."""
        ...
