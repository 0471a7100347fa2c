"""``vidlift.run_batch``: the library entry point of a migration (jobs layer).

journal = await SqliteJournal.open(Path("library.vidlift.sqlite"))
outcome = await vidlift.run_batch(
    Path("library.csv"), journal=journal, endpoint=..., api_key=..., api_secret=...,
    on_event=print,
)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import anyio

from vidlift.client.api import ApiClient
from vidlift.client.throttle import Throttle
from vidlift.client.transport import AiohttpTransport, Transport
from vidlift.client.uploader import SegmentSender
from vidlift.config import DEFAULT_ENDPOINT, Credentials
from vidlift.jobs.events import EventSink
from vidlift.jobs.ingest import ingest_manifest, job_spec
from vidlift.jobs.manager import BatchOutcome, BatchRunner, BatchSettings
from vidlift.jobs.pacing import ApiPacer
from vidlift.jobs.policy import RetryPolicy
from vidlift.journal.base import Journal
from vidlift.manifest import ManifestEntry

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
) -> BatchOutcome:
    """Queue the manifest's rows (a path, or entries; None: only what the journal holds)
    and run every runnable job. Safe to call again after a crash: it resumes.

    Raises ManifestError (unreadable manifest), ConfigError, JournalError; a failed job
    is a result in the journal, not an exception.
    """
    settings = settings or BatchSettings()
    credentials = Credentials(api_key, api_secret)
    if isinstance(manifest, Path):
        await ingest_manifest(journal, manifest, strict=strict, on_event=on_event)
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
        api = ApiClient(
            transport,
            endpoint=endpoint,
            credentials=credentials,
            api_format=upload.api_format,
            timeout_s=upload.timeouts.api_s,
            pacer=ApiPacer(),
        )
        throttle = Throttle(bwlimit_bytes_per_s) if bwlimit_bytes_per_s else None
        runner = BatchRunner(
            journal=journal,
            api=api,
            sender=SegmentSender(transport, throttle=throttle, zero_copy=upload.zero_copy),
            settings=settings,
            policy=RetryPolicy(upload.retry),
            on_event=on_event,
        )
        return await runner.run(stop)
    finally:
        if own_transport:
            await transport.aclose()
