"""``vidlift.run_batch``: the library entry point of a migration (jobs layer).

journal = await SqliteJournal.open(Path("library.vidlift.sqlite"))
outcome = await vidlift.run_batch(
    Path("library.csv"), journal=journal, endpoint=..., api_key=..., api_secret=...,
    on_event=print,
)
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import anyio

from vidlift.client.api import ApiClient
from vidlift.client.throttle import Throttle
from vidlift.client.transport import AiohttpTransport, Transport
from vidlift.client.uploader import SegmentSender
from vidlift.config import DEFAULT_ENDPOINT, Credentials
from vidlift.errors import VidliftError
from vidlift.jobs.events import ApiAnswered, EventSink, LibrarySurveyed
from vidlift.jobs.ingest import MetadataChange, ingest_manifest, job_spec
from vidlift.jobs.manager import (
    BatchOutcome,
    BatchRunner,
    BatchSettings,
    verify_batch_size_for,
)
from vidlift.jobs.pacing import AdaptiveGate, ApiPacer
from vidlift.jobs.policy import RetryPolicy, Verdict
from vidlift.jobs.survey import library_tag, survey_library
from vidlift.jobs.sync import sync_metadata
from vidlift.journal.base import JobRecord, Journal
from vidlift.manifest import ManifestEntry
from vidlift.platforms.base import Platform
from vidlift.platforms.v1 import V1Platform
from vidlift.platforms.v2 import V2Platform, V2Settings
from vidlift.protocol.models import RateLimit

__all__ = ["piece_bytes_for", "run_batch"]

# Bytes of file data a batch may hold in memory for its segments in flight (each upload
# keeps about two pieces: one being sent, one being read). benchmarks/RESULTS.md: peak RSS
# is about 60 MB + 2 x concurrency x piece size.
PIECE_BUDGET_BYTES = 64 * 1024 * 1024
MIN_PIECE_BYTES = 64 * 1024


def piece_bytes_for(settings: BatchSettings) -> int:
    """The read size: the configured one, made smaller at high concurrency so that
    memory stays within PIECE_BUDGET_BYTES whatever the file sizes."""
    fair_share = PIECE_BUDGET_BYTES // (2 * settings.concurrency)
    return max(MIN_PIECE_BYTES, min(settings.upload.piece_bytes, fair_share))


async def _prepare(
    runner: BatchRunner,
    platform: Platform,
    journal: Journal,
    policy: RetryPolicy,
    survey: bool | str | None,
    changes: Sequence[MetadataChange],
) -> bool:
    """Survey the library (a new or lost journal) and apply metadata changes before any
    job runs. False when the batch must stop (its reason in the outcome). A survey that
    fails otherwise is replaced by a look-up per job before it creates anything."""
    outcome = runner.outcome
    try:
        if survey:
            try:
                known, calls = await survey_library(platform, policy)
            except VidliftError as exc:
                if policy.classify(exc) is Verdict.STOP_BATCH:
                    raise
                runner.look_up_all = True
            else:
                runner.known = known
                runner.emit(LibrarySurveyed(len(known), calls))
        outcome.metadata_updated = await sync_metadata(platform, journal, policy, changes)
    except VidliftError as exc:
        if policy.classify(exc) is not Verdict.STOP_BATCH:
            raise
        outcome.stopped_by = str(exc)
        return False
    return True


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
    parts_in_flight: int = 4,
    jobs: AsyncIterable[JobRecord] | None = None,
    api_pacer: ApiPacer | None = None,
) -> BatchOutcome:
    """Queue the manifest's rows (a path, or entries; None: only what the journal holds)
    and run every runnable job. Safe to call again after a crash: it resumes.

    ``library`` tags every video created (default: a digest of the manifest's path), so
    that ``survey`` can find them again at one API call per 1,000 videos: a new or lost
    journal then creates nothing twice. ``survey`` None: survey when the journal held no
    job before this call.

    ``site_id`` set: JW's v2 API (Bearer ``api_secret``; ``api_key`` unused), files cut in
    parts of at least ``chunk_size``, ``parts_in_flight`` parts of a file at once.

    ``jobs`` replaces the journal's runnable jobs with another feed (a fleet worker's
    claimed jobs, see :mod:`vidlift.jobs.feed`); ``api_pacer`` replaces the per-process
    API pacer (v1: a budget shared by all workers).

    Raises ManifestError (unreadable manifest), ConfigError, JournalError; a failed job
    is a result in the journal, not an exception.
    """
    settings = settings or BatchSettings()
    credentials = Credentials(api_key, api_secret) if site_id is None else None
    if survey is None:
        survey = (await journal.counts()).total_jobs == 0
    if library is None and isinstance(manifest, Path):
        library = library_tag(manifest)
    changes = list(metadata_changes)
    secret_urls: dict[str, str] = {}
    if isinstance(manifest, Path):
        stats = await ingest_manifest(journal, manifest, strict=strict, on_event=on_event)
        changes.extend(stats.metadata_changes)
        secret_urls = stats.secret_urls
    elif manifest is not None:
        await journal.add_entries(map(job_spec, manifest))
    upload = replace(settings.upload, piece_bytes=piece_bytes_for(settings))
    settings = replace(settings, upload=upload)
    own_transport = transport is None
    transport = transport or AiohttpTransport(
        timeouts=upload.timeouts,
        verify_tls=upload.verify_tls,
        connection_limit=settings.concurrency * 2 + 4,
    )
    try:
        gate = AdaptiveGate(settings.concurrency)
        platform: Platform
        if credentials is None:
            v2 = V2Settings(
                site_id=site_id or "",
                api_secret=api_secret,
                endpoint=endpoint,
                part_floor_bytes=upload.chunk_size_bytes,
                parts_in_flight=parts_in_flight,
                api_timeout_s=upload.timeouts.api_s,
                zero_copy=upload.zero_copy,
                verify_md5=upload.verify_md5,
            )
            platform = V2Platform(transport, v2)
        else:
            api = ApiClient(
                transport,
                endpoint=endpoint,
                credentials=credentials,
                api_format=upload.api_format,
                timeout_s=upload.timeouts.api_s,
                pacer=api_pacer or ApiPacer(on_answer=_quota_reporter(on_event)),
            )
            throttle = Throttle(bwlimit_bytes_per_s) if bwlimit_bytes_per_s else None
            platform = V1Platform(
                api,
                SegmentSender(transport, throttle=throttle, zero_copy=upload.zero_copy),
                chunk_size_bytes=upload.chunk_size_bytes,
                api_format=upload.api_format,
                gate=gate,
                library=library,
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
        runner.secret_urls = secret_urls
        if not await _prepare(runner, platform, journal, policy, survey and library, changes):
            return runner.outcome
        return await runner.run(stop)
    finally:
        if own_transport:
            await transport.aclose()
