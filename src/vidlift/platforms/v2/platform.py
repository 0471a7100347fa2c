"""JW Platform's v2 API as a ``Platform`` (platforms layer): find a media by external_id,
create it with its upload, reopen an upload for the same media, the transfer of an upload,
show, update metadata.

Exactly once: the job id is the media's ``external_id``; after a lost create answer the
job loop calls :meth:`V2Platform.find` before creating again. A resumed direct upload never
creates a second media (:meth:`V2Platform.reopen` re-uploads to the same one).

Until ``platforms/base.py`` lands, :class:`RemoteVideo` and :class:`UploadHandle` are
defined here with the seam's shape (SEAMS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from vidlift.client.transport import Transport
from vidlift.errors import AnswerParseError, LocalProtocolError
from vidlift.platforms.v2.api import V2Api, V2Settings
from vidlift.platforms.v2.models import CreateAnswer, MediaAnswer
from vidlift.platforms.v2.plan import PartPlan, plan_parts
from vidlift.platforms.v2.transfer import FinishedUpload, V2DirectTransfer, V2Transfer
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.ranges import RangeSet

__all__ = ["FinishedUpload", "RemoteVideo", "UploadHandle", "V2Platform", "V2Settings"]

_DIRECT = "direct"


@dataclass(frozen=True, slots=True)
class RemoteVideo:
    """What the platform holds for a video (v2: no size or md5 in the media answer)."""

    key: str
    status: str
    size_bytes: int | None
    md5: str | None
    marker: str | None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class UploadHandle:
    """What the journal keeps to resume an upload. v2: ``upload_ref`` is
    ``multipart/<part bytes>/<upload id>`` (the plan is part of the upload: parts cut
    otherwise would not match) or ``direct``; ``session_id`` is the upload token or the
    direct link, both secrets."""

    video_key: str
    upload_ref: str
    session_id: str = field(repr=False)


class V2Platform:
    """The v2 Management API behind the ``Platform`` seam."""

    def __init__(self, transport: Transport, settings: V2Settings) -> None:
        self._transport = transport
        self._settings = settings
        self.api = V2Api(transport, settings)

    def __repr__(self) -> str:
        return f"V2Platform(endpoint={self._settings.endpoint!r}, site={self._settings.site_id!r})"

    def plan(self, size_bytes: int) -> PartPlan:
        """How a file of ``size_bytes`` is cut (one part: a direct upload)."""
        return plan_parts(size_bytes, self._settings.part_floor_bytes)

    async def find(self, marker: str, tag: str | None = None) -> RemoteVideo | None:
        """The oldest media whose external_id is ``marker`` (one API call), or None."""
        del tag  # external_id alone identifies the job's media
        found = await self.api.find(marker)
        matching = [m for m in found if m.metadata.external_id == marker]
        return _remote(matching[0]) if matching else None

    async def create(
        self, metadata: VideoMetadata, *, marker: str, tag: str | None, size_bytes: int
    ) -> UploadHandle:
        """A new media (external_id = ``marker``) and its upload."""
        plan = self.plan(size_bytes)
        fields = to_v2_metadata(metadata, marker=marker, tag=tag)
        answer = await self.api.create(_method(plan), fields)
        return _handle(answer, plan)

    async def reopen(self, video_key: str, *, size_bytes: int) -> UploadHandle:
        """A new upload for the same media (reupload): never a second media."""
        plan = self.plan(size_bytes)
        answer = await self.api.reupload(video_key, _method(plan))
        return _handle(answer, plan)

    def transfer(
        self, handle: UploadHandle, size_bytes: int, acked: RangeSet
    ) -> V2Transfer | V2DirectTransfer:
        """The sending state of ``handle``'s upload, resumed from ``acked``."""
        if handle.upload_ref == _DIRECT:
            return V2DirectTransfer(
                self.api,
                self._transport,
                self._settings,
                video_key=handle.video_key,
                upload_link=handle.session_id,
                size_bytes=size_bytes,
                acked=acked,
            )
        kind, _, rest = handle.upload_ref.partition("/")
        part_text, _, upload_id = rest.partition("/")
        if kind != "multipart" or not part_text.isdigit() or not upload_id:
            raise LocalProtocolError(f"not a v2 upload reference: {handle.upload_ref!r}")
        return V2Transfer(
            self.api,
            self._transport,
            self._settings,
            video_key=handle.video_key,
            upload_id=upload_id,
            upload_token=handle.session_id,
            plan=PartPlan(size_bytes, int(part_text)),
            acked=acked,
        )

    async def show(self, video_key: str) -> RemoteVideo:
        """The media's status; VideoMissing on 404."""
        return _remote(await self.api.show(video_key))

    async def update_metadata(self, video_key: str, metadata: VideoMetadata) -> None:
        """Replace the media's title, description, tags, dates, link and custom params."""
        fields = to_v2_metadata(metadata, marker=None, tag=None)
        await self.api.update(video_key, fields)


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
    return RemoteVideo(
        key=media.id,
        status=media.status,
        size_bytes=None,
        md5=None,
        marker=media.metadata.external_id,
        error_message=media.error_message,
    )
