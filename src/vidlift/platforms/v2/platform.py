"""JW Platform's v2 API as a ``Platform`` (platforms layer): find a media by external_id,
create it with its upload, reopen an upload for the same media, the transfer of an upload,
show, update metadata.

Exactly once: the job id is the media's ``external_id``; after a lost create answer the
job loop calls :meth:`V2Platform.find` before creating again. A resumed direct upload never
creates a second media (:meth:`V2Platform.reopen` re-uploads to the same one).

The media carries ``custom_params.vidlift_source`` (the source's tag) and
``vidlift_size`` (the file's size: the v2 media answer states none, and the job loop asks
whether the platform holds a file of that size; each part was checked by its ETag).
A handle's ``upload_id`` is ``multipart/<part bytes>/<upload id>`` (the plan belongs to the
upload: a resume cuts the file the same way whatever ``chunk_size`` is now) or ``direct``;
its ``upload_secret`` is the upload token or the direct link.

Built with ``verify_batch_size``, it is a :class:`~vidlift.platforms.base.BatchListing`
as v1 is: each media it creates carries ``custom_params.vidlift_batch`` (a
:class:`~vidlift.platforms.batches.BatchBook` name), and one media listing by that param
(up to 1,000 media, oldest first) confirms a whole batch of finished uploads instead of a
show each (:mod:`vidlift.jobs.verification`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC
from typing import Any

from vidlift.client.api import CallPacer
from vidlift.client.throttle import Throttle
from vidlift.client.transport import Transport
from vidlift.errors import AnswerParseError, LocalProtocolError, PosterNotSet, StillProcessing
from vidlift.platforms.base import (
    BatchListing,
    LibraryPage,
    Platform,
    RemoteVideo,
    Transfer,
    UploadHandle,
)
from vidlift.platforms.batches import BATCH_FIELD, MAX_BATCH_SIZE, BatchBook, BatchTagging
from vidlift.platforms.v2.api import V2Api, V2Settings
from vidlift.platforms.v2.models import CreateAnswer, MediaAnswer
from vidlift.platforms.v2.plan import PartPlan, plan_parts
from vidlift.platforms.v2.transfer import V2DirectTransfer, V2Transfer
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.ranges import RangeSet

__all__ = [
    "LIBRARY_FIELD",
    "SIZE_FIELD",
    "SOURCE_FIELD",
    "V2Platform",
    "V2Settings",
    "to_v2_metadata",
]

_DIRECT = "direct"
SOURCE_FIELD = "vidlift_source"  # custom_params: the source's tag (as v1's custom field)
SIZE_FIELD = "vidlift_size"  # custom_params: the file's size in bytes
LIBRARY_FIELD = "vidlift_library"  # custom_params: the library's tag (the survey lists it)
_OWN_FIELDS = (SOURCE_FIELD, SIZE_FIELD, LIBRARY_FIELD, BATCH_FIELD)  # kept by updates
LIST_PAGE_LENGTH = 1000  # media per survey call
BATCH_SORT = "created:asc"  # a batch's listing: the oldest media first


class V2Platform(BatchTagging):
    """The v2 Management API behind the ``Platform`` seam."""

    def __init__(
        self,
        transport: Transport,
        settings: V2Settings,
        *,
        verify_batch_size: int | None = None,
        pacer: CallPacer | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        """``verify_batch_size``: media per verification batch (None: a show per file).
        ``pacer``: holds API calls while the quota is spent (:mod:`vidlift.jobs.pacing`).
        ``throttle``: the bandwidth limit every part and direct PUT shares (``--bwlimit``)."""
        self._transport = transport
        self._throttle = throttle
        self._settings = settings
        self.api = V2Api(transport, settings, pacer)
        # Set: every media created carries a batch name, listed at once to verify them.
        self._batches = BatchBook(verify_batch_size) if verify_batch_size else None

    def __repr__(self) -> str:
        return f"V2Platform(endpoint={self._settings.endpoint!r}, site={self._settings.site_id!r})"

    def plan(self, size_bytes: int) -> PartPlan:
        """How a file of ``size_bytes`` is cut (one part: a direct upload)."""
        return plan_parts(size_bytes, self._settings.part_floor_bytes)

    async def find(self, marker: str, tags: Collection[str | None]) -> RemoteVideo | None:
        """The oldest media whose external_id is ``marker`` and whose source tag is one
        of ``tags`` or unset (one API call), or None."""
        for media in await self.api.find(marker):
            source = media.metadata.custom_params.get(SOURCE_FIELD)
            if media.metadata.external_id == marker and (source is None or source in tags):
                return _remote(media)
        return None

    async def create(
        self, metadata: VideoMetadata, *, marker: str, tag: str | None, size_bytes: int
    ) -> UploadHandle:
        """A new media (external_id = ``marker``) and its upload."""
        plan = self.plan(size_bytes)
        fields = to_v2_metadata(metadata, marker=marker, tag=tag)
        custom = {**fields.get("custom_params", {}), SIZE_FIELD: str(size_bytes)}
        if tag is not None:
            custom[SOURCE_FIELD] = tag
        if self._settings.library is not None:
            custom[LIBRARY_FIELD] = self._settings.library
        batch = self._batches.next_name() if self._batches is not None else None
        if batch is not None:  # verified with its batch: one listing call for many
            custom[BATCH_FIELD] = batch
        fields["custom_params"] = custom
        answer = await self.api.create(_method(plan), fields)
        handle = _handle(answer, plan)
        if self._batches is not None and batch is not None:
            self._batches.created(handle.video_key, batch)
        return handle

    async def create_fetched(
        self, metadata: VideoMetadata, *, marker: str, tag: str | None, download_url: str
    ) -> str:
        """A new media (external_id = ``marker``) whose file the platform fetches from
        ``download_url`` (``upload.method: fetch``); its id."""
        fields = to_v2_metadata(metadata, marker=marker, tag=tag)
        custom = dict(fields.get("custom_params", {}))
        if tag is not None:
            custom[SOURCE_FIELD] = tag
        if self._settings.library is not None:
            custom[LIBRARY_FIELD] = self._settings.library
        fields["custom_params"] = custom
        answer = await self.api.create("fetch", fields, download_url=download_url)
        return answer.id

    @property
    def sets_posters(self) -> bool:
        """True: the v2 thumbnails API fetches an image and makes it the poster."""
        return True

    async def add_poster(self, video_key: str, image_url: str) -> str:
        """A thumbnail the platform fetches from ``image_url`` for the media; its id."""
        return (await self.api.create_thumbnail(video_key, image_url)).id

    async def set_poster(self, video_key: str, poster_id: str) -> None:
        """Make thumbnail ``poster_id`` the media's poster once the platform has it:
        StillProcessing before, PosterNotSet when the platform could not use the image."""
        thumbnail = await self.api.thumbnail(poster_id)
        if thumbnail.status == "failed":
            raise PosterNotSet(
                f"the platform could not use the poster image: "
                f"{thumbnail.error_message or 'no reason given'}"
            )
        if thumbnail.status != "ready":
            raise StillProcessing(video_key, f"waiting for its poster ({thumbnail.status})")
        await self.api.make_poster(poster_id)

    async def reopen(self, video_key: str, *, size_bytes: int) -> UploadHandle:
        """A new upload for the same media (reupload): never a second media."""
        plan = self.plan(size_bytes)
        answer = await self.api.reupload(video_key, _method(plan))
        custom = answer.metadata.custom_params
        if custom.get(SIZE_FIELD) != str(size_bytes):  # a changed source: its new size
            await self.api.update(
                video_key, {"custom_params": {**custom, SIZE_FIELD: str(size_bytes)}}
            )
        return _handle(answer, plan)

    def transfer(
        self, handle: UploadHandle, size_bytes: int, acked: RangeSet | None
    ) -> V2Transfer | V2DirectTransfer:
        """The sending state of ``handle``'s upload, resumed from ``acked`` (None: an
        upload just opened). Every run lists the parts first, so the platform is asked."""
        acked = acked or RangeSet()
        if handle.upload_id == _DIRECT:
            return V2DirectTransfer(
                self.api,
                self._transport,
                self._settings,
                video_key=handle.video_key,
                upload_link=handle.upload_secret,
                size_bytes=size_bytes,
                acked=acked,
                throttle=self._throttle,
            )
        kind, _, rest = handle.upload_id.partition("/")
        part_text, _, upload_id = rest.partition("/")
        if kind != "multipart" or not part_text.isdigit() or not upload_id:
            raise LocalProtocolError(f"not a v2 upload id: {handle.upload_id!r}")
        return V2Transfer(
            self.api,
            self._transport,
            self._settings,
            video_key=handle.video_key,
            upload_id=upload_id,
            upload_token=handle.upload_secret,
            plan=PartPlan(size_bytes, int(part_text)),
            acked=acked,
            throttle=self._throttle,
        )

    async def show(self, video_key: str) -> RemoteVideo:
        """The media's status; VideoMissing on 404."""
        return _remote(await self.api.show(video_key))

    async def update_metadata(self, video_key: str, metadata: VideoMetadata) -> None:
        """Replace the media's title, description, tags, dates, link and custom params
        (vidlift's own custom params are kept: one show, one update)."""
        current = (await self.api.show(video_key)).metadata.custom_params
        fields = to_v2_metadata(metadata, marker=None, tag=None)
        kept = {k: v for k, v in current.items() if k in _OWN_FIELDS}
        fields["custom_params"] = {**fields.get("custom_params", {}), **kept}
        await self.api.update(video_key, fields)

    async def list_library(self, *, offset: int, limit: int = LIST_PAGE_LENGTH) -> LibraryPage:
        """One page of the media tagged with this library (``custom_params.vidlift_library``),
        one call; ``offset`` is a multiple of ``limit`` (the survey's pages)."""
        if self._settings.library is None:
            return LibraryPage((), 0)
        length = max(1, min(limit, LIST_PAGE_LENGTH))
        found = await self.api.list_with(
            LIBRARY_FIELD, self._settings.library, page=offset // length + 1, page_length=length
        )
        total = found.total if found.total is not None else offset + len(found.media)
        return LibraryPage(tuple(_remote(media) for media in found.media), total)

    async def list_batch(self, name: str) -> LibraryPage:
        """The media of batch ``name`` by ``custom_params.vidlift_batch``: one call for
        the whole batch (a batch holds at most one page)."""
        found = await self.api.list_with(
            BATCH_FIELD, name, page=1, page_length=MAX_BATCH_SIZE, sort=BATCH_SORT
        )
        total = found.total if found.total is not None else len(found.media)
        return LibraryPage(tuple(_remote(media) for media in found.media), total)


def to_v2_metadata(
    metadata: VideoMetadata, *, marker: str | None, tag: str | None
) -> dict[str, Any]:
    """v1-shaped metadata as v2 fields: ``date`` -> publish_start_date, ``link`` ->
    permalink, ``custom`` -> custom_params; ``marker`` -> external_id; ``tag`` added."""
    fields: dict[str, Any] = {}
    if metadata.title:
        fields["title"] = metadata.title
    if metadata.description:
        fields["description"] = metadata.description
    tags = list(metadata.tags) + ([tag] if tag and tag not in metadata.tags else [])
    if tags:
        fields["tags"] = tags
    if metadata.date is not None:
        date = metadata.date if metadata.date.tzinfo else metadata.date.replace(tzinfo=UTC)
        fields["publish_start_date"] = date.astimezone(UTC).isoformat(timespec="seconds")
    if metadata.link:
        fields["permalink"] = metadata.link
    if metadata.custom:
        fields["custom_params"] = dict(metadata.custom)
    if marker is not None:
        fields["external_id"] = marker
    return fields


def _method(plan: PartPlan) -> str:
    return _DIRECT if plan.direct else "multipart"


def _handle(answer: CreateAnswer, plan: PartPlan) -> UploadHandle:
    if plan.direct:
        if not answer.upload_link:
            raise AnswerParseError("media create: no upload_link for a direct upload")
        return UploadHandle(answer.id, _DIRECT, answer.upload_link)
    if not answer.upload_id or not answer.upload_token:
        raise AnswerParseError("media create: no upload_id/upload_token for a multipart upload")
    return UploadHandle(
        answer.id, f"multipart/{plan.part_bytes}/{answer.upload_id}", answer.upload_token
    )


def _remote(media: MediaAnswer) -> RemoteVideo:
    custom = media.metadata.custom_params
    size = custom.get(SIZE_FIELD, "")
    return RemoteVideo(
        key=media.id,
        status=media.status,
        size_bytes=int(size) if size.isdigit() else None,
        md5=None,
        marker=media.metadata.external_id,
        error_message=media.error_message,
        tag=custom.get(SOURCE_FIELD),
    )


def _conforms(
    platform: V2Platform, multipart: V2Transfer, direct: V2DirectTransfer
) -> tuple[Platform, BatchListing, Transfer, Transfer]:
    """Never called: mypy checks here that the v2 classes fill the seam's protocols."""
    return platform, platform, multipart, direct
