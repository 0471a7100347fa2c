"""One job from "queued" to "verified on the platform": the ONE decision loop (jobs layer).

A job is a sequence of steps (create, send, reconcile, renew, verify), each one call to
the :class:`~vidlift.platforms.base.Platform`. Every failure of a step is looked up once
in the decision table (:mod:`vidlift.jobs.policy`) and acted on here: back off and repeat
the step, ask the platform what it holds, open a new upload, create the video again, give
the job up, or stop the batch. Nothing else in vidlift retries or sleeps. Every change of
the job's state goes to its :class:`JobLog` (the journal) from this module only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, TypeVar

import anyio

from vidlift.errors import (
    ProcessingFailed,
    RangesShrank,
    StillProcessing,
    UploadError,
    VerificationError,
    VidliftError,
)
from vidlift.jobs.pacing import AdaptiveGate
from vidlift.jobs.policy import Decision, RetryPolicy, Verdict
from vidlift.jobs.reachability import Reachability
from vidlift.jobs.verification import ListingVerifier
from vidlift.platforms.base import FinishedUpload, Platform, RemoteVideo, Transfer, UploadHandle
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.models import FinalAnswer
from vidlift.protocol.ranges import RangeSet
from vidlift.sources.base import Source, SourceReader

__all__ = [
    "JobContext",
    "JobLog",
    "JobResult",
    "JobStart",
    "JobStats",
    "NullJobLog",
    "Step",
    "TransferInterrupted",
    "call_reliably",
    "run_job",
    "source_tag",
    "source_tags",
]

T = TypeVar("T")
ProgressCallback = Callable[[int], None]
RetryCallback = Callable[[VidliftError, float], None]


def source_tag(source: str | Path) -> str:
    """A short digest of where the source is: a URL (``scheme://host/path``, no query) as
    it is, a file by its absolute path. Every video carries it, so a look-up by job id
    never adopts another library's video with the same id."""
    return source_tags(source)[0]


def source_tags(source: str | Path) -> tuple[str, ...]:
    """The source's tag (:func:`source_tag`) first, then any other form a look-up must
    accept: vidlift before 2026-12 digested a URL as a path under the working directory
    (``cwd/http:/host/path``), which a run from another directory did not find again."""
    text = str(source)
    if "://" not in text:  # a file: its absolute path (unchanged since the first version)
        path = Path(text)
        return (_digest(str(path if path.is_absolute() else Path.cwd() / path)),)
    return (_digest(text), _digest(str(Path.cwd() / Path(text))))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class TransferInterrupted(Exception):
    """A stop was requested between requests; the journal keeps what was acknowledged."""


class Step(StrEnum):
    """What a job does next."""

    CREATE = "create"  # create the video (after a look-up when a create may have acted)
    RENEW = "renew"  # a new upload into the same video
    SEND = "send"  # send what the platform does not hold
    RECONCILE = "reconcile"  # ask the platform whether it holds the file
    VERIFY = "verify"  # compare the platform's size and md5 with the source's
    READY = "ready"  # wait until the platform has processed the video (--wait-ready)
    POSTER = "poster"  # set the row's poster (thumbnail_download_url) on the ready video
    DONE = "done"


class JobLog(Protocol):
    """Where a job's changes are recorded (the journal, keyed by job id)."""

    async def mark_creating(self, job_id: str) -> None: ...

    async def record_created(
        self, job_id: str, *, video_key: str, upload_url: str, session_id: str
    ) -> None: ...

    async def record_progress(
        self, job_id: str, acked_ranges: Sequence[tuple[int, int]]
    ) -> None: ...

    async def mark_verifying(self, job_id: str) -> None: ...

    async def mark_processing(self, job_id: str, *, md5: str | None) -> None: ...

    async def reset_upload(self, job_id: str) -> None: ...


class NullJobLog:
    """Records nothing (a single upload whose caller keeps no journal)."""

    async def mark_creating(self, job_id: str) -> None:
        """Nothing to record."""

    async def record_created(
        self, job_id: str, *, video_key: str, upload_url: str, session_id: str
    ) -> None:
        """Nothing to record."""

    async def record_progress(self, job_id: str, acked_ranges: Sequence[tuple[int, int]]) -> None:
        """Nothing to record."""

    async def mark_verifying(self, job_id: str) -> None:
        """Nothing to record."""

    async def mark_processing(self, job_id: str, *, md5: str | None) -> None:
        """Nothing to record."""

    async def reset_upload(self, job_id: str) -> None:
        """Nothing to record."""


@dataclass(slots=True)
class JobStats:
    """What one job cost on the wire."""

    segments_sent: int = 0
    probes_sent: int = 0
    bytes_sent: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class JobResult:
    """A verified upload."""

    video_key: str | None
    size_bytes: int
    md5: str | None
    final: FinalAnswer | None
    stats: JobStats
    poster_error: str | None = None  # the row's poster could not be set (not fatal)


@dataclass(frozen=True, slots=True)
class JobStart:
    """One job as the loop starts it: what to upload, where it stands."""

    job_id: str
    source: Source
    metadata: VideoMetadata
    marker: str
    tag: str | None = None  # the source's tag, set on the video it creates
    also_tags: tuple[str, ...] = ()  # older forms of the tag a look-up accepts too
    video_key: str | None = None  # a video exists (created by an earlier run)
    handle: UploadHandle | None = None  # an upload is open on it
    acked: RangeSet = field(default_factory=RangeSet)  # recorded for that upload
    look_up_first: bool = False  # a create call may have reached the platform
    known: RemoteVideo | None = None  # what a survey of the platform found for this job
    verified: bool = False  # uploaded and verified: the platform is processing it
    verified_md5: str | None = None  # the file's md5 recorded then
    # Server-side fetch: the platform downloads this URL itself (a secret: often signed).
    fetch_url: str | None = field(default=None, repr=False)
    thumbnail_url: str | None = field(default=None, repr=False)  # the poster, once ready


@dataclass(slots=True)
class JobContext:
    """What every job of one batch shares."""

    platform: Platform
    policy: RetryPolicy
    log: JobLog
    piece_bytes: int
    verify_md5: bool = True
    wait_ready: bool = False  # after verifying, poll until the platform has processed it
    gate: AdaptiveGate | None = None
    reachability: Reachability | None = None
    has_api: bool = True  # False for protocol-only uploads: nothing to ask or verify
    verifier: ListingVerifier | None = None  # batched verification (else a show per job)
    should_stop: Callable[[], bool] = lambda: False


class _Run:
    """The state of one running job; the loop is :meth:`run`."""

    def __init__(
        self,
        ctx: JobContext,
        spec: JobStart,
        on_progress: ProgressCallback | None,
        on_retry: RetryCallback | None,
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self.on_progress = on_progress
        self.on_retry = on_retry
        self.on_acked: ProgressCallback | None = None  # bytes the platform holds
        self.on_verifying: Callable[[], None] | None = None
        self.on_processing: Callable[[], None] | None = None  # told once
        self.stats = JobStats()
        self.video_key = spec.video_key or (spec.handle.video_key if spec.handle else None) or None
        self.handle = spec.handle
        self.look_up = spec.look_up_first and self.video_key is None
        self.transfer: Transfer | None = None
        if spec.handle is not None:
            self.transfer = ctx.platform.transfer(spec.handle, spec.source.size_bytes, spec.acked)
        self.finished: FinishedUpload | None = None
        self.held: RemoteVideo | None = None  # the platform's answer that it holds the file
        self.failures = 0
        self.recreated = False
        self.md5: str | None = None
        self.poster_id: str | None = None
        self.poster_error: str | None = None
        self.acked_bytes = spec.acked.byte_count
        self.in_request = 0

    # -- the loop ----------------------------------------------------------------------

    async def _first_step(self) -> Step:
        known, size = self.spec.known, self.spec.source.size_bytes
        if self.spec.verified and self.video_key is not None:  # resumed while processing
            self.md5 = self.spec.verified_md5
            return self._after_verify()
        if self.spec.fetch_url is not None and self.video_key is not None and self.handle is None:
            # The platform was asked to fetch it (a run stopped before it said so).
            await self.ctx.log.mark_processing(self.spec.job_id, md5=None)
            return Step.READY
        if self.transfer is not None:
            return Step.SEND
        if known is None or self.video_key is not None:
            return Step.CREATE
        # Found on the platform by a survey (a lost or new journal): never create again.
        self.video_key = known.key
        if not known.holds(size):
            return Step.CREATE  # an upload into that video (RENEW)
        await self.ctx.log.mark_creating(self.spec.job_id)
        await self.ctx.log.record_created(
            self.spec.job_id, video_key=known.key, upload_url="", session_id=""
        )
        self.held, self.finished = known, FinishedUpload()
        return Step.VERIFY

    async def run(self) -> JobResult:
        source = self.spec.source
        step = await self._first_step()
        async with source.open(self.ctx.piece_bytes, hash_md5=self.ctx.verify_md5) as reader:
            while step is not Step.DONE:
                if self.ctx.should_stop():
                    raise TransferInterrupted(source.name)
                if step is Step.READY and self.on_processing is not None:
                    self.on_processing()  # the platform holds it: waiting for processing
                    self.on_processing = None
                try:
                    step = await self._do(step, reader)
                except VidliftError as exc:
                    self.failures += 1  # status checks count too: the poll's patience
                    if not isinstance(exc, StillProcessing):  # not a failure: it takes time
                        self.stats.failures += 1
                    decision = self.ctx.policy.decide(exc, self.failures)
                    step = await self._act(decision, exc, step)
                else:
                    if self.ctx.reachability is not None:
                        self.ctx.reachability.answered()
            return await self._result(reader)

    async def _do(self, step: Step, reader: SourceReader) -> Step:
        if step is Step.CREATE:
            return await self._create()
        if step is Step.RENEW:
            return await self._renew()
        if step is Step.SEND:
            return await self._send(reader)
        if step is Step.RECONCILE:
            return await self._reconcile()
        if step is Step.READY:
            return await self._await_ready()
        if step is Step.POSTER:
            return await self._poster()
        return await self._verify(reader)

    async def _act(self, decision: Decision, exc: VidliftError, step: Step) -> Step:
        verdict = decision.verdict
        if decision.slow_down and self.ctx.gate is not None:
            self.ctx.gate.overloaded()
        if step is Step.CREATE and decision.may_have_acted:
            self.look_up = self.video_key is None  # the create may have reached it
        if verdict in (Verdict.RETRY, Verdict.WAIT):
            await self._back_off(exc, decision.delay_s)
            return step
        if verdict is Verdict.POLL:
            await anyio.sleep(decision.delay_s)  # not a failure: processing takes time
            return step
        if step is Step.POSTER and verdict is Verdict.GIVE_UP:
            self.poster_error = str(exc)  # reported with the job; the video is done
            return Step.DONE
        if verdict is Verdict.RECONCILE and self.ctx.has_api:
            return Step.RECONCILE
        if verdict is Verdict.RENEW and self.video_key and self.ctx.has_api:
            return Step.RENEW
        if verdict is Verdict.RECREATE and self.ctx.has_api and not self.recreated:
            return await self._forget_video()
        error = self._give_up(exc, verdict, step)
        if error is not exc:
            error.__cause__ = exc
        raise error

    async def _back_off(self, exc: VidliftError, delay_s: float) -> None:
        reach = self.ctx.reachability
        if reach is not None and reach.unreachable(exc):
            self.failures -= 1  # the platform is down, not this job: wait, bounded
        if self.on_retry is not None:
            self.on_retry(exc, delay_s)
        await anyio.sleep(delay_s)

    async def _forget_video(self) -> Step:
        self.recreated = True  # once per run: a platform that keeps deleting is refused
        if self.handle is not None:
            await self.ctx.log.reset_upload(self.spec.job_id)
        self.video_key, self.handle, self.transfer, self.look_up = None, None, None, False
        return Step.CREATE

    def _give_up(self, exc: VidliftError, verdict: Verdict, step: Step) -> VidliftError:
        where = self.spec.source.name
        upload_id = self.handle.upload_id if self.handle is not None else ""
        # An API call's last error speaks for itself ("videos/create: 502 ..."); bytes
        # that could not be sent are named with the file and the upload.
        if (
            step is Step.SEND
            and verdict is Verdict.GIVE_UP
            and self.ctx.policy.classify(exc)
            in (
                Verdict.RETRY,
                Verdict.WAIT,
            )
        ):
            last = exc.message if isinstance(exc, UploadError) else str(exc)
            return UploadError(
                f"gave up after {self.failures} failed attempts in a row; last: {last}",
                path=where,
                session_id=upload_id,
            )
        if isinstance(exc, RangesShrank) and not self.ctx.has_api:
            return RangesShrank(
                f"{exc.message}; without API access vidlift cannot tell whether the upload "
                "completed: check the video on the platform before uploading again",
                path=where,
                session_id=upload_id,
            )
        if isinstance(exc, StillProcessing):
            return VidliftError(f"{exc}; gave up waiting after {self.failures} status checks")
        if isinstance(exc, UploadError):
            exc.locate(where, upload_id)
        return exc

    # -- the steps ---------------------------------------------------------------------

    async def _create(self) -> Step:
        spec, platform = self.spec, self.ctx.platform
        if self.video_key is not None:
            return await self._renew()
        await self.ctx.log.mark_creating(spec.job_id)
        if self.look_up:
            found = await platform.find(spec.marker, (spec.tag, *spec.also_tags))
            self.look_up = False
            if found is not None:
                self.video_key = found.key
                if spec.fetch_url is not None:
                    return await self._fetching(found.key)
                return await self._renew()
        if spec.fetch_url is not None:
            key = await platform.create_fetched(
                spec.metadata, marker=spec.marker, tag=spec.tag, download_url=spec.fetch_url
            )
            return await self._fetching(key)
        handle = await platform.create(
            spec.metadata, marker=spec.marker, tag=spec.tag, size_bytes=spec.source.size_bytes
        )
        return await self._opened(handle)

    async def _fetching(self, video_key: str) -> Step:
        """The platform fetches the file into ``video_key``: record it, follow its status."""
        self.video_key = video_key
        await self.ctx.log.record_created(
            self.spec.job_id, video_key=video_key, upload_url="", session_id=""
        )
        await self.ctx.log.mark_processing(self.spec.job_id, md5=None)
        return Step.READY

    async def _renew(self) -> Step:
        assert self.video_key is not None
        if self.handle is not None:
            await self.ctx.log.reset_upload(self.spec.job_id)
            self.handle = None
        await self.ctx.log.mark_creating(self.spec.job_id)
        handle = await self.ctx.platform.reopen(
            self.video_key, size_bytes=self.spec.source.size_bytes
        )
        return await self._opened(handle)

    async def _opened(self, handle: UploadHandle) -> Step:
        self.handle, self.video_key = handle, handle.video_key
        await self.ctx.log.record_created(
            self.spec.job_id,
            video_key=handle.video_key,
            upload_url=handle.upload_secret,
            session_id=handle.upload_id,
        )
        self.transfer = self.ctx.platform.transfer(handle, self.spec.source.size_bytes, None)
        self.acked_bytes = 0
        return Step.SEND

    async def _send(self, reader: SourceReader) -> Step:
        assert self.transfer is not None
        await self.spec.source.check_unchanged()
        transfer = self.transfer
        before = transfer.requests_sent
        try:
            self.finished = await transfer.run(reader, on_sent=self._sent, on_acked=self._acked)
        finally:
            self.stats.segments_sent += transfer.requests_sent - before
            self._settle()
        return Step.VERIFY

    def _sent(self, n_bytes: int) -> None:
        self.stats.bytes_sent += n_bytes
        self.in_request += n_bytes
        if self.on_progress is not None:
            self.on_progress(self._acked_now() + self.in_request)

    def _acked_now(self) -> int:
        return self.transfer.acked.byte_count if self.transfer is not None else 0

    def _settle(self, newly_acked: int | None = None) -> None:
        # Progress may go backwards: bytes of a failed request no longer count. An ack
        # settles only its own bytes: other requests (v2 parts) may still be in flight.
        if newly_acked is None:
            self.in_request = 0
        else:
            self.in_request = max(0, self.in_request - newly_acked)
        if self.on_progress is not None:
            self.on_progress(self._acked_now() + self.in_request)

    async def _acked(self, ranges: RangeSet) -> None:
        self._settle(max(0, ranges.byte_count - self.acked_bytes))
        if ranges.byte_count > self.acked_bytes:
            self.failures = 0  # progress: the failures in a row start again
        if self.ctx.reachability is not None:
            self.ctx.reachability.answered()
        self.acked_bytes = ranges.byte_count
        if self.on_acked is not None:
            self.on_acked(ranges.byte_count)
        await self.ctx.log.record_progress(self.spec.job_id, ranges.as_pairs())
        if self.ctx.should_stop():
            raise TransferInterrupted(self.spec.source.name)
        await self.spec.source.check_unchanged()  # before the next request

    async def _reconcile(self) -> Step:
        assert self.video_key is not None and self.transfer is not None
        info = await self.ctx.platform.show(self.video_key)
        if info.holds(self.spec.source.size_bytes):
            self.held = info
            self.finished = FinishedUpload()
            return Step.VERIFY
        self.transfer.restart()
        return Step.SEND

    async def _verify(self, reader: SourceReader) -> Step:
        source = self.spec.source
        finished = self.finished or FinishedUpload()
        if finished.size_bytes is not None and finished.size_bytes != source.size_bytes:
            raise VerificationError(
                f"the server reports {finished.size_bytes} bytes received, the file has "
                f"{source.size_bytes}"
            )
        await source.check_unchanged()
        if self.on_verifying is not None:
            self.on_verifying()
        await self.ctx.log.mark_verifying(self.spec.job_id)
        self.md5 = await reader.md5_hexdigest() if self.ctx.verify_md5 else None
        # Without md5 verification, a final answer that states the size (checked above)
        # is enough: no videos/show call.
        needs_show = self.ctx.verify_md5 or finished.size_bytes is None
        if self.ctx.has_api and self.video_key is not None and needs_show:
            info = self.held or await self._listed(self.video_key)
            info = info or await self.ctx.platform.show(self.video_key)
            self.held = None  # a reconcile's answer is used once; a retry asks again
            _check_platform(info, source.size_bytes, self.md5)
        if self.ctx.wait_ready and self.ctx.has_api and self.video_key is not None:
            await self.ctx.log.mark_processing(self.spec.job_id, md5=self.md5)
        return self._after_verify()

    def _after_verify(self) -> Step:
        wanted = self.ctx.wait_ready or self.spec.fetch_url is not None
        wanted = wanted or self.spec.thumbnail_url is not None  # a poster needs it ready
        waits = wanted and self.ctx.has_api and self.video_key is not None
        return Step.READY if waits else Step.DONE

    async def _await_ready(self) -> Step:
        """One status check: ready is done; failed raises ProcessingFailed with the
        platform's message; anything else raises StillProcessing (the table: poll)."""
        assert self.video_key is not None
        info = await self.ctx.platform.show(self.video_key)
        if info.status == "ready":
            if self.spec.fetch_url is not None:  # what it fetched: the size the source said
                _check_platform(info, self.spec.source.size_bytes, None)
                self.md5 = info.md5  # the platform's, of what it fetched (nothing read here)
            return Step.POSTER if self.spec.thumbnail_url is not None else Step.DONE
        if info.status == "failed":
            reason = info.error_message
            if self.spec.fetch_url is not None:  # the platform read the URL itself
                reason = (
                    f"{reason or 'no reason given'} (with --remote fetch the platform reads "
                    "the URL itself; an origin only vidlift can read needs --remote relay)"
                )
            raise ProcessingFailed(info.key, info.status, reason)
        raise StillProcessing(info.key, info.status)

    async def _poster(self) -> Step:
        """The row's poster: asked for once (its id kept across retries), then made the
        video's poster when the platform has it."""
        assert self.video_key is not None and self.spec.thumbnail_url is not None
        if self.poster_id is None:
            self.poster_id = await self.ctx.platform.add_poster(
                self.video_key, self.spec.thumbnail_url
            )
        await self.ctx.platform.set_poster(self.video_key, self.poster_id)
        return Step.DONE

    async def _listed(self, video_key: str) -> RemoteVideo | None:
        """The video as its batch's listing shows it (waiting in ``verifying`` for that
        call); None: no batch, or not shown whole there (then videos/show is asked)."""
        if self.ctx.verifier is None:
            return None
        return await self.ctx.verifier.confirm(video_key, self.spec.source.size_bytes)

    async def _result(self, reader: SourceReader) -> JobResult:
        finished = self.finished or FinishedUpload()
        return JobResult(
            self.video_key or (finished.final.video_key if finished.final else None),
            self.spec.source.size_bytes,
            self.md5,
            finished.final,
            self.stats,
            self.poster_error,
        )


def _check_platform(info: RemoteVideo, size_bytes: int, md5: str | None) -> None:
    if info.status == "failed":
        raise ProcessingFailed(info.key, info.status, info.error_message)
    if info.size_bytes is not None and info.size_bytes != size_bytes:
        raise VerificationError(
            f"the platform has {info.size_bytes} bytes for video {info.key}, the file has "
            f"{size_bytes}"
        )
    if md5 is not None and info.md5 is not None and info.md5 != md5:
        raise VerificationError(
            f"the platform's md5 {info.md5} for video {info.key} differs from the file's {md5}"
        )


async def call_reliably(
    policy: RetryPolicy,
    call: Callable[[], Awaitable[T]],
    *,
    on_retry: RetryCallback | None = None,
    reachability: Reachability | None = None,
) -> T:
    """One idempotent call outside a job (a survey page), under the same table: retried
    after RETRY and WAIT verdicts, any other verdict re-raises. With ``reachability``,
    a platform that cannot be connected to is waited for as the jobs wait for it (not
    counted as failures), until it raises PlatformUnreachable."""
    failures = 0
    while True:
        try:
            result = await call()
        except VidliftError as exc:
            failures += 1
            if reachability is not None and reachability.unreachable(exc):
                # the platform is down, not this call: back off, never give up (bounded
                # by the reachability's limit)
                failures = min(failures, policy.settings.max_attempts - 1)
            decision = policy.decide(exc, failures)
            if decision.verdict not in (Verdict.RETRY, Verdict.WAIT):
                raise
            if on_retry is not None:
                on_retry(exc, decision.delay_s)
            await anyio.sleep(decision.delay_s)
        else:
            if reachability is not None:
                reachability.answered()
            return result


async def run_job(
    ctx: JobContext,
    spec: JobStart,
    *,
    on_progress: ProgressCallback | None = None,
    on_retry: RetryCallback | None = None,
    on_acked: ProgressCallback | None = None,
    on_verifying: Callable[[], None] | None = None,
    on_processing: Callable[[], None] | None = None,
) -> JobResult:
    """Run one job to a verified upload.

    Raises the error the decision table gives up on (naming the source and the upload),
    TransferInterrupted when a stop was requested, and STOP_BATCH errors as they are.
    """
    run = _Run(ctx, spec, on_progress, on_retry)
    run.on_acked, run.on_verifying = on_acked, on_verifying
    run.on_processing = on_processing
    return await run.run()
