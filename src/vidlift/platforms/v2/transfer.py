"""One v2 upload's sending state: multipart (several parts in flight, resumed from the
acked ranges and the platform's part ETags, completed exactly once) or direct (one PUT)
(platforms layer).

``run()`` sends what is missing until the platform holds the whole file, and raises the
first failure with its state kept: the job loop, the only place that decides and sleeps,
calls ``run()`` again to resume. Nothing here retries or sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import anyio

from vidlift.client.transport import Transport
from vidlift.errors import PartLinkRefused, TransportError, UploadGone, VidliftError
from vidlift.platforms.v2.api import V2Api, V2Settings
from vidlift.platforms.v2.models import PartAnswer
from vidlift.platforms.v2.parts import PartReader, hash_range, put_part
from vidlift.platforms.v2.plan import PartPlan
from vidlift.protocol.ranges import ByteRange, RangeSet

__all__ = ["FinishedUpload", "TransferStage", "V2DirectTransfer", "V2Transfer"]

SentCallback = Callable[[int], None]
AckedCallback = Callable[[RangeSet], None]


class TransferStage(StrEnum):
    """Where an upload stands."""

    SENDING = "sending"
    COMPLETING = "completing"  # complete was sent; its answer did not arrive
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class FinishedUpload:
    """The platform holds the whole file. ``etags_checked``: parts whose ETag matched the
    local md5 of the part (all parts of a multipart upload, or the direct PUT)."""

    video_key: str
    size_bytes: int
    parts: int
    etags_checked: int


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
    ) -> None:
        self._api = api
        self._transport = transport
        self._settings = settings
        self._video_key = video_key
        self._upload_id = upload_id
        self._token = upload_token
        self.plan = plan
        self._journal_parts = {n for r in acked for n in plan.numbers_within(r)}
        self._done: dict[int, str] = {}  # part number -> md5, confirmed by an ETag
        self._links: dict[int, str] = {}
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

    async def run(
        self,
        reader: PartReader,
        *,
        on_sent: SentCallback | None = None,
        on_acked: AckedCallback | None = None,
    ) -> FinishedUpload:
        """List the parts, send the missing ones, complete (once)."""
        if self.stage is TransferStage.COMPLETING:
            await self._reconcile_complete()
        if self.stage is TransferStage.SENDING:
            await self._list(reader, on_acked)
            missing = [n for n in range(1, self.plan.count + 1) if n not in self._done]
            await self._send(reader, missing, on_sent, on_acked)
            await self._complete()
        return self._finished()

    def _finished(self) -> FinishedUpload:
        return FinishedUpload(
            self._video_key, self.plan.size_bytes, self.plan.count, etags_checked=len(self._done)
        )

    # ------------------------------------------------------------------ listing

    async def _list(self, reader: PartReader, on_acked: AckedCallback | None) -> None:
        """Fresh links for every part; the platform's ETags decide which parts are done."""
        length = min(self._settings.page_length, self.plan.count)
        pages = -(-self.plan.count // length)
        listed: dict[int, PartAnswer] = {}
        for page in range(1, pages + 1):
            answer = await self._api.list_parts(self._upload_id, self._token, page, length)
            listed.update((part.id, part) for part in answer.parts)
        beyond = [n for n, part in listed.items() if n > self.plan.count and part.etag]
        if beyond:
            raise UploadGone(
                f"upload {self._upload_id}: it holds parts beyond this file's "
                f"{self.plan.count}; start a new upload"
            )
        changed = False
        for number in range(1, self.plan.count + 1):
            part = listed.get(number)
            if part is None:
                raise UploadGone(f"upload {self._upload_id}: part {number} was not listed")
            self._links[number] = part.upload_link
            changed |= await self._judge(reader, number, part.etag)
        self._journal_parts.clear()
        if changed and on_acked is not None:
            on_acked(self.acked)

    async def _judge(self, reader: PartReader, number: int, etag: str | None) -> bool:
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
        reader: PartReader,
        numbers: list[int],
        on_sent: SentCallback | None,
        on_acked: AckedCallback | None,
    ) -> None:
        """Send ``numbers`` with up to :attr:`in_flight` at once; the first failure stops
        the others (their parts stay missing) and is raised."""
        queue = iter(numbers)
        failures: list[VidliftError] = []

        async def worker(scope: anyio.CancelScope) -> None:
            for number in queue:
                try:
                    md5 = await put_part(
                        self._transport,
                        self._links[number],
                        reader,
                        self.plan.byte_range(number),
                        label=f"upload {self._upload_id} part {number}",
                        zero_copy=self._settings.zero_copy,
                        on_sent=on_sent,
                    )
                except VidliftError as exc:
                    failures.append(exc)
                    scope.cancel()
                    return
                self._done[number] = md5
                if on_acked is not None:
                    on_acked(self.acked)

        async with anyio.create_task_group() as group:
            for _ in range(min(self.in_flight, len(numbers))):
                group.start_soon(worker, group.cancel_scope)
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
        if media.status != "created":
            self.stage = TransferStage.FINISHED
            return
        self.stage = TransferStage.SENDING


class V2DirectTransfer:
    """A direct upload: the whole file in one PUT to the media's upload link."""

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
    ) -> None:
        self._api = api
        self._transport = transport
        self._settings = settings
        self._video_key = video_key
        self._link = upload_link
        self._size = size_bytes
        self._acked = acked
        self._checked = 0
        self.stage = TransferStage.SENDING

    def __repr__(self) -> str:  # never the link
        return f"V2DirectTransfer(video={self._video_key}, stage={self.stage})"

    @property
    def acked(self) -> RangeSet:
        """The whole file once the PUT was answered, else nothing."""
        return self._acked

    def restart(self) -> None:
        """The platform lost the file: send it again."""
        self._acked = RangeSet()
        self.stage = TransferStage.SENDING

    async def run(
        self,
        reader: PartReader,
        *,
        on_sent: SentCallback | None = None,
        on_acked: AckedCallback | None = None,
    ) -> FinishedUpload:
        """PUT the file; a link that no longer takes it (the file is there, or the link
        expired) is settled through the media's status."""
        if self.stage is TransferStage.SENDING:
            whole = ByteRange(0, self._size - 1)
            try:
                await put_part(
                    self._transport,
                    self._link,
                    reader,
                    whole,
                    label=f"media {self._video_key} direct upload",
                    zero_copy=self._settings.zero_copy,
                    on_sent=on_sent,
                )
                self._checked = 1
            except (UploadGone, PartLinkRefused):
                await self._settle()  # raises UploadGone when the media has no file
            self._acked = RangeSet.of([whole])
            self.stage = TransferStage.FINISHED
            if on_acked is not None:
                on_acked(self._acked)
        return FinishedUpload(self._video_key, self._size, 1, etags_checked=self._checked)

    async def _settle(self) -> None:
        media = await self._api.show(self._video_key)
        if media.status == "created":
            raise UploadGone(
                f"media {self._video_key}: the direct upload link no longer takes the file; "
                "reopen the upload"
            )
