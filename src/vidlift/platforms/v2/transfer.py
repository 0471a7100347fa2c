"""One v2 upload's sending state: multipart (several parts in flight, resumed from the
acked ranges and the platform's part ETags, completed exactly once) or direct (one PUT)
(platforms layer).

``run()`` sends what is missing until the platform holds the whole file, and raises the
first failure with its state kept: the job loop, the only place that decides and sleeps,
calls ``run()`` again to resume. Nothing here retries or sleeps.
"""

from __future__ import annotations

from enum import StrEnum

import anyio

from vidlift.client.reading import RangeReader
from vidlift.client.throttle import Throttle
from vidlift.client.transport import Transport
from vidlift.errors import (
    PartLinkRefused,
    SegmentRejected,
    TransportError,
    UploadGone,
    VidliftError,
)
from vidlift.platforms.base import HOLDS_FILE, AckedCallback, FinishedUpload, SentCallback
from vidlift.platforms.v2.api import V2Api, V2Settings
from vidlift.platforms.v2.models import PartAnswer
from vidlift.platforms.v2.parts import GONE_STATUS, WholeFileTransfer, hash_range, put_part
from vidlift.platforms.v2.plan import PartPlan
from vidlift.protocol.ranges import RangeSet

__all__ = ["TransferStage", "V2DirectTransfer", "V2Transfer"]


class TransferStage(StrEnum):
    """Where an upload stands."""

    SENDING = "sending"
    COMPLETING = "completing"  # complete was sent; its answer did not arrive
    FINISHED = "finished"


class V2Transfer:
    """A multipart upload: parts to pre-signed links, then complete."""

    def __init__(
        self,
        api: V2Api,
        transport: Transport,
        settings: V2Settings,
        *,
        video_key: str,
        upload_id: str,
        upload_token: str,
        plan: PartPlan,
        acked: RangeSet,
        throttle: Throttle | None = None,
    ) -> None:
        self._api = api
        self._transport = transport
        self._throttle = throttle  # --bwlimit: shared by every upload of the process
        self._settings = settings
        self._video_key = video_key
        self._upload_id = upload_id
        self._token = upload_token
        self.plan = plan
        self._journal_parts = {n for r in acked for n in plan.numbers_within(r)}
        self._done: dict[int, str] = {}  # part number -> md5, confirmed by an ETag
        self._links: dict[int, str] = {}
        self._unchecked: set[int] = set()  # sent with verify_md5 off: ETag not compared
        self.requests_sent = 0  # part PUTs
        self.stage = TransferStage.SENDING

    def __repr__(self) -> str:  # never the token or a link
        return f"V2Transfer(video={self._video_key}, upload={self._upload_id}, stage={self.stage})"

    @property
    def acked(self) -> RangeSet:
        """Bytes the platform holds: the union of the parts done (the journal's ones too,
        until a listing says otherwise)."""
        numbers = set(self._done) | self._journal_parts
        return RangeSet.of(self.plan.byte_range(n) for n in numbers)

    @property
    def in_flight(self) -> int:
        """Parts sent at once: ``parts_in_flight``, fewer under ``bytes_in_flight``."""
        by_bytes = self._settings.bytes_in_flight // self.plan.part_bytes
        return max(1, min(self._settings.parts_in_flight, by_bytes, self.plan.count))

    def restart(self) -> None:
        """The platform lost the upload: nothing of it counts any more."""
        self._done.clear()
        self._journal_parts.clear()
        self._links.clear()
        self.stage = TransferStage.SENDING

    @property
    def etags_checked(self) -> int:
        """Parts whose ETag matched the local part's md5."""
        return len(set(self._done) - self._unchecked)

    async def run(
        self,
        reader: RangeReader,
        *,
        on_sent: SentCallback | None = None,
        on_acked: AckedCallback | None = None,
    ) -> FinishedUpload:
        """List the parts, send the missing ones, complete (once)."""
        try:
            if self.stage is TransferStage.COMPLETING:
                await self._reconcile_complete()
            if self.stage is TransferStage.SENDING:
                await self._list(reader, on_acked)
                missing = [n for n in range(1, self.plan.count + 1) if n not in self._done]
                await self._send(reader, missing, on_sent, on_acked)
                await self._complete()
        except UploadGone as exc:
            await self._settle(exc)  # the platform no longer knows this upload
        return FinishedUpload()

    async def _settle(self, exc: UploadGone) -> None:
        """The upload is gone: done if the media holds a file (a complete that went
        through), else the job loop must open a new upload into the media."""
        media = await self._api.show(self._video_key)
        if media.status in HOLDS_FILE:
            self.stage = TransferStage.FINISHED
            return
        raise SegmentRejected(
            f"{exc.message}; the media holds no file: a new upload is needed",
            http_status=GONE_STATUS,
        ) from None

    # ------------------------------------------------------------------ listing

    async def _list(self, reader: RangeReader, on_acked: AckedCallback | None) -> None:
        """Fresh links for every part; the platform's ETags decide which parts are done."""
        length = min(self._settings.page_length, self.plan.count)
        pages = -(-self.plan.count // length)
        listed: dict[int, PartAnswer] = {}
        for page in range(1, pages + 1):
            answer = await self._api.list_parts(self._upload_id, self._token, page, length)
            listed.update((part.id, part) for part in answer.parts)
        beyond = [n for n, part in listed.items() if n > self.plan.count and part.etag]
        if beyond:
            raise SegmentRejected(
                f"upload {self._upload_id}: it holds parts beyond this file's "
                f"{self.plan.count}; a new upload is needed",
                http_status=GONE_STATUS,
            )
        changed = False
        for number in range(1, self.plan.count + 1):
            part = listed.get(number)
            if part is None:
                raise SegmentRejected(
                    f"upload {self._upload_id}: part {number} was not listed",
                    http_status=GONE_STATUS,
                )
            self._links[number] = part.upload_link
            changed |= await self._judge(reader, number, part.etag)
        self._journal_parts.clear()
        if changed and on_acked is not None:
            await on_acked(self.acked)

    async def _judge(self, reader: RangeReader, number: int, etag: str | None) -> bool:
        """Whether part ``number`` is done, from the platform's ETag; True if that changed."""
        was_done = number in self._done or number in self._journal_parts
        etag = etag.strip('"') if etag else None
        if etag is None:
            self._done.pop(number, None)  # the platform does not hold it (any more)
            return was_done
        known = self._done.get(number)
        if known is None and number in self._journal_parts:
            known = etag  # acked before by an ETag that matched: trust the journal
        if known is None:
            known = await hash_range(reader, self.plan.byte_range(number))
        if known == etag:
            self._done[number] = etag
            return not was_done
        self._done.pop(number, None)  # different bytes: the part is sent again
        return was_done

    # ------------------------------------------------------------------ sending

    async def _send(
        self,
        reader: RangeReader,
        numbers: list[int],
        on_sent: SentCallback | None,
        on_acked: AckedCallback | None,
    ) -> None:
        """Send ``numbers`` with up to :attr:`in_flight` at once. After the first failure
        no new part starts; the parts already in flight finish (their bytes are not
        wasted, and no answer is cut off after the platform stored a part), then the first
        failure is raised."""
        queue = iter(numbers)
        failures: list[VidliftError] = []

        async def worker() -> None:
            for number in queue:
                if failures:
                    return
                self.requests_sent += 1
                try:
                    md5 = await put_part(
                        self._transport,
                        self._links[number],
                        reader,
                        self.plan.byte_range(number),
                        label=f"upload {self._upload_id} part {number}",
                        zero_copy=self._settings.zero_copy,
                        verify_md5=self._settings.verify_md5,
                        on_sent=on_sent,
                        throttle=self._throttle,
                    )
                except VidliftError as exc:
                    failures.append(exc)
                    return
                self._done[number] = md5
                if not self._settings.verify_md5:
                    self._unchecked.add(number)
                if on_acked is not None:
                    await on_acked(self.acked)

        async with anyio.create_task_group() as group:
            for _ in range(min(self.in_flight, len(numbers))):
                group.start_soon(worker)
        if failures:
            raise failures[0]

    # ------------------------------------------------------------------ completing

    async def _complete(self) -> None:
        self.stage = TransferStage.COMPLETING
        try:
            await self._api.complete(self._upload_id, self._token)
        except TransportError:
            raise  # sent, maybe done: the next run asks the media's status first
        except BaseException:
            self.stage = TransferStage.SENDING  # refused with an answer: not completed
            raise
        self.stage = TransferStage.FINISHED

    async def _reconcile_complete(self) -> None:
        """A complete whose answer was lost: the media's status tells whether it went
        through; if not, complete again (a repeated complete answers 409: safe)."""
        media = await self._api.show(self._video_key)
        if media.status in HOLDS_FILE:
            self.stage = TransferStage.FINISHED
            return
        self.stage = TransferStage.SENDING


class V2DirectTransfer(WholeFileTransfer):
    """A direct upload: the whole file in one PUT to the media's upload link."""

    LABEL = "media {key} direct upload"

    def __init__(
        self,
        api: V2Api,
        transport: Transport,
        settings: V2Settings,
        *,
        video_key: str,
        upload_link: str,
        size_bytes: int,
        acked: RangeSet,
        throttle: Throttle | None = None,
    ) -> None:
        super().__init__(
            transport,
            upload_link,
            video_key=video_key,
            size_bytes=size_bytes,
            acked=acked,
            zero_copy=settings.zero_copy,
            verify_md5=settings.verify_md5,
            throttle=throttle,
        )
        self._api = api

    async def refused(self, error: UploadGone | PartLinkRefused) -> None:
        """The link no longer takes the file (it arrived, or the link expired): the
        media's status settles it; no file there raises SegmentRejected 410."""
        media = await self._api.show(self._video_key)
        if media.status not in HOLDS_FILE:
            raise SegmentRejected(
                f"media {self._video_key}: the direct upload link no longer takes the file; "
                "a new upload is needed",
                http_status=GONE_STATUS,
            )
