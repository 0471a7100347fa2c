"""The batch job manager: many uploads at once from the journal (jobs layer).

``concurrency`` workers in one anyio task group take runnable jobs from the journal in
order; each job is one coroutine sending its segments in order over the shared
session. A failed job is a *result* written to the journal, never an exception that
cancels its siblings; only errors the policy classes as STOP_BATCH (credentials, the
journal itself) stop the batch. A stop request (Ctrl-C, SIGTERM) starts no new job,
lets segments in flight finish for ``grace_s``, then cancels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from vidlift.client.api import ApiClient
from vidlift.client.source import SourceFile
from vidlift.client.uploader import SegmentSender
from vidlift.config import UploadSettings
from vidlift.errors import JournalError, SegmentRejected, SourceError, VidliftError
from vidlift.jobs.creation import obtain_session, source_tag
from vidlift.jobs.delivery import Delivery, DeliveryResult, Hooks, deliver_file
from vidlift.jobs.events import (
    BatchEvent,
    EventSink,
    JobDone,
    JobFailed,
    JobInterrupted,
    JobProgress,
    JobRetrying,
    JobStarted,
)
from vidlift.jobs.pacing import AdaptiveGate
from vidlift.jobs.policy import RetryCallback, RetryPolicy, Verdict
from vidlift.jobs.transfer import TransferInterrupted
from vidlift.journal.base import JobRecord, Journal
from vidlift.journal.state import JobState
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.ranges import RangeSet
from vidlift.protocol.session import UploadSession
from vidlift.protocol.urls import build_upload_url

__all__ = ["RUNNABLE_STATES", "BatchOutcome", "BatchRunner", "BatchSettings"]

# Upload-server answers meaning "no such session": get a new one through videos/update.
SESSION_GONE_STATUSES = frozenset({404, 410})
RUNNABLE_STATES = (JobState.PENDING, JobState.CREATING, JobState.UPLOADING, JobState.VERIFYING)


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """How a batch runs."""

    concurrency: int = 8
    upload: UploadSettings = field(default_factory=UploadSettings)
    grace_s: float = 5.0


@dataclass(slots=True)
class BatchOutcome:
    """What one run did."""

    done: int = 0
    failed: int = 0
    interrupted: bool = False
    stopped_by: str | None = None
    bytes_sent: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started_at


class BatchRunner:
    """Runs the runnable jobs of a journal to completion (or failure) once."""

    def __init__(
        self,
        *,
        journal: Journal,
        api: ApiClient,
        sender: SegmentSender,
        settings: BatchSettings,
        policy: RetryPolicy,
        on_event: EventSink | None = None,
    ) -> None:
        self._journal = journal
        self._api = api
        self._sender = sender
        self._settings = settings
        self._policy = policy
        self._sink = on_event
        self._gate = AdaptiveGate(settings.concurrency)
        self._stopping = False
        self.outcome = BatchOutcome()

    def _emit(self, event: BatchEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    def request_stop(self) -> None:
        """Start no new job and no new segment; the run returns soon."""
        self._stopping = True
        self.outcome.interrupted = True

    async def run(self, stop: anyio.Event | None = None) -> BatchOutcome:
        """Work until no runnable job is left, a stop is requested, or the batch stops."""
        async with anyio.create_task_group() as outer:
            if stop is not None:
                outer.start_soon(self._watch_stop, stop, outer.cancel_scope)
            send, receive = anyio.create_memory_object_stream[JobRecord](0)
            async with anyio.create_task_group() as work:
                work.start_soon(self._feed, send)
                async with receive:
                    for _ in range(self._settings.concurrency):
                        work.start_soon(self._worker, receive.clone())
            outer.cancel_scope.cancel()
        await self._journal.flush()
        return self.outcome

    async def _watch_stop(self, stop: anyio.Event, scope: anyio.CancelScope) -> None:
        await stop.wait()
        self.request_stop()
        await anyio.sleep(self._settings.grace_s)
        scope.cancel()

    async def _feed(self, send: ObjectSendStream[JobRecord]) -> None:
        async with send:
            async for record in self._journal.iter_jobs(RUNNABLE_STATES):
                if self._stopping:
                    return
                await send.send(record)

    async def _worker(self, receive: ObjectReceiveStream[JobRecord]) -> None:
        async with receive:
            async for record in receive:
                if self._stopping:
                    return
                await self._run_job(record)

    async def _run_job(self, record: JobRecord) -> None:
        path = str(record.source_path)
        try:
            result = await self._process(record)
        except TransferInterrupted:
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
        self._emit(JobDone(record.job_id, path, video_key, record.size_bytes))

    async def _fail(self, record: JobRecord, path: str, error: str) -> None:
        await self._journal.mark_failed(record.job_id, error)
        self.outcome.failed += 1
        self._emit(JobFailed(record.job_id, path, error))

    async def _check_source(self, record: JobRecord) -> SourceFile:
        entry = record.to_entry()
        if entry.path is None:  # wired through vidlift.sources.opener with the new job loop
            raise SourceError(entry.source_url or "", "URL sources are not supported by this loop")
        source = await SourceFile.inspect(entry.path)
        if (source.size_bytes, source.mtime_ns) != (record.size_bytes, record.mtime_ns):
            raise SourceError(
                str(entry.path),
                f"the file changed after it was queued (size {record.size_bytes} -> "
                f"{source.size_bytes}, or its modification time): restore it, or give the new "
                "version its own row (a new id) in the manifest",
            )
        return source

    async def _delivery(self, record: JobRecord, source: SourceFile) -> Delivery:
        settings = self._settings.upload
        if record.session_id and record.upload_url and record.video_key:
            session = UploadSession.resume(
                source.size_bytes, settings.chunk_size_bytes, RangeSet.of(record.acked_ranges)
            )
            return Delivery(source, record.video_key, record.upload_url, record.session_id, session)
        entry = record.to_entry()
        await self._journal.mark_creating(record.job_id)
        metadata = VideoMetadata(
            title=entry.title or source.path.stem,
            description=entry.description,
            tags=entry.tags,
            date=entry.date,
            link=entry.link,
            custom=dict(entry.custom),
        )
        created = await obtain_session(
            self._api,
            metadata,
            marker=record.job_id,
            policy=self._policy,
            video_key=record.video_key,
            look_up_first=record.create_sent,
            tag=source_tag(source.path),
            on_retry=self._retry_hook(record.job_id),
        )
        upload_url = build_upload_url(created.link, api_format=settings.api_format)
        await self._journal.record_created(
            record.job_id,
            video_key=created.video_key,
            upload_url=upload_url,
            session_id=created.session_id,
        )
        session = UploadSession(source.size_bytes, settings.chunk_size_bytes)
        return Delivery(source, created.video_key, upload_url, created.session_id, session)

    def _retry_hook(self, job_id: str) -> RetryCallback:
        def hook(error: VidliftError, delay_s: float) -> None:
            self._emit(JobRetrying(job_id, str(error), delay_s))

        return hook

    async def _process(self, record: JobRecord) -> DeliveryResult:
        source = await self._check_source(record)
        resumed = record.state is not JobState.PENDING
        await self._journal.bump_attempts(record.job_id)
        self._emit(JobStarted(record.job_id, str(source.path), source.size_bytes, resumed))
        delivery = await self._delivery(record, source)
        try:
            return await self._deliver(record.job_id, delivery)
        except SegmentRejected as exc:
            if exc.http_status not in SESSION_GONE_STATUSES:
                raise
        # The upload server no longer knows the session (expired, or replaced): ask the
        # API for a new one on the same video and start that session from its first byte.
        await self._journal.reset_upload(record.job_id)
        renewed = await self._journal.get(record.job_id)
        if renewed is None:
            raise JournalError(f"job {record.job_id} vanished from the journal")
        return await self._deliver(record.job_id, await self._delivery(renewed, source))

    async def _deliver(self, job_id: str, delivery: Delivery) -> DeliveryResult:
        size = delivery.source.size_bytes

        async def on_acked(ranges: RangeSet) -> None:
            await self._journal.record_progress(job_id, ranges.as_pairs())

        async def on_verifying() -> None:
            await self._journal.mark_verifying(job_id)

        hooks = Hooks(
            on_progress=lambda done: self._emit(JobProgress(job_id, done, size)),
            on_acked=on_acked,
            on_retry=self._retry_hook(job_id),
            on_verifying=on_verifying,
            should_stop=lambda: self._stopping,
        )
        return await deliver_file(
            delivery,
            sender=self._sender,
            api=self._api,
            policy=self._policy,
            piece_bytes=self._settings.upload.piece_bytes,
            hooks=hooks,
            gate=self._gate,
            verify_md5=self._settings.upload.verify_md5,
        )
