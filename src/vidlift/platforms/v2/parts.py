"""Sending one v2 part (or a whole file: v2 direct, v1 s3) to its pre-signed link, and
classifying the answer (platforms layer).

The body is a zero-copy :class:`~vidlift.client.fileslice.FileSlice` on plain HTTP with
an event loop that has ``sendfile``; the part's md5 is then computed beside the send in a
worker thread (both read the same cached pages). Otherwise the part streams in pieces and
is hashed as it goes. The answer's ``ETag`` must be the quoted md5 of the part. A link is
a secret (its signature): it never appears in an error message.

Under a bandwidth limit (``--bwlimit``: a :class:`~vidlift.client.throttle.Throttle`
shared with every other upload of the process) a part always streams, each piece waiting
for its share of the limit before it goes out: a sendfile body could not be paced.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterator, Callable

import anyio

from vidlift.client.reading import RangeReader
from vidlift.client.throttle import Throttle
from vidlift.client.transport import Body, HttpRequest, HttpResponse, Transport
from vidlift.errors import (
    PartLinkRefused,
    RemoteProtocolError,
    SegmentRejected,
    TransportError,
    UploadGone,
    UploadServerBusy,
    VerificationError,
)
from vidlift.platforms.base import AckedCallback, FinishedUpload
from vidlift.protocol.ranges import ByteRange, RangeSet

__all__ = ["GONE_STATUS", "WholeFileTransfer", "hash_range", "put_part"]

SentCallback = Callable[[int], None]
_S3_CODE = re.compile(rb"<Code>([A-Za-z]{1,64})</Code>")
_HASH_BLOCK_BYTES = 1024 * 1024


def _md5_of_fd(fd: int, offset: int, length: int) -> str:
    """Blocking: md5 of ``length`` bytes of ``fd`` from ``offset`` (pread, one buffer)."""
    digest = hashlib.md5(usedforsecurity=False)
    buffer = bytearray(min(_HASH_BLOCK_BYTES, max(1, length)))
    view = memoryview(buffer)
    done = 0
    while done < length:
        got = os.preadv(fd, [view[: min(len(buffer), length - done)]], offset + done)
        if got == 0:
            raise RemoteProtocolError("the source file ended before the part")  # pragma: no cover
        digest.update(view[:got])
        done += got
    return digest.hexdigest()


async def hash_range(reader: RangeReader, byte_range: ByteRange) -> str:
    """The md5 (hex) of a range of the source: a local file is read in a worker thread; a
    remote source (URL, bucket) is read again over the network, range by range."""
    if reader.can_zero_copy:
        piece = reader.file_slice(byte_range, None)
        return await asyncio.to_thread(_md5_of_fd, piece.fd, piece.offset, piece.length)
    digest = hashlib.md5(usedforsecurity=False)
    async for chunk in reader.iter_range(byte_range):
        digest.update(chunk)
    return digest.hexdigest()


async def _streamed(
    reader: RangeReader,
    byte_range: ByteRange,
    digest: hashlib._Hash,
    on_sent: SentCallback | None,
    throttle: Throttle | None,
) -> AsyncIterator[bytes]:
    async for piece in reader.iter_range(byte_range):
        digest.update(piece)
        if throttle is not None:
            await throttle.acquire(len(piece))
        yield piece
        if on_sent is not None:
            on_sent(len(piece))


async def put_part(
    transport: Transport,
    link: str,
    reader: RangeReader,
    byte_range: ByteRange,
    *,
    label: str,
    zero_copy: bool,
    verify_md5: bool = True,
    on_sent: SentCallback | None = None,
    throttle: Throttle | None = None,
) -> str:
    """PUT the range's bytes to ``link``; the part's md5 (hex), checked against the ETag
    (``verify_md5=False``: nothing hashed, the platform's ETag is returned unchecked).
    ``throttle``: the bytes go out no faster than its rate (streamed, never sendfile).

    Raises PartLinkRefused (403), UploadGone (404), UploadServerBusy (5xx),
    SegmentRejected (other refusals), VerificationError (ETag is not the md5) and
    TransportError subclasses (no answer), each naming ``label``, never the link.
    """
    headers = {"Content-Length": str(byte_range.length)}
    digest = hashlib.md5(usedforsecurity=False)
    md5_task: asyncio.Future[str] | None = None
    body: Body
    if zero_copy and throttle is None and link.startswith("http://") and reader.can_zero_copy:
        piece = body = reader.file_slice(byte_range, on_sent)
        if verify_md5:
            md5_task = asyncio.ensure_future(
                asyncio.to_thread(_md5_of_fd, piece.fd, piece.offset, piece.length)
            )
    else:
        body = _streamed(reader, byte_range, digest, on_sent, throttle)
    try:
        response = await transport.send(HttpRequest("PUT", link, headers, body=body))
    except (TransportError, RemoteProtocolError) as exc:
        raise type(exc)(f"{label}: {_without_query(str(exc), link)}") from None
    finally:
        if md5_task is not None:  # the thread reads the reader's descriptor: wait for it
            with anyio.CancelScope(shield=True):
                await asyncio.wait([md5_task])
    md5 = md5_task.result() if md5_task is not None else digest.hexdigest()
    return _classify(response, md5 if verify_md5 else None, label)


def _classify(response: HttpResponse, md5: str | None, label: str) -> str:
    """The part's md5 (or the ETag, unchecked, when ``md5`` is None), else the error."""
    status = response.status
    if status == 200:
        etag = response.headers.get("etag", "").strip().strip('"')
        if md5 is not None and etag != md5:
            raise VerificationError(f"{label}: the platform's ETag is not the part's md5")
        return etag
    code = _s3_code(response.body)
    if status == 403:
        raise PartLinkRefused(f"{label}: the part link was refused ({code}); list the parts again")
    if status == 404:
        raise UploadGone(f"{label}: the platform no longer knows this upload ({code})")
    if status >= 500:
        retry = response.headers.get("retry-after", "")
        raise UploadServerBusy(
            f"{label}: {status} {code}",
            http_status=status,
            retry_after_s=float(retry) if retry.isdigit() else None,
        )
    raise SegmentRejected(f"{label}: {status} {code}", http_status=status)


def _s3_code(body: bytes) -> str:
    found = _S3_CODE.search(body[:4096])
    return found.group(1).decode("ascii") if found else "no S3 error code"


def _without_query(message: str, link: str) -> str:
    """``message`` with the link (and any query string of it) removed."""
    base, _, query = link.partition("?")
    if query:
        message = message.replace(query, "…")
    return message.replace(link, base)


# SegmentRejected 410: the job loop renews (a new upload on the same video/media).
GONE_STATUS = 410


class WholeFileTransfer:
    """A whole file in one PUT to a pre-signed link (v2 direct uploads, v1 ``upload_method
    =s3``): nothing acknowledged until the PUT is answered, then all of it (its ETag must be
    the file's md5). A failed PUT raises its error and the job loop sends the whole file
    again (a signed PUT overwrites). A link that no longer takes the file (403, 404) goes
    to :meth:`refused`, which each API settles its own way. ``LABEL`` names the upload in
    messages; the link is never shown."""

    LABEL = "video {key} upload"

    def __init__(
        self,
        transport: Transport,
        link: str,
        *,
        video_key: str,
        size_bytes: int,
        acked: RangeSet,
        zero_copy: bool = True,
        verify_md5: bool = True,
        throttle: Throttle | None = None,
    ) -> None:
        self._transport = transport
        self._throttle = throttle
        self._link = link
        self._video_key = video_key
        self._size = size_bytes
        self._acked = acked
        self._label = self.LABEL.format(key=video_key)
        self._zero_copy = zero_copy
        self._verify_md5 = verify_md5
        self.etags_checked = 0
        self.requests_sent = 0

    def __repr__(self) -> str:  # never the link
        return f"{type(self).__name__}(video={self._video_key}, acked={self._acked.byte_count})"

    @property
    def acked(self) -> RangeSet:
        """The whole file once a PUT was answered, else nothing."""
        return self._acked

    def restart(self) -> None:
        """The platform lost the file: send it again."""
        self._acked = RangeSet()

    async def run(
        self,
        reader: RangeReader,
        *,
        on_sent: SentCallback | None = None,
        on_acked: AckedCallback | None = None,
    ) -> FinishedUpload:
        """PUT the file, unless an earlier PUT was answered; a link that no longer takes
        it is settled by :meth:`refused`."""
        if self._acked.byte_count >= self._size:
            return FinishedUpload()
        whole = ByteRange(0, self._size - 1)
        self.requests_sent += 1
        try:
            await put_part(
                self._transport,
                self._link,
                reader,
                whole,
                label=self._label,
                zero_copy=self._zero_copy,
                verify_md5=self._verify_md5,
                on_sent=on_sent,
                throttle=self._throttle,
            )
            self.etags_checked = int(self._verify_md5)
        except (UploadGone, PartLinkRefused) as exc:
            await self.refused(exc)
        self._acked = RangeSet.of([whole])
        if on_acked is not None:
            await on_acked(self._acked)
        return FinishedUpload()

    async def refused(self, error: UploadGone | PartLinkRefused) -> None:
        """The link no longer takes the file: return when the platform holds it anyway,
        else raise SegmentRejected 410 (a new link on the same video)."""
        raise SegmentRejected(f"{error.message}; a new link is needed", http_status=GONE_STATUS)
