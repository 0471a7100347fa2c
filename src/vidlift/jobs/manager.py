"""The batch job manager: many uploads at once from the journal (jobs layer).

``limits.files_in_flight`` workers in one anyio task group take runnable jobs from the journal in
order; each job is one coroutine sending its segments in order over the shared
session. A failed job is a *result* written to the journal, never an exception that
cancels its siblings; only errors the policy classes as STOP_BATCH (credentials, the
journal itself) stop the batch. A stop request (Ctrl-C, SIGTERM) starts no new job,
lets segments in flight finish for ``grace_s``, then cancels.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from vidlift.client.source import SourceFile
from vidlift.errors import LeaseLost, ProgrammingError, SourceError, VidliftError
from vidlift.jobs.events import (
    BatchEvent,
    EventSink,
    JobAcked,
    JobDone,
    JobFailed,
    JobInterrupted,
    JobProcessing,
    JobProgress,
    JobRetrying,
    JobStarted,
    JobVerifying,
    PosterFailed,
    SourceNoticed,
)
from vidlift.jobs.feed import IdleReporting
from vidlift.jobs.job import (
    JobContext,
    JobResult,
    JobStart,
    RetryCallback,
    TransferInterrupted,
    run_job,
    source_tags,
)
from vidlift.jobs.pacing import AdaptiveGate
from vidlift.jobs.policy import RetryPolicy, Verdict
from vidlift.jobs.reachability import Reachability
from vidlift.jobs.settings import DEFAULT_BATCH_SIZE, BatchSettings
from vidlift.jobs.verification import JobSlots, ListingVerifier
from vidlift.journal.base import JobRecord, Journal
from vidlift.journal.state import RUNNABLE_STATES, JobState
from vidlift.platforms.base import BatchListing, Platform, RemoteVideo, UploadHandle
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.ranges import RangeSet
from vidlift.sources.base import Source
from vidlift.sources.opener import SourceOpener

__all__ = [
    "RUNNABLE_STATES",
    "BatchOutcome",
    "BatchRunner",
    "BatchSettings",
    "verify_batch_size_for",
]


def verify_batch_size_for(settings: BatchSettings, *, size_stated: bool = True) -> int:
    """Videos per verification batch; 0: none (turned off, or nothing to ask: no md5 to
    verify and ``size_stated``, the upload's final answer states the size, as v1's does;
    v2's does not, so its media are still asked for, in batches).

    Twice the concurrency by default: while half the jobs wait for their batch's listing
    the other half work, so a batch fills and jobs are seen done every 2 x concurrency
    files; at most DEFAULT_BATCH_SIZE (1.02 calls per file)."""
    if not settings.upload.verify_md5 and size_stated:
        return 0  # a final answer stating the size is enough: no call to batch
    if settings.verify_batch_size is not None:
        return max(0, settings.verify_batch_size)
    return min(DEFAULT_BATCH_SIZE, 2 * settings.limits.files_in_flight)


@dataclass(slots=True)
class BatchOutcome:
    """What one run did."""

    done: int = 0
    failed: int = 0
    interrupted: bool = False
    stopped_by: str | None = None
    bytes_sent: int = 0
    metadata_updated: int = 0  # done videos whose metadata followed the manifest
    posters_failed: int = 0  # done videos whose row's poster could not be set
    started_at: float = field(default_factory=time.monotonic)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started_at


def changed_message(record: JobRecord, size_bytes: int) -> str:
    """The one message for a file that changed before its job was done (issue 11, point 7)."""
    into = f" into video {record.video_key}" if record.video_key else ""
    return (
        f"the file changed since it was queued (size {record.size_bytes} -> {size_bytes}, "
        f"or its modification time); the next `vidlift run` uploads the new version{into}"
    )


class BatchRunner:
    """Runs the runnable jobs of a journal to completion (or failure) once."""

    def __init__(
        self,
        *,
        journal: Journal,
        platform: Platform,
        settings: BatchSettings,
        policy: RetryPolicy,
        on_event: EventSink | None = None,
        gate: AdaptiveGate | None = None,
        jobs: AsyncIterable[JobRecord] | None = None,
    ) -> None:
        if settings.limits.files_in_flight < 1:
            raise ProgrammingError("BatchRunner needs resolved limits (run_batch resolves them)")
        self._journal = journal
        self._jobs = jobs  # a worker's claimed jobs (fleet mode); else the journal's order
        self._feed_scope = anyio.CancelScope()
        # What a survey of the platform found, by job id; or, when the survey failed, a
        # look-up per job before it creates anything.
        self.known: Mapping[str, RemoteVideo] = {}
        self.look_up_all = False
        # Whole URLs (query strings: signatures) of URL jobs, by job id: never journaled.
        self.secret_urls: Mapping[str, str] = {}
        self.thumbnail_urls: Mapping[str, str] = {}  # job id -> poster to set (secret)
        self._settings = settings
        self._sources = SourceOpener(settings.sources, on_notice=self._source_notice)
        self._policy = policy
        self._sink = on_event
        self._stopping = False
        self.outcome = BatchOutcome()
        self._workers = settings.limits.files_in_flight
        self._slots = JobSlots(self._workers)  # jobs at work (not waiting)
        self.verifier: ListingVerifier | None = None
        # As many as the platform tags its creates with (run_batch builds it with
        # verify_batch_size_for): a platform that tags none is asked a show per job.
        batch_size = platform.verify_batch_size if isinstance(platform, BatchListing) else 0
        if batch_size and isinstance(platform, BatchListing):
            # Jobs waiting for their batch's listing lend their slot: up to a batch more
            # jobs are held at once, so that batches fill even at low concurrency.
            self._workers += batch_size
            self.verifier = ListingVerifier(
                platform,
                max_wait_s=settings.verify_wait_s,
                slots=self._slots,
                capacity=self._workers,
            )
            if isinstance(jobs, IdleReporting):  # a fleet worker's claims
                jobs.on_idle = self.verifier.feed_idle
        self._context = JobContext(
            platform=platform,
            policy=policy,
            log=journal,
            piece_bytes=settings.upload.piece_bytes,
            verify_md5=settings.upload.verify_md5,
            wait_ready=settings.wait_ready,
            gate=gate,
            reachability=Reachability(settings.unreachable_s),
            should_stop=lambda: self._stopping,
            verifier=self.verifier,
        )

    def emit(self, event: BatchEvent) -> None:
        """Give ``event`` to the batch's sink."""
        self._emit(event)

    def _emit(self, event: BatchEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    def request_stop(self) -> None:
        """Start no new job and no new segment; the run returns soon."""
        self._stopping = True
        self.outcome.interrupted = True
        self._feed_scope.cancel()  # a feed may be waiting for new jobs

    async def run(self, stop: anyio.Event | None = None) -> BatchOutcome:
        """Work until no runnable job is left, a stop is requested, or the batch stops."""
        async with anyio.create_task_group() as outer:
            if stop is not None:
                outer.start_soon(self._watch_stop, stop, outer.cancel_scope)
            send, receive = anyio.create_memory_object_stream[JobRecord](0)
            async with anyio.create_task_group() as work:
                work.start_soon(self._feed, send)
                async with receive:
                    for _ in range(self._workers):
                        work.start_soon(self._worker, receive.clone())
            outer.cancel_scope.cancel()
        await self._journal.flush()
        await self._sources.aclose()
        return self.outcome

    async def _watch_stop(self, stop: anyio.Event, scope: anyio.CancelScope) -> None:
        await stop.wait()
        self.request_stop()
        await anyio.sleep(self._settings.grace_s)
        scope.cancel()

    async def _feed(self, send: ObjectSendStream[JobRecord]) -> None:
        jobs = self._jobs if self._jobs is not None else self._journal.iter_jobs(RUNNABLE_STATES)
        try:
            with self._feed_scope:
                async with send:
                    async for record in jobs:
                        if self._stopping:
                            return
                        await send.send(record)
        finally:
            if self.verifier is not None:
                self.verifier.no_more_jobs()

    async def _worker(self, receive: ObjectReceiveStream[JobRecord]) -> None:
        async with receive:
            while True:
                await self._slots.acquire()
                try:
                    try:
                        record = await receive.receive()
                    except anyio.EndOfStream:
                        return
                    if self._stopping:
                        return
                    await self._run_job(record)
                finally:
                    self._slots.release()

    async def _run_job(self, record: JobRecord) -> None:
        if self.verifier is not None:
            self.verifier.job_started()
        try:
            await self._run_leased_job(record)
        except LeaseLost:
            # Fleet mode: this worker was paused past its lease and another took the
            # job over; the journal refused the late write. The job is not ours now.
            self._emit(JobInterrupted(record.job_id, record.source_name))
        finally:
            if self.verifier is not None:
                self.verifier.job_ended()

    async def _run_leased_job(self, record: JobRecord) -> None:
        path = record.source_name
        try:
            result = await self._process(record)
        except (TransferInterrupted, LeaseLost):
            self._emit(JobInterrupted(record.job_id, path))
            return
        except VidliftError as exc:
            if self._policy.classify(exc) is Verdict.STOP_BATCH:
                self.outcome.stopped_by = str(exc)
                self.request_stop()
                return
            await self._fail(record, path, str(exc))
            return
        except Exception as exc:  # a bug or an unmapped OS error: this job only
            await self._fail(record, path, f"internal error ({type(exc).__name__}: {exc})")
            return
        self.outcome.bytes_sent += result.stats.bytes_sent
        self.outcome.done += 1
        video_key = result.video_key or ""
        await self._journal.mark_done(record.job_id, video_key=video_key, md5=result.md5)
        self._emit(JobDone(record.job_id, path, video_key, result.size_bytes))
        poster_error = result.poster_error
        if record.job_id in self.thumbnail_urls and not self._context.platform.sets_posters:
            poster_error = (
                "v1 cannot set a poster from thumbnail_download_url (use --api v2); the "
                "platform's own thumbnail stays"
            )
        if poster_error is not None:
            self.outcome.posters_failed += 1
            self._emit(PosterFailed(record.job_id, path, poster_error))

    async def _fail(self, record: JobRecord, path: str, error: str) -> None:
        await self._journal.mark_failed(record.job_id, error)
        self.outcome.failed += 1
        self._emit(JobFailed(record.job_id, path, error))

    async def _check_source(self, record: JobRecord) -> Source:
        entry = record.to_entry()
        if entry.path is None:
            return await self._open_url(record, entry.source_url or "")
        source = await SourceFile.inspect(entry.path)
        if (source.size_bytes, source.mtime_ns) != (record.size_bytes, record.mtime_ns):
            raise SourceError(str(entry.path), changed_message(record, source.size_bytes))
        return source

    async def _open_url(self, record: JobRecord, url: str) -> Source:
        """Open a URL source, retrying what the decision table says to retry (a 5xx, a
        drop, an origin that cannot be reached) with its back-off."""
        failures = 0
        while True:
            try:
                return await self._inspect_url(record, url)
            except VidliftError as exc:
                failures += 1
                decision = self._policy.decide(exc, failures)
                if decision.verdict is not Verdict.RETRY or self._stopping:
                    raise
                self._retry_hook(record.job_id)(exc, decision.delay_s)
                await anyio.sleep(decision.delay_s)

    async def _inspect_url(self, record: JobRecord, url: str) -> Source:
        """Open a URL source (the whole URL from this run's manifest); the first time,
        record its size and identity, later check them (vidlift.sources)."""
        recorded = record.source_identity
        source = await self._sources.open_source(
            self.secret_urls.get(record.job_id, url),
            expected_size=record.size_bytes if recorded else None,
            expected_identity=recorded,
        )
        if recorded is None:
            await self._journal.record_source(
                record.job_id, size_bytes=source.size_bytes, identity=source.identity
            )
        return source

    def _retry_hook(self, job_id: str) -> RetryCallback:
        def hook(error: VidliftError, delay_s: float) -> None:
            self._emit(JobRetrying(job_id, str(error), round(delay_s, 1), type(error).__name__))

        return hook

    def _spec(self, record: JobRecord, source: Source) -> JobStart:
        entry = record.to_entry()
        metadata = VideoMetadata(
            title=entry.title or Path(source.filename).stem,
            description=entry.description,
            tags=entry.tags,
            date=entry.date,
            link=entry.link,
            custom=dict(entry.custom),
        )
        handle = None
        if record.session_id and record.upload_url and record.video_key:
            handle = UploadHandle(record.video_key, record.session_id, record.upload_url)
        tag, *older = source_tags(source.name)
        known = self.known.get(record.job_id)
        if known is not None and known.tag not in (None, tag, *older):
            known = None  # another library's job with the same id: not ours
        return JobStart(
            job_id=record.job_id,
            source=source,
            metadata=metadata,
            marker=record.job_id,
            tag=tag,
            also_tags=tuple(older),
            video_key=record.video_key,
            handle=handle,
            acked=RangeSet.of(record.acked_ranges),
            look_up_first=record.create_sent or self.look_up_all,
            known=known if record.video_key is None else None,
            verified_md5=record.md5 if record.state is JobState.PROCESSING else None,
            verified=record.state is JobState.PROCESSING,
            fetch_url=self._fetch_url(record),
            thumbnail_url=self._poster_url(record),
        )

    def _poster_url(self, record: JobRecord) -> str | None:
        """The row's poster image, when the platform can set one (else reported at done)."""
        url = self.thumbnail_urls.get(record.job_id)
        return url if url is not None and self._context.platform.sets_posters else None

    def _source_notice(self, text: str) -> None:
        # With --remote fetch vidlift only inspects http(s) URLs (the platform reads
        # them): how the origin serves a stream is not the operator's concern then.
        if self._settings.remote != "fetch":
            self._emit(SourceNoticed(text))

    def _fetch_url(self, record: JobRecord) -> str | None:
        """The whole URL the platform should fetch (``--remote fetch``, http(s) rows only;
        an ``s3://`` object has no URL the platform could read: it is relayed)."""
        url = record.to_entry().source_url
        if self._settings.remote != "fetch" or url is None:
            return None
        if not url.lower().startswith(("http://", "https://")):
            return None
        return self.secret_urls.get(record.job_id, url)

    async def _process(self, record: JobRecord) -> JobResult:
        source = await self._check_source(record)
        resumed = record.state is not JobState.PENDING
        await self._journal.bump_attempts(record.job_id)
        newly_sized = max(0, source.size_bytes - record.size_bytes)  # 0 but for a new URL
        self._emit(JobStarted(record.job_id, source.name, source.size_bytes, resumed, newly_sized))
        size = source.size_bytes
        job_id = record.job_id
        return await run_job(
            self._context,
            self._spec(record, source),
            on_progress=lambda done: self._emit(JobProgress(job_id, done, size)),
            on_retry=self._retry_hook(job_id),
            on_acked=lambda acked: self._emit(JobAcked(job_id, acked, size)),
            on_verifying=lambda: self._emit(JobVerifying(job_id)),
            on_processing=lambda: self._emit(JobProcessing(job_id)),
        )
