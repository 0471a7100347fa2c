"""``vidlift.run_batch``: the library entry point of a migration (jobs layer).

journal = await SqliteJournal.open(Path("library.vidlift.sqlite"))
outcome = await vidlift.run_batch(
    Path("library.csv"), journal=journal, endpoint=..., api_key=..., api_secret=...,
    on_event=print,
)
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import replace
from functools import partial
from pathlib import Path

import anyio
from anyio import CancelScope

from vidlift.client.api import ApiClient
from vidlift.client.throttle import Throttle
from vidlift.client.transport import AiohttpTransport, Transport
from vidlift.client.uploader import SegmentSender
from vidlift.config import DEFAULT_ENDPOINT, Credentials
from vidlift.errors import ConfigError, VidliftError
from vidlift.jobs.events import (
    ApiAnswered,
    BatchRetrying,
    BatchStarted,
    EventSink,
    LibrarySurveyed,
)
from vidlift.jobs.ingest import MetadataChange, ingest_manifest, job_spec
from vidlift.jobs.job import RetryCallback
from vidlift.jobs.manager import (
    BatchOutcome,
    BatchRunner,
    BatchSettings,
    verify_batch_size_for,
)
from vidlift.jobs.pacing import AdaptiveGate, ApiPacer
from vidlift.jobs.policy import RetryPolicy, Verdict
from vidlift.jobs.reachability import Reachability
from vidlift.jobs.survey import library_tag, survey_library
from vidlift.jobs.sync import sync_metadata
from vidlift.journal.base import JobCounts, JobRecord, Journal
from vidlift.journal.spec import JobSpec
from vidlift.journal.state import RUNNABLE_STATES
from vidlift.manifest import ManifestEntry
from vidlift.platforms.base import Platform
from vidlift.platforms.v1 import V1Platform
from vidlift.platforms.v2 import V2Platform, V2Settings
from vidlift.protocol.models import RateLimit

__all__ = ["mean_left_bytes", "piece_bytes_for", "resolve_limits", "run_batch"]

MIN_PIECE_BYTES = 64 * 1024


def piece_bytes_for(settings: BatchSettings) -> int:
    """The read size: the configured one, made smaller at high concurrency so that the
    file data in memory stays within ``limits.bytes_in_flight`` whatever the file sizes
    (each upload keeps about two pieces: one being sent, one being read;
    benchmarks/RESULTS.md: peak RSS is about 60 MB + 2 x files in flight x piece size).
    Needs resolved limits."""
    limits = settings.limits
    if not limits.bytes_in_flight:
        return settings.upload.piece_bytes
    fair_share = limits.bytes_in_flight // (2 * max(1, limits.files_in_flight))
    return max(MIN_PIECE_BYTES, min(settings.upload.piece_bytes, fair_share))


def mean_left_bytes(counts: JobCounts) -> float | None:
    """The bytes not done yet per runnable job (failed jobs' bytes count too: the journal
    sums sizes by done / not done only); None when no job is runnable."""
    left = sum(counts.by_state.get(state, 0) for state in RUNNABLE_STATES)
    return (counts.total_bytes - counts.done_bytes) / left if left else None


async def resolve_limits(settings: BatchSettings, journal: Journal) -> BatchSettings:
    """``settings`` with its AUTO limits chosen for the jobs still to run in ``journal``
    (their mean size: :func:`vidlift.config.auto_files_in_flight`), and the read size
    that fits ``bytes_in_flight``. What ``run_batch`` runs with."""
    limits = settings.limits
    mean = mean_left_bytes(await journal.counts()) if not limits.files_in_flight else None
    limits = limits.resolved(mean, settings.upload.chunk_size_bytes)
    settings = replace(settings, limits=limits)
    upload = replace(settings.upload, piece_bytes=piece_bytes_for(settings))
    return replace(settings, upload=upload)


async def _prepare(
    runner: BatchRunner,
    platform: Platform,
    journal: Journal,
    policy: RetryPolicy,
    survey: bool | str | None,
    changes: Sequence[MetadataChange],
    unreachable_s: float,
) -> bool:
    """Survey the library (a new or lost journal) and apply metadata changes before any
    job runs. False when the batch must stop (its reason in the outcome). A survey that
    fails otherwise is replaced by a look-up per job before it creates anything."""
    outcome = runner.outcome
    reach = Reachability(unreachable_s)

    def retrying(step: str) -> RetryCallback:
        def emit(error: VidliftError, delay_s: float) -> None:
            runner.emit(BatchRetrying(step, str(error), round(delay_s, 1), type(error).__name__))

        return emit

    try:
        if survey:
            try:
                known, calls = await survey_library(
                    platform,
                    policy,
                    on_retry=retrying("surveying the platform"),
                    reachability=reach,
                )
            except VidliftError as exc:
                if policy.classify(exc) is Verdict.STOP_BATCH:
                    raise
                runner.look_up_all = True
            else:
                runner.known = known
                runner.emit(LibrarySurveyed(len(known), calls))
        outcome.metadata_updated = await sync_metadata(
            platform,
            journal,
            policy,
            changes,
            on_retry=retrying("updating metadata"),
            reachability=reach,
        )
    except VidliftError as exc:
        if policy.classify(exc) is not Verdict.STOP_BATCH:
            raise
        outcome.stopped_by = str(exc)
        return False
    return True


async def _unless_stopped(
    stop: anyio.Event | None, runner: BatchRunner, step: Callable[[], Awaitable[bool]]
) -> bool:
    """``step()`` (the batch's preparation), given up at once (False) when ``stop`` is set
    meanwhile."""
    prepared = False
    async with anyio.create_task_group() as preparing:
        if stop is not None:
            preparing.start_soon(_stop_preparing, stop, runner, preparing.cancel_scope)
        prepared = await step()
        preparing.cancel_scope.cancel()
    return prepared


async def _stop_preparing(stop: anyio.Event, runner: BatchRunner, scope: CancelScope) -> None:
    """Ctrl-C while the platform is surveyed: nothing is in flight, stop at once."""
    await stop.wait()
    runner.request_stop()
    scope.cancel()


def _quota_reporter(sink: EventSink | None) -> Callable[[RateLimit | None], None] | None:
    """Tell the event sink about every API answer and the quota it states."""
    if sink is None:
        return None

    def report(quota: RateLimit | None) -> None:
        if quota is None:
            sink(ApiAnswered(None, None, None))
        else:
            reset = float(quota.reset) if quota.reset is not None else None
            sink(ApiAnswered(quota.limit, quota.remaining, reset))

    return report


def _specs(
    entries: Iterable[ManifestEntry], whole_urls: dict[str, str], thumbnail_urls: dict[str, str]
) -> Iterator[JobSpec]:
    """The journal's job specs of a library caller's entries; the whole URL of each URL
    entry (the spec keeps it without its query) and each poster noted."""
    for entry in entries:
        if entry.source_url is not None and entry.source_url != entry.source_name:
            whole_urls[entry.job_id] = entry.source_url
        if entry.thumbnail_url:
            thumbnail_urls[entry.job_id] = entry.thumbnail_url
        yield job_spec(entry)


async def run_batch(
    manifest: Path | Iterable[ManifestEntry] | None,
    *,
    journal: Journal,
    api_key: str,
    api_secret: str,
    endpoint: str = DEFAULT_ENDPOINT,
    settings: BatchSettings | None = None,
    bwlimit_bytes_per_s: int | None = None,
    strict: bool = False,
    on_event: EventSink | None = None,
    stop: anyio.Event | None = None,
    transport: Transport | None = None,
    library: str | None = None,
    survey: bool | None = None,
    metadata_changes: Sequence[MetadataChange] = (),
    site_id: str | None = None,
    jobs: AsyncIterable[JobRecord] | None = None,
    api_pacer: ApiPacer | None = None,
    secret_urls: Mapping[str, str] | None = None,
    thumbnail_urls: Mapping[str, str] | None = None,
    throttle: Throttle | None = None,
) -> BatchOutcome:
    """Queue the manifest's rows (a path, or entries; None: only what the journal holds)
    and run every runnable job. Safe to call again after a crash: it resumes.

    ``library`` tags every video created (default: a digest of the manifest's path), so
    that ``survey`` can find them again at one API call per 1,000 videos: a new or lost
    journal then creates nothing twice. ``survey`` None: survey when the journal held no
    job before this call.

    ``settings.limits`` may be AUTO (the default): files in flight and connections are
    then chosen for the mean size of the files still to send (:func:`resolve_limits`);
    the first event is a ``BatchStarted`` with the limits the batch runs with.

    ``site_id`` set: JW's v2 API (Bearer ``api_secret``; ``api_key`` unused), files cut in
    parts of at least ``chunk_size_bytes``, ``limits.parts_in_flight`` parts of a file at
    once.
    ``settings.upload.upload_method`` "s3" (v1 only): each file in one PUT to a signed
    link, not resumable.

    ``secret_urls`` maps job ids to whole URLs (with a query: often a signature) of URL
    rows the caller queued itself (``manifest`` None): the journal keeps URLs without
    their query, so the run reads with these; a manifest given here supplies its own.
    ``thumbnail_urls`` likewise: the poster image of each job, set once its video is ready.

    ``jobs`` replaces the journal's runnable jobs with another feed (a fleet worker's
    claimed jobs, see :mod:`vidlift.jobs.feed`); ``api_pacer`` replaces the per-process
    API pacer (v1 and v2: a budget shared by all workers); ``throttle`` replaces the one
    ``bwlimit_bytes_per_s`` would make (a fleet worker changes its rate as workers come
    and go: :class:`vidlift.jobs.feed.BandwidthShare`).

    Raises ManifestError (unreadable manifest), ConfigError, JournalError; a failed job
    is a result in the journal, not an exception.
    """
    settings = settings or BatchSettings()
    credentials = Credentials(api_key, api_secret) if site_id is None else None
    if site_id is not None and settings.upload.upload_method != "multipart":
        raise ConfigError("--upload-method s3 is v1's (v2 chooses parts or a direct PUT itself)")
    if survey is None:
        survey = (await journal.counts()).total_jobs == 0
    if library is None and isinstance(manifest, Path):
        library = library_tag(manifest)
    changes = list(metadata_changes)
    whole_urls: dict[str, str] = dict(secret_urls or {})
    posters: dict[str, str] = dict(thumbnail_urls or {})
    if isinstance(manifest, Path):
        stats = await ingest_manifest(journal, manifest, strict=strict, on_event=on_event)
        changes.extend(stats.metadata_changes)
        whole_urls.update(stats.secret_urls)
        posters.update(stats.thumbnail_urls)
    elif manifest is not None:
        await journal.add_entries(_specs(manifest, whole_urls, posters))
    settings = await resolve_limits(settings, journal)
    upload, limits = settings.upload, settings.limits
    if on_event is not None:
        on_event(BatchStarted(limits))
    own_transport = transport is None
    transport = transport or AiohttpTransport(
        timeouts=upload.timeouts,
        verify_tls=upload.verify_tls,
        connection_limit=limits.connections,
    )
    try:
        gate = AdaptiveGate(limits.files_in_flight)
        throttle = throttle or (Throttle(bwlimit_bytes_per_s) if bwlimit_bytes_per_s else None)
        platform: Platform
        if credentials is None:
            v2 = V2Settings(
                site_id=site_id or "",
                api_secret=api_secret,
                endpoint=endpoint,
                part_floor_bytes=upload.chunk_size_bytes,
                parts_in_flight=limits.parts_in_flight,
                api_timeout_s=upload.timeouts.api_s,
                zero_copy=upload.zero_copy,
                verify_md5=upload.verify_md5,
                library=library,
            )
            platform = V2Platform(
                transport,
                v2,
                # its finished uploads state no size: asked for even without the md5
                verify_batch_size=verify_batch_size_for(settings, size_stated=False) or None,
                pacer=api_pacer or ApiPacer(on_answer=_quota_reporter(on_event)),
                throttle=throttle,
            )
        else:
            api = ApiClient(
                transport,
                endpoint=endpoint,
                credentials=credentials,
                api_format=upload.api_format,
                timeout_s=upload.timeouts.api_s,
                pacer=api_pacer or ApiPacer(on_answer=_quota_reporter(on_event)),
            )
            platform = V1Platform(
                api,
                SegmentSender(transport, throttle=throttle, zero_copy=upload.zero_copy),
                chunk_size_bytes=upload.chunk_size_bytes,
                api_format=upload.api_format,
                gate=gate,
                library=library,
                upload_method=upload.upload_method,
                verify_batch_size=verify_batch_size_for(settings) or None,
            )
        policy = RetryPolicy(upload.retry)
        runner = BatchRunner(
            journal=journal,
            platform=platform,
            settings=settings,
            policy=policy,
            on_event=on_event,
            gate=gate,
            jobs=jobs,
        )
        runner.secret_urls, runner.thumbnail_urls = whole_urls, posters
        prepare = partial(
            _prepare,
            runner,
            platform,
            journal,
            policy,
            survey and library,
            changes,
            settings.unreachable_s,
        )
        if not await _unless_stopped(stop, runner, prepare):
            return runner.outcome
        return await runner.run(stop)
    finally:
        if own_transport:
            await transport.aclose()
