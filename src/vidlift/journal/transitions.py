"""The rules of every change to a job record, shared by all backends (journal layer).

Pure functions: a record (or nothing) and an event in, the new record out (or None when
nothing changes). Backends only load, apply and store, so that SQLite, memory and the
PostgreSQL backend to come cannot disagree on what a change means. The time is passed in
(backends take it from a :class:`WallClock`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from vidlift.journal.base import JobRecord
from vidlift.journal.state import JobState
from vidlift.manifest.rows import ManifestEntry, ManifestProblem
from vidlift.protocol.metadata import VideoMetadata

__all__ = [
    "Change",
    "JobStatus",
    "WallClock",
    "attempted",
    "check_ranges",
    "created",
    "creating",
    "done",
    "failed",
    "is_new_job",
    "merge_manifest_item",
    "progressed",
    "requeued",
    "skipped",
    "upload_reset",
    "verifying",
]

Change = Callable[[JobRecord, float], JobRecord]
"""A change to one job: (record, now) -> new record."""


class WallClock:
    """Unix time that never repeats or goes back within one journal (orders failures)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0.0

    def now(self) -> float:
        """The current Unix time, strictly after the previous answer."""
        self._last = max(time.time(), self._last + 1e-6)
        return self._last


def check_ranges(ranges: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Return ``ranges`` as a tuple of pairs; raise ValueError unless 0 <= start <= end."""
    checked: list[tuple[int, int]] = []
    for pair in ranges:
        start, end = pair
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
            raise ValueError(f"acknowledged range {pair!r} is not a pair of integers")
        if not 0 <= start <= end:
            raise ValueError(f"acknowledged range {pair!r} is not 0 <= start <= end")
        checked.append((start, end))
    return tuple(checked)


def _entry_record(entry: ManifestEntry, now: float, created_at: float | None) -> JobRecord:
    return JobRecord(
        job_id=entry.job_id,
        source_path=entry.path,
        size_bytes=entry.size_bytes,
        mtime_ns=entry.mtime_ns,
        metadata=entry.metadata,
        location=entry.location,
        state=JobState.PENDING,
        created_at=now if created_at is None else created_at,
        updated_at=now,
    )


def _problem_record(problem: ManifestProblem, now: float, created_at: float | None) -> JobRecord:
    return JobRecord(
        job_id=problem.job_id,
        source_path=problem.path,
        size_bytes=0,
        mtime_ns=0,
        metadata=VideoMetadata(),
        location=problem.location,
        state=JobState.FAILED,
        last_error=problem.reason,
        created_at=now if created_at is None else created_at,
        updated_at=now,
        manifest_problem=True,
    )


class JobStatus(Protocol):
    """What deciding a manifest merge needs of a job (a JobRecord, or a lighter row)."""

    @property
    def state(self) -> JobState: ...
    @property
    def manifest_problem(self) -> bool: ...
    @property
    def create_sent(self) -> bool: ...
    @property
    def video_key(self) -> str | None: ...
    @property
    def created_at(self) -> float: ...
    @property
    def source_path(self) -> Path | None: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def location(self) -> str: ...
    @property
    def metadata(self) -> VideoMetadata: ...


def _never_started(record: JobStatus) -> bool:
    return record.state is JobState.PENDING and not record.create_sent and record.video_key is None


def _same_row(record: JobStatus, entry: ManifestEntry) -> bool:
    return (
        (record.source_path, record.size_bytes, record.mtime_ns, record.location)
        == (entry.path, entry.size_bytes, entry.mtime_ns, entry.location)
    ) and record.metadata == entry.metadata


def is_new_job(existing: JobStatus | None) -> bool:
    """Whether a manifest entry merged over ``existing`` makes a new job (to count it)."""
    return existing is None or existing.manifest_problem


def merge_manifest_item(
    existing: JobStatus | None, item: ManifestEntry | ManifestProblem, now: float
) -> JobRecord | None:
    """What a manifest result does to the journal: the record to store, or None.

    - An entry inserts a pending job. Over an existing job it replaces a bad-row record
      (the row was fixed) and refreshes a job never started whose row or file changed
      (a new title, a re-encoded file: nothing was sent yet). Any other job keeps its
      state and the parameters it was queued with: a rerun resumes.
    - A problem inserts a failed bad-row record; over an existing job it replaces only a
      job never started or another bad-row record (the reason may have changed). A job
      that started (or is done) keeps its state: its upload parameters were taken when
      it was queued, and a missing source file will be reported by the upload itself.
    """
    created_at = existing.created_at if existing else None
    if isinstance(item, ManifestEntry):
        if is_new_job(existing):
            return _entry_record(item, now, created_at)
        if existing is not None and _never_started(existing) and not _same_row(existing, item):
            return _entry_record(item, now, created_at)
        return None
    if existing is None or existing.manifest_problem or _never_started(existing):
        return _problem_record(item, now, created_at)
    return None


def requeued(record: JobRecord, now: float) -> JobRecord | None:
    """A failed job queued again, or None if it is not failed or is a bad manifest row.

    It goes back to ``creating`` when a create call may have reached the server and no
    video key is known, so that it is reconciled instead of created twice; else to
    ``pending``. Attempts restart at 0; ``last_error`` is kept.
    """
    if record.state is not JobState.FAILED or record.manifest_problem:
        return None
    state = (
        JobState.CREATING if record.create_sent and record.video_key is None else JobState.PENDING
    )
    return replace(record, state=state, attempts=0, updated_at=now)


def creating(record: JobRecord, now: float) -> JobRecord:
    """``mark_creating``: a create call is about to be sent."""
    return replace(record, state=JobState.CREATING, create_sent=True, updated_at=now)


def created(
    record: JobRecord, now: float, *, video_key: str, upload_url: str, session_id: str
) -> JobRecord:
    """``record_created``: a video and an upload session exist; ranges start empty."""
    return replace(
        record,
        state=JobState.UPLOADING,
        video_key=video_key,
        upload_url=upload_url,
        session_id=session_id,
        acked_ranges=(),
        create_sent=True,
        updated_at=now,
    )


def progressed(record: JobRecord, now: float, *, ranges: tuple[tuple[int, int], ...]) -> JobRecord:
    """``record_progress``: the server's acknowledged ranges (already checked)."""
    return replace(record, acked_ranges=ranges, updated_at=now)


def verifying(record: JobRecord, now: float) -> JobRecord:
    """``mark_verifying``."""
    return replace(record, state=JobState.VERIFYING, updated_at=now)


def done(record: JobRecord, now: float, *, video_key: str, md5: str | None) -> JobRecord:
    """``mark_done``."""
    return replace(record, state=JobState.DONE, video_key=video_key, md5=md5, updated_at=now)


def failed(record: JobRecord, now: float, *, error: str) -> JobRecord:
    """``mark_failed``."""
    return replace(record, state=JobState.FAILED, last_error=error, updated_at=now)


def skipped(record: JobRecord, now: float, *, reason: str) -> JobRecord:
    """``mark_skipped`` (the reason is kept in ``last_error``)."""
    return replace(record, state=JobState.SKIPPED, last_error=reason, updated_at=now)


def attempted(record: JobRecord, now: float) -> JobRecord:
    """``bump_attempts``."""
    return replace(record, attempts=record.attempts + 1, updated_at=now)


def upload_reset(record: JobRecord, now: float) -> JobRecord:
    """``reset_upload``: forget the session, URL and ranges; keep the video key."""
    return replace(record, upload_url=None, session_id=None, acked_ranges=(), updated_at=now)
