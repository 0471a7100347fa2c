"""Streaming a manifest into the journal (jobs layer).

Manifest rows are converted here into the journal's own value types (:class:`JobSpec`,
:class:`JobProblem`): the journal and the manifest reader do not know each other.

Rows are read (and their files checked) in a worker thread, a batch at a time, so
that a 1,000,000-row manifest neither blocks the event loop nor sits in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import anyio

from vidlift.jobs.events import EventSink, ManifestProblemFound
from vidlift.journal.base import Journal, metadata_to_json
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.state import JobState
from vidlift.manifest import ManifestEntry, ManifestProblem, iter_manifest
from vidlift.protocol.metadata import VideoMetadata

__all__ = ["IngestStats", "MetadataChange", "ingest_manifest", "job_problem", "job_spec"]

BATCH_ROWS = 1000


@dataclass(frozen=True, slots=True)
class MetadataChange:
    """A done job whose manifest row now says other metadata than its video carries."""

    job_id: str
    video_key: str
    metadata: VideoMetadata


@dataclass(slots=True)
class IngestStats:
    """What one pass over the manifest found.

    ``secret_urls`` maps the job id of each URL row whose URL holds a query string (or a
    user) to that whole URL: the journal stores URLs without them (they often hold a
    signature), so a run takes them from here (never logged, never in a repr).
    """

    rows: int = 0
    new_jobs: int = 0
    problems: int = 0
    warnings: list[str] = field(default_factory=list)  # e.g. unknown columns
    secret_urls: dict[str, str] = field(default_factory=dict, repr=False)
    # job id -> the row's thumbnail_download_url (a poster to set once the video is
    # ready); like secret URLs, taken from this run's manifest, never stored or shown.
    thumbnail_urls: dict[str, str] = field(default_factory=dict, repr=False)
    metadata_changes: list[MetadataChange] = field(default_factory=list)


def _digest(metadata: VideoMetadata) -> bytes:
    return hashlib.sha1(metadata_to_json(metadata).encode(), usedforsecurity=False).digest()


async def _done_metadata(journal: Journal) -> dict[str, tuple[str, bytes]]:
    """job id -> (video key, digest of the metadata its video carries), for done jobs."""
    return {
        record.job_id: (record.video_key or "", _digest(record.metadata))
        async for record in journal.iter_jobs([JobState.DONE])
    }


def _changed(done: dict[str, tuple[str, bytes]], spec: JobSpec) -> MetadataChange | None:
    known = done.get(spec.job_id)
    if known is None or not known[0] or known[1] == _digest(spec.metadata):
        return None
    return MetadataChange(spec.job_id, known[0], spec.metadata)


def job_spec(entry: ManifestEntry) -> JobSpec:
    """The job a good manifest row stands for (a URL without its query string)."""
    return JobSpec(
        job_id=entry.job_id,
        path=entry.path,
        source_url=entry.source_name if entry.source_url is not None else None,
        size_bytes=entry.size_bytes,
        mtime_ns=entry.mtime_ns,
        title=entry.title,
        description=entry.description,
        tags=entry.tags,
        date=entry.date,
        link=entry.link,
        custom=entry.custom,
        location=entry.location,
    )


def job_problem(problem: ManifestProblem) -> JobProblem:
    """The failed job a bad manifest row stands for."""
    return JobProblem(problem.location, problem.job_id, problem.path, problem.reason)


def _next_batch(
    rows: Iterator[ManifestEntry | ManifestProblem],
) -> list[ManifestEntry | ManifestProblem]:
    return list(islice(rows, BATCH_ROWS))


async def ingest_manifest(
    journal: Journal, manifest: Path, *, strict: bool = False, on_event: EventSink | None = None
) -> IngestStats:
    """Add every row of ``manifest`` to the journal; bad rows become failed jobs.

    Raises ManifestError for an unreadable manifest (or the first bad row with ``strict``).
    """
    stats = IngestStats()
    done = await _done_metadata(journal)  # the manifest is the truth for metadata too
    rows = iter_manifest(manifest, strict=strict)
    while batch := await anyio.to_thread.run_sync(_next_batch, rows):
        stats.rows += len(batch)
        entries = [job_spec(row) for row in batch if isinstance(row, ManifestEntry)]
        if done:
            changes = (_changed(done, spec) for spec in entries)
            stats.metadata_changes.extend(c for c in changes if c is not None)
        for row in batch:
            if isinstance(row, ManifestEntry) and row.source_url not in (None, row.source_name):
                stats.secret_urls[row.job_id] = row.source_url
            if isinstance(row, ManifestEntry) and row.thumbnail_url:
                stats.thumbnail_urls[row.job_id] = row.thumbnail_url
        for row in batch:
            if isinstance(row, ManifestProblem) and row.job_id.endswith(" columns>"):
                # Unknown columns are a warning, not a failed pseudo-job (issue 11, 2).
                stats.warnings.append(f"{row.location}: {row.reason}")
                continue
            if isinstance(row, ManifestProblem):
                stats.problems += 1
                await journal.add_problem(job_problem(row))
                if on_event is not None:
                    on_event(ManifestProblemFound(row.location, row.job_id, row.reason))
        stats.new_jobs += await journal.add_entries(entries)
    return stats
