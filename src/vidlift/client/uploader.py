"""Sending one segment and classifying the answer (client layer).

No retries and no sleeping here (only the bandwidth throttle waits): the caller's
retry policy decides what an answer or an error means for the upload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from vidlift.client.fileslice import FileSlice, loop_can_sendfile
from vidlift.client.reading import RangeReader
from vidlift.client.throttle import Throttle
from vidlift.client.transport import Body, HttpRequest, Transport
from vidlift.protocol.headers import segment_headers
from vidlift.protocol.ranges import ByteRange
from vidlift.protocol.segment import SegmentAnswer, classify_segment_answer

__all__ = ["SegmentSender", "UploadTarget"]

SentCallback = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and as what a file's segments go."""

    upload_url: str
    session_id: str
    filename: str
    content_type: str | None = None


# With the md5 on, a zero-copy segment is hashed by a second read of its (cached) pages.
# Measured per file, md5 on (benchmarks/RESULTS.md): 256 KiB, streaming 2.6 ms of client
# CPU vs 3.7 ms zero-copy; 2 MiB, even (6.7-7.5 vs 6.5-6.9 ms); 8 MiB segments, 2.7 vs
# 2.0 CPU s/GB.
HASH_BESIDE_MIN_BYTES = 2 * 1024 * 1024


class SegmentSender:
    """Sends segments over the shared transport."""

    def __init__(
        self, transport: Transport, *, throttle: Throttle | None = None, zero_copy: bool = True
    ) -> None:
        self._transport = transport
        self._throttle = throttle
        self._zero_copy = zero_copy

    @property
    def transport(self) -> Transport:
        """The shared transport (an s3 upload's PUT goes over it too)."""
        return self._transport

    @property
    def zero_copy(self) -> bool:
        """Whether bodies may go out with sendfile."""
        return self._zero_copy

    @property
    def throttle(self) -> Throttle | None:
        """The bandwidth limit (an s3 upload's PUT shares it too)."""
        return self._throttle

    def _zero_copy_for(
        self, target: UploadTarget, reader: RangeReader, byte_range: ByteRange
    ) -> bool:
        """sendfile bodies: plain HTTP, no throttle, and, when the reader hashes, a segment
        large enough that hashing beside the send beats hashing while streaming, on a loop
        that has sendfile (on uvloop a hashing reader streams: it reads the bytes once)."""
        if not self._zero_copy or self._throttle is not None:
            return False
        if not target.upload_url.startswith("http://"):
            return False
        if not reader.can_zero_copy:
            return False
        if not reader.hashing:
            return True
        return byte_range.length >= HASH_BESIDE_MIN_BYTES and loop_can_sendfile()

    async def _body(
        self, reader: RangeReader, byte_range: ByteRange, on_sent: SentCallback | None
    ) -> AsyncIterator[bytes]:
        async for piece in reader.iter_range(byte_range):
            if self._throttle is not None:
                await self._throttle.acquire(len(piece))
            yield piece
            if on_sent is not None:
                on_sent(len(piece))

    async def send(
        self,
        target: UploadTarget,
        reader: RangeReader,
        byte_range: ByteRange,
        *,
        on_sent: SentCallback | None = None,
    ) -> SegmentAnswer:
        """POST bytes ``byte_range`` of the file; return the classified answer.

        Raises TransportError subclasses (no answer), RangeHeaderError (unreadable 201),
        UploadServerBusy and SegmentRejected (refusals).
        """
        headers = segment_headers(
            byte_range=byte_range,
            total=reader.source.size_bytes,
            session_id=target.session_id,
            filename=target.filename or reader.source.filename,
            content_type=target.content_type,
        )
        body: Body
        if self._zero_copy_for(target, reader, byte_range):
            body = reader.file_slice(byte_range, on_sent)
        else:
            body = self._body(reader, byte_range, on_sent)
        request = HttpRequest("POST", target.upload_url, headers, body=body)
        if isinstance(body, FileSlice) and reader.hashing:
            async with reader.hashing_beside(byte_range.end + 1):
                response = await self._transport.send(request)
        else:
            response = await self._transport.send(request)
        return classify_segment_answer(
            response.status, response.headers, response.body, session_id=target.session_id
        )
