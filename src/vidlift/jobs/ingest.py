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
from vidlift.manifest.ids import SeenIds
from vidlift.protocol.metadata import VideoMetadata

__all__ = [
    "IngestStats",
    "MetadataChange",
    "ingest_manifest",
    "job_problem",
    "job_spec",
    "metadata_digest",
    "next_batch",
]

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
    job_ids: SeenIds = field(default_factory=SeenIds, repr=False)  # this manifest's jobs


def metadata_digest(metadata: VideoMetadata) -> bytes:
    """A short digest of ``metadata``, to tell whether a video's metadata changed."""
    return hashlib.sha1(metadata_to_json(metadata).encode(), usedforsecurity=False).digest()


_Done = dict[str, tuple[str, bytes, int, int]]


async def _done_jobs(journal: Journal) -> _Done:
    """job id -> (video key, digest of the metadata its video carries, size, mtime of the
    file it was made from), for done jobs."""
    return {
        record.job_id: (
            record.video_key or "",
            metadata_digest(record.metadata),
            record.size_bytes,
            record.mtime_ns,
        )
        async for record in journal.iter_jobs([JobState.DONE])
    }


def _changed(done: _Done, spec: JobSpec) -> MetadataChange | None:
    known = done.get(spec.job_id)
    if known is None or not known[0] or known[1] == metadata_digest(spec.metadata):
        return None
    return MetadataChange(spec.job_id, known[0], spec.metadata)


KEPT_VERSION = "keeps the version uploaded before (not uploaded again)"
"""What happens to a done video whose row's file changed since (the run and the dry run)."""


def file_changed(size_bytes: int, mtime_ns: int, spec: JobSpec) -> bool:
    """True when ``spec``'s local file is not the one a job saw (size, mtime); a URL's
    version is learnt by its job, never here."""
    return spec.source_url is None and (size_bytes, mtime_ns) != (spec.size_bytes, spec.mtime_ns)


def _file_changed_since_done(done: _Done, spec: JobSpec) -> str | None:
    """The warning for a done job whose local file changed since it was uploaded: the
    rule is that its video keeps that version (as the dry run says)."""
    known = done.get(spec.job_id)
    if known is None or not file_changed(known[2], known[3], spec):
        return None
    return (
        f"{spec.location}: {spec.path}: the file changed since its upload ({known[2]} -> "
        f"{spec.size_bytes} bytes, or its time): its video {known[0]} {KEPT_VERSION}"
    )


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


def next_batch(
    rows: Iterator[ManifestEntry | ManifestProblem],
) -> list[ManifestEntry | ManifestProblem]:
    """The next rows of a manifest, up to ``BATCH_ROWS`` (read in a worker thread)."""
    return list(islice(rows, BATCH_ROWS))


def _note_rows(
    stats: IngestStats, batch: list[ManifestEntry | ManifestProblem]
) -> list[ManifestProblem]:
    """Note the batch's job ids, secret URLs, posters and warnings in ``stats``; return its bad
    rows. Unknown columns and a row naming a file an earlier row names are warnings,
    not failed (pseudo-)jobs (issue 11)."""
    bad: list[ManifestProblem] = []
    for row in batch:
        if isinstance(row, ManifestProblem) and row.warning:
            stats.warnings.append(f"{row.location}: {row.reason}")
            continue
        stats.job_ids.add(row.job_id)
        if isinstance(row, ManifestProblem):
            bad.append(row)
            continue
        if row.notice:
            stats.warnings.append(f"{row.location}: {row.notice}")
        if row.source_url not in (None, row.source_name):
            stats.secret_urls[row.job_id] = row.source_url
        if row.thumbnail_url:
            stats.thumbnail_urls[row.job_id] = row.thumbnail_url
    return bad


async def _warn_if_kept(journal: Journal, problem: ManifestProblem, stats: IngestStats) -> None:
    """A bad row whose job has started (or is done) does not change that job: say so,
    or the run would end without a word on it (the row's new values are not applied)."""
    record = await journal.get(problem.job_id)
    if record is None or record.manifest_problem or record.state is JobState.PENDING:
        return
    stats.warnings.append(
        f"{problem.location}: {problem.reason} (job {problem.job_id} is "
        f"{record.state.value} and stays as it was: fix the row to apply it)"
    )


async def ingest_manifest(
    journal: Journal,
    manifest: Path,
    *,
    strict: bool = False,
    on_event: EventSink | None = None,
    allow_duplicate_files: bool = False,
) -> IngestStats:
    """Add every row of ``manifest`` to the journal; bad rows become failed jobs,
    warnings (unknown columns, a file named twice) are returned.

    Raises ManifestError for an unreadable manifest (or the first bad row with ``strict``).
    """
    stats = IngestStats()
    done = await _done_jobs(journal)  # the manifest is the truth for metadata too
    rows = iter_manifest(manifest, strict=strict, allow_duplicate_files=allow_duplicate_files)
    while batch := await anyio.to_thread.run_sync(next_batch, rows):
        stats.rows += len(batch)
        entries = [job_spec(row) for row in batch if isinstance(row, ManifestEntry)]
        if done:
            changes = (_changed(done, spec) for spec in entries)
            stats.metadata_changes.extend(c for c in changes if c is not None)
            notes = (_file_changed_since_done(done, spec) for spec in entries)
            stats.warnings.extend(note for note in notes if note is not None)
        for problem in _note_rows(stats, batch):
            stats.problems += 1
            await _warn_if_kept(journal, problem, stats)
            await journal.add_problem(job_problem(problem))
            if on_event is not None:
                on_event(ManifestProblemFound(problem.location, problem.job_id, problem.reason))
        stats.new_jobs += await journal.add_entries(entries)
    return stats
