"""The rules of every change to a job record, shared by all backends (journal layer).

Pure functions: a record (or nothing) and an event in, the new record out (or None when
nothing changes). Each checks the state the job comes from against the one table,
:data:`vidlift.journal.state.TRANSITIONS`, and raises
:class:`~vidlift.errors.IllegalTransition` for a move it does not list. Backends only
load, apply and store, so that SQLite, memory and PostgreSQL cannot disagree on what a
change means. The time is passed in
(backends take it from a :class:`WallClock`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from vidlift.journal.base import JobRecord
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.state import TRANSITIONS, JobEvent, JobState, next_state
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
    "processing",
    "progressed",
    "requeued",
    "retitled",
    "skipped",
    "source_recorded",
    "upload_reset",
    "verifying",
]

Change = Callable[[JobRecord, float], JobRecord]
"""A change to one job: (record, now) -> new record.

Raises IllegalTransition when the table in :mod:`vidlift.journal.state` does not allow
the change from the record's state."""


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


def _entry_record(entry: JobSpec, now: float, created_at: float | None) -> JobRecord:
    return JobRecord(
        job_id=entry.job_id,
        source_path=entry.path,
        size_bytes=entry.size_bytes,
        mtime_ns=entry.mtime_ns,
        metadata=entry.metadata,
        location=entry.location,
        state=JobState.PENDING,
        source_url=entry.source_url,
        created_at=now if created_at is None else created_at,
        updated_at=now,
    )


def _problem_record(problem: JobProblem, now: float, created_at: float | None) -> JobRecord:
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
    def source_url(self) -> str | None: ...
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


def _same_row(record: JobStatus, entry: JobSpec) -> bool:
    # A URL's size is learnt by the job (record_source), not when it is queued.
    same_size = entry.source_url is not None or (record.size_bytes, record.mtime_ns) == (
        entry.size_bytes,
        entry.mtime_ns,
    )
    return (
        same_size
        and (record.source_path, record.source_url, record.location)
        == (entry.path, entry.source_url, entry.location)
        and record.metadata == entry.metadata
    )


def _new_version(record: JobStatus, entry: JobSpec) -> bool:
    if entry.source_url is not None:  # a URL's version is known by the job, not the manifest
        return False
    return (record.source_path, record.size_bytes, record.mtime_ns) != (
        entry.path,
        entry.size_bytes,
        entry.mtime_ns,
    )


def is_new_job(existing: JobStatus | None) -> bool:
    """Whether a manifest entry merged over ``existing`` makes a new job (to count it)."""
    return existing is None or existing.manifest_problem


def merge_manifest_item(
    existing: JobStatus | None, item: JobSpec | JobProblem, now: float
) -> JobRecord | None:
    """The record after merging one queued item over ``existing``, or None if unchanged.

    - A spec makes a new pending job; over a bad-row record it makes the job pending
      (``QUEUE``); over a job never started (pending, no create sent, no video key) it
      refreshes the job if the source or metadata changed; over a FAILED job whose file
      changed (a new version) it queues the new version into the same video.
    - A problem makes a failed bad-row job (``REJECT_ROW``); it replaces only a job never
      started or another bad-row record (the reason may have changed). A job that
      started (or is done) keeps its state: its upload parameters were taken when it
      was queued, and a missing source file will be reported by the upload itself.
    """
    created_at = existing.created_at if existing else None
    if isinstance(item, JobSpec):
        if existing is None:
            return _entry_record(item, now, None)
        if existing.manifest_problem or (
            _never_started(existing) and not _same_row(existing, item)
        ):
            next_state(JobEvent.QUEUE, existing.state, job_id=item.job_id)
            return _entry_record(item, now, created_at)
        if existing.state is JobState.FAILED and _new_version(existing, item):
            # The one rule for a file that changed before its job was done: the job
            # failed saying so, and the next run uploads the new version into the SAME
            # video (no orphan, nothing created twice).
            next_state(JobEvent.QUEUE, existing.state, job_id=item.job_id)
            fresh = _entry_record(item, now, created_at)
            return replace(fresh, video_key=existing.video_key, create_sent=existing.create_sent)
        return None
    if existing is None:
        return _problem_record(item, now, None)
    if existing.manifest_problem or _never_started(existing):
        next_state(JobEvent.REJECT_ROW, existing.state, job_id=item.job_id)
        return _problem_record(item, now, created_at)
    return None


def _moved(record: JobRecord, event: JobEvent, now: float, **changes: object) -> JobRecord:
    """``record`` after ``event`` (its state from the table) with ``changes``.

    Raises IllegalTransition if the table does not allow ``event`` from its state.
    """
    state = next_state(event, record.state, job_id=record.job_id)
    return replace(record, state=state, updated_at=now, **changes)  # type: ignore[arg-type]


def requeued(record: JobRecord, now: float) -> JobRecord | None:
    """A failed job queued again, or None if it is a bad manifest row (kept failed).

    It goes back to ``creating`` when a create call may have reached the server and no
    video key is known, so that it is reconciled instead of created twice; to
    ``uploading`` when it holds an upload session (the next run goes on from the
    platform's ranges, and may verify at once); else to ``pending``. Attempts restart
    at 0; ``last_error`` is kept. Raises IllegalTransition for a job that is not failed
    (callers select failed jobs).
    """
    if record.manifest_problem:
        return None
    if record.create_sent and record.video_key is None:
        event = JobEvent.REQUEUE_TO_RECONCILE
    elif record.video_key and record.session_id and record.upload_url:
        event = JobEvent.REQUEUE_TO_RESUME
    else:
        event = JobEvent.REQUEUE
    return _moved(record, event, now, attempts=0)


def creating(record: JobRecord, now: float) -> JobRecord:
    """``mark_creating``: a create call is about to be sent."""
    return _moved(record, JobEvent.CREATE, now, create_sent=True)


def created(
    record: JobRecord, now: float, *, video_key: str, upload_url: str, session_id: str
) -> JobRecord:
    """``record_created``: a video and an upload session exist; ranges start empty."""
    return _moved(
        record,
        JobEvent.CREATED,
        now,
        video_key=video_key,
        upload_url=upload_url,
        session_id=session_id,
        acked_ranges=(),
        create_sent=True,
    )


def progressed(record: JobRecord, now: float, *, ranges: tuple[tuple[int, int], ...]) -> JobRecord:
    """``record_progress``: the server's acknowledged ranges (already checked).

    Advisory: a job that is no longer uploading or verifying is returned unchanged
    (progress may be committed in a batch after the job moved on).
    """
    if record.state not in TRANSITIONS[JobEvent.PROGRESS]:
        return record
    return _moved(record, JobEvent.PROGRESS, now, acked_ranges=ranges)


def verifying(record: JobRecord, now: float) -> JobRecord:
    """``mark_verifying``."""
    return _moved(record, JobEvent.VERIFY, now)


def processing(record: JobRecord, now: float, *, md5: str | None) -> JobRecord:
    """``mark_processing``: verified (the local md5 kept, if computed); the platform is
    processing the video."""
    return _moved(record, JobEvent.PROCESS, now, md5=md5)


def done(record: JobRecord, now: float, *, video_key: str, md5: str | None) -> JobRecord:
    """``mark_done``."""
    return _moved(record, JobEvent.FINISH, now, video_key=video_key, md5=md5)


def retitled(record: JobRecord, now: float, *, metadata: VideoMetadata) -> JobRecord:
    """``record_metadata``: the manifest's new metadata is on the platform too."""
    return _moved(record, JobEvent.RETITLE, now, metadata=metadata)


def failed(record: JobRecord, now: float, *, error: str) -> JobRecord:
    """``mark_failed``."""
    return _moved(record, JobEvent.FAIL, now, last_error=error)


def skipped(record: JobRecord, now: float, *, reason: str) -> JobRecord:
    """``mark_skipped`` (the reason is kept in ``last_error``)."""
    return _moved(record, JobEvent.SKIP, now, last_error=reason)


def source_recorded(record: JobRecord, now: float, *, size_bytes: int, identity: str) -> JobRecord:
    """``record_source``: the source's size and identity when the job first read it."""
    return _moved(record, JobEvent.INSPECT, now, size_bytes=size_bytes, source_identity=identity)


def attempted(record: JobRecord, now: float) -> JobRecord:
    """``bump_attempts``."""
    return _moved(record, JobEvent.ATTEMPT, now, attempts=record.attempts + 1)


def upload_reset(record: JobRecord, now: float) -> JobRecord:
    """``reset_upload``: forget the session, URL and ranges; keep the video key."""
    return _moved(
        record, JobEvent.RESET_UPLOAD, now, upload_url=None, session_id=None, acked_ranges=()
    )
