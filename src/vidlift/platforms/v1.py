"""JW Platform's v1 API with the seed's resumable upload protocol (platforms layer).

The first :class:`~vidlift.platforms.base.Platform`: videos/create (upload_method
multipart) opens a session, segments go in order to the upload server, a failed request
is followed by a 1-byte probe (../shared/PROTOCOL.md), videos/show verifies. Every video
carries ``custom.vidlift_job_id`` (the job's marker) and ``custom.vidlift_source`` (a
digest of its source) so that a lost create answer is found again by videos/list, and a
look-up never adopts another library's video with the same job id.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING

from vidlift.client.api import ApiClient
from vidlift.client.reading import RangeReader
from vidlift.client.uploader import SegmentSender, UploadTarget
from vidlift.config import DEFAULT_API_FORMAT
from vidlift.errors import ConfigError, PosterNotSet
from vidlift.platforms.base import (
    AckedCallback,
    FinishedUpload,
    LibraryPage,
    RemoteVideo,
    SentCallback,
    UploadHandle,
)
from vidlift.platforms.batches import BATCH_FIELD, BatchBook, BatchTagging
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.models import CreateAnswer, S3CreateAnswer, VideoInfo
from vidlift.protocol.ranges import RangeSet
from vidlift.protocol.session import Finish, SendSegment, UploadSession
from vidlift.protocol.urls import build_put_url, build_upload_url

if TYPE_CHECKING:
    from vidlift.platforms.v1_s3 import V1S3Transfer

__all__ = [
    "BATCH_FIELD",
    "LIBRARY_FIELD",
    "MARKER_FIELD",
    "S3_UPLOAD_ID",
    "SOURCE_FIELD",
    "UPLOAD_METHODS",
    "V1Platform",
    "V1Transfer",
]

MARKER_FIELD = "vidlift_job_id"
SOURCE_FIELD = "vidlift_source"
LIBRARY_FIELD = "vidlift_library"
LIST_PAGE_LIMIT = 1000  # the most videos/list answers in one call
UPLOAD_METHODS = ("multipart", "s3")  # resumable segments, or one signed PUT (v1_s3.py)
S3_UPLOAD_ID = "s3"  # a handle's upload_id for an s3 upload (its secret: the link)


def remote_video(info: VideoInfo) -> RemoteVideo:
    """A videos/show or videos/list entry as the seam describes videos."""
    return RemoteVideo(
        key=info.key,
        status=info.status,
        size_bytes=info.size,
        md5=info.md5.lower() if info.md5 else None,
        marker=info.custom.get(MARKER_FIELD),
        tag=info.custom.get(SOURCE_FIELD),
        error_message=info.error_message,
    )


class V1Transfer:
    """One resumable session: the pure :class:`UploadSession` driven over the wire."""

    def __init__(
        self,
        sender: SegmentSender,
        target: UploadTarget,
        session: UploadSession,
        gate: AbstractAsyncContextManager[None] | None = None,
    ) -> None:
        self._sender = sender
        self._target = target
        self.session = session
        self._gate = gate
        self.requests_sent = 0
        self.probes_sent = 0

    @property
    def acked(self) -> RangeSet:
        """What the upload server acknowledged."""
        return self.session.acked

    def restart(self) -> None:
        """The server lost the session's bytes: send them all again after a probe."""
        self.session.restart_after_reset()

    async def run(
        self, reader: RangeReader, *, on_sent: SentCallback, on_acked: AckedCallback
    ) -> FinishedUpload:
        """Segments in order until the server's final answer; the first failure is raised
        (the session then probes on the next call)."""
        session = self.session
        while True:
            action = session.next_action()
            if isinstance(action, Finish):
                final = action.answer.final
                return FinishedUpload(final, final.size if final is not None else None)
            try:
                await self._send(reader, action, on_sent)
            except BaseException:
                if session.in_flight is not None:
                    session.interrupted()
                raise
            await on_acked(session.acked)

    async def _send(self, reader: RangeReader, action: SendSegment, on_sent: SentCallback) -> None:
        if action.probe:
            self.probes_sent += 1
        else:
            self.requests_sent += 1
        async with self._gate or nullcontext():
            answer = await self._sender.send(
                self._target, reader, action.byte_range, on_sent=on_sent
            )
        self.session.receive(answer)


class V1Platform(BatchTagging):
    """JW Platform v1: signed API calls plus the resumable upload protocol."""

    def __init__(
        self,
        api: ApiClient | None,
        sender: SegmentSender,
        *,
        chunk_size_bytes: int,
        api_format: str = DEFAULT_API_FORMAT,
        gate: AbstractAsyncContextManager[None] | None = None,
        library: str | None = None,
        upload_method: str = "multipart",
        verify_batch_size: int | None = None,
    ) -> None:
        """``upload_method`` "s3": each file in one PUT to a signed link (not resumable).

        Raises ConfigError for another upload method."""
        if upload_method not in UPLOAD_METHODS:
            raise ConfigError(f"upload_method must be multipart or s3, not {upload_method!r}")
        self._s3 = upload_method == "s3"
        self._api = api
        self._library = library
        # Set: every video created carries a batch name, listed at once to verify them.
        self._batches = BatchBook(verify_batch_size) if verify_batch_size else None
        self._sender = sender
        self._chunk_size_bytes = chunk_size_bytes
        self._api_format = api_format
        self._gate = gate

    @property
    def api(self) -> ApiClient:
        """The API client; only protocol-only uploads have none (and never call it)."""
        if self._api is None:
            raise RuntimeError("this platform has no API client (protocol-only upload)")
        return self._api

    @property
    def has_api(self) -> bool:
        """False for protocol-only uploads (an upload URL and session id, nothing else)."""
        return self._api is not None

    def _handle(self, created: CreateAnswer | S3CreateAnswer) -> UploadHandle:
        if isinstance(created, S3CreateAnswer):
            return UploadHandle(created.video_key, S3_UPLOAD_ID, build_put_url(created.link))
        url = build_upload_url(created.link, api_format=self._api_format)
        return UploadHandle(created.video_key, created.session_id, url)

    async def find(self, marker: str, tags: Collection[str | None]) -> RemoteVideo | None:
        """videos/list by ``custom.vidlift_job_id``; the oldest match of this source."""
        found = await self.api.list_videos(
            search={f"custom.{MARKER_FIELD}": marker}, result_limit=10
        )
        for video in found.videos:
            source = video.custom.get(SOURCE_FIELD)
            if video.custom.get(MARKER_FIELD) == marker and (source is None or source in tags):
                return remote_video(video)
        return None

    def _tagged(self, metadata: VideoMetadata, marker: str, tag: str | None) -> VideoMetadata:
        custom = {**metadata.custom, MARKER_FIELD: marker}
        if tag is not None:
            custom[SOURCE_FIELD] = tag
        if self._library is not None:
            custom[LIBRARY_FIELD] = self._library
        return replace(metadata, custom=custom)

    async def create(
        self, metadata: VideoMetadata, *, marker: str, tag: str | None, size_bytes: int
    ) -> UploadHandle:
        """videos/create with the job's marker and source tag in its custom fields."""
        tagged = self._tagged(metadata, marker, tag)
        batch = self._batches.next_name() if self._batches is not None else None
        if batch is not None:  # verified with its batch: one listing call for many
            tagged = replace(tagged, custom={**tagged.custom, BATCH_FIELD: batch})
        if self._s3:
            handle = self._handle(await self.api.create_video_s3(tagged))
        else:
            handle = self._handle(await self.api.create_video(tagged))
        if self._batches is not None and batch is not None:
            self._batches.created(handle.video_key, batch)
        return handle

    async def create_fetched(
        self, metadata: VideoMetadata, *, marker: str, tag: str | None, download_url: str
    ) -> str:
        """videos/create with ``download_url``: the platform fetches the file itself; the
        new video's key. The marker and tag go in its custom fields as for an upload."""
        return await self.api.create_video_fetch(self._tagged(metadata, marker, tag), download_url)

    @property
    def sets_posters(self) -> bool:
        """False: v1 sets no poster from a URL."""
        return False

    async def add_poster(self, video_key: str, image_url: str) -> str:
        """v1 sets no poster from a URL (its videos/thumbnails/update takes a frame position
        or an uploaded image): PosterNotSet, reported; the video is done."""
        raise PosterNotSet("v1 cannot set a poster from a URL")

    async def set_poster(self, video_key: str, poster_id: str) -> None:
        """Never reached on v1 (see :meth:`add_poster`)."""
        raise PosterNotSet("v1 cannot set a poster from a URL")

    async def reopen(self, video_key: str, *, size_bytes: int) -> UploadHandle:
        """videos/update: a new session (or s3 link) on the same video."""
        if self._s3:
            return self._handle(await self.api.update_video_s3(video_key))
        return self._handle(await self.api.update_video(video_key))

    def transfer(
        self, handle: UploadHandle, size_bytes: int, acked: RangeSet | None
    ) -> V1Transfer | V1S3Transfer:
        """The sending state of ``handle``: ``acked`` None for a session just opened (the
        server holds nothing), else what an earlier run recorded (possibly nothing): the
        server is then probed first, as it may hold more. An s3 handle: one PUT."""
        if handle.upload_id == S3_UPLOAD_ID:
            # Imported here: it builds on v2's whole-file transfer, which a segment
            # upload (the default) does not need to load.
            from vidlift.platforms.v1_s3 import V1S3Transfer

            return V1S3Transfer(
                self._sender.transport,
                handle.upload_secret,
                video_key=handle.video_key,
                size_bytes=size_bytes,
                acked=acked or RangeSet(),
                zero_copy=self._sender.zero_copy,
                throttle=self._sender.throttle,
            )
        target = UploadTarget(handle.upload_secret, handle.upload_id, "")
        if acked is None:
            session = UploadSession(size_bytes, self._chunk_size_bytes)
        else:
            session = UploadSession.resume(size_bytes, self._chunk_size_bytes, acked)
        return V1Transfer(self._sender, target, session, self._gate)

    async def show(self, video_key: str) -> RemoteVideo:
        """videos/show."""
        return remote_video(await self.api.show_video(video_key))

    async def update_metadata(self, video_key: str, metadata: VideoMetadata) -> None:
        """videos/update with the metadata's parameters."""
        await self.api.update_video_metadata(video_key, metadata)

    async def list_library(self, *, offset: int, limit: int = LIST_PAGE_LIMIT) -> LibraryPage:
        """videos/list by ``custom.vidlift_library`` (up to 1,000 videos a call)."""
        if self._library is None:
            return LibraryPage((), 0)
        found = await self.api.list_videos(
            search={f"custom.{LIBRARY_FIELD}": self._library},
            result_limit=min(limit, LIST_PAGE_LIMIT),
            result_offset=offset,
        )
        return LibraryPage(tuple(remote_video(v) for v in found.videos), found.total)

    async def list_batch(self, name: str) -> LibraryPage:
        """videos/list by ``custom.vidlift_batch``: one call for the whole batch."""
        found = await self.api.list_videos(
            search={f"custom.{BATCH_FIELD}": name}, result_limit=LIST_PAGE_LIMIT
        )
        return LibraryPage(tuple(remote_video(v) for v in found.videos), found.total)
