"""The ``Journal`` interface and its value objects (journal layer).

The journal is vidlift's memory: one record per job (one per manifest row), written so
that a run killed at any instant can be run again and resume. Backends:
:class:`~vidlift.journal.sqlite.SqliteJournal` (one file, the default) and
:class:`~vidlift.journal.memory.MemoryJournal` (tests, library use). Every backend
passes :mod:`vidlift.testing.journal_conformance`; the rules of each change live once,
in :mod:`vidlift.journal.transitions`.

Secrets never go into the journal: no method takes one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from vidlift.errors import JournalError
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.state import JobState
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.ranges import RangeSet

__all__ = [
    "JobCounts",
    "JobFailure",
    "JobRecord",
    "Journal",
    "metadata_from_json",
    "metadata_to_json",
]


def metadata_to_json(metadata: VideoMetadata) -> str:
    """Encode metadata as JSON text (the date as ISO 8601), as backends store it."""
    return json.dumps(
        {
            "title": metadata.title,
            "description": metadata.description,
            "tags": list(metadata.tags),
            "date": metadata.date.isoformat() if metadata.date else None,
            "link": metadata.link,
            "custom": dict(metadata.custom),
        },
        ensure_ascii=False,
    )


def metadata_from_json(text: str) -> VideoMetadata:
    """Decode :func:`metadata_to_json` text. Raises JournalError for anything else."""
    try:
        data: dict[str, Any] = json.loads(text)
        date = data.get("date")
        return VideoMetadata(
            title=str(data["title"]),
            description=str(data["description"]),
            tags=tuple(str(tag) for tag in data["tags"]),
            date=datetime.fromisoformat(date) if date else None,
            link=str(data["link"]),
            custom=MappingProxyType({str(k): str(v) for k, v in data["custom"].items()}),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise JournalError(f"unreadable job metadata in the journal: {exc}") from exc


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as the journal holds it.

    ``acked_ranges`` are the inclusive byte ranges the upload server acknowledged for the
    current session. ``manifest_problem`` marks a record written for a bad manifest row
    (``source_path`` may be None and size/mtime are 0); such a job is only cleared by
    reading a manifest where the row is good. ``create_sent`` says a create call may
    have reached the server (set by ``mark_creating``). Times are Unix seconds.

    A job's source is ``source_path`` (a file) or ``source_url`` (a URL without its query
    string, which is never stored: the whole URL comes from the manifest at each run).
    ``source_identity`` is what the source was when the job first read it (``mtime:...``,
    ``etag:"..."``, ``last-modified:...``, ``size:<n>``; with ``size_bytes``): set by
    ``record_source``, None until then (files queued from a manifest need none: their
    size and mtime were taken when queued).
    """

    job_id: str
    source_path: Path | None
    size_bytes: int
    mtime_ns: int
    metadata: VideoMetadata = field(hash=False)
    location: str
    state: JobState
    video_key: str | None = None
    upload_url: str | None = None
    session_id: str | None = None
    acked_ranges: tuple[tuple[int, int], ...] = ()
    attempts: int = 0
    last_error: str | None = None
    md5: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    manifest_problem: bool = False
    create_sent: bool = False
    source_url: str | None = None
    source_identity: str | None = None

    @property
    def source_name(self) -> str:
        """The source for messages and reports: its path, or its URL (no query string)."""
        if self.source_path is not None:
            return str(self.source_path)
        return self.source_url or ""

    @property
    def acked_bytes(self) -> int:
        """Bytes covered by ``acked_ranges`` (overlaps counted once)."""
        return RangeSet.of(self.acked_ranges).byte_count

    def to_entry(self) -> JobSpec:
        """Rebuild the upload parameters of this job (as it was queued).

        Raises JournalError for a bad-manifest-row record, which has no source file.
        """
        if self.manifest_problem or (self.source_path is None and self.source_url is None):
            raise JournalError(
                f"job {self.job_id} ({self.location}) is a bad manifest row: "
                f"{self.last_error or 'no source file'}"
            )
        return JobSpec.of(
            self.job_id,
            self.source_path,
            self.size_bytes,
            self.mtime_ns,
            self.metadata,
            self.location,
            self.source_url,
        )


@dataclass(frozen=True, slots=True)
class JobFailure:
    """A failed job, for a status display."""

    job_id: str
    path: Path | None
    location: str
    error: str


@dataclass(frozen=True, slots=True)
class JobCounts:
    """Totals over the whole journal.

    ``by_state`` has every state (zeros included). ``total_bytes`` sums the sizes of all
    jobs, ``done_bytes`` those of done jobs, ``acked_bytes`` the acknowledged bytes of
    started, unfinished jobs (creating, uploading, verifying): so
    ``done_bytes + acked_bytes`` is what the server holds. ``recent_failures``: the last
    10 failed jobs, most recent first.
    """

    by_state: Mapping[JobState, int] = field(hash=False)
    total_bytes: int
    done_bytes: int
    acked_bytes: int
    recent_failures: tuple[JobFailure, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.by_state, MappingProxyType):
            object.__setattr__(self, "by_state", MappingProxyType(dict(self.by_state)))

    @property
    def total_jobs(self) -> int:
        """Number of jobs in the journal."""
        return sum(self.by_state.values())


class Journal(Protocol):
    """The persistence of jobs. Every method may raise JournalError.

    Every change checks the state the job comes from against
    :data:`vidlift.journal.state.TRANSITIONS` and raises IllegalTransition (a bug) for a
    move the table does not list (``record_progress`` of such a job is dropped instead).

    Writes that decide what happens on the platform are committed before the method
    returns (``mark_creating``, ``record_created``, ``mark_*``, ``bump_attempts``,
    ``reset_upload``, ``requeue_failed``). ``add_entries`` commits per batch of ~1000;
    ``add_problem`` and ``record_progress`` may be batched (committed within ~1 s, on the
    next other call, or on ``flush``/``close``): after a crash they are re-derived from
    the manifest and the server. Reads see every write made before them.
    """

    async def add_entries(self, entries: Iterable[JobSpec]) -> int:
        """Insert jobs that are absent; return how many new jobs there are.

        A job that exists keeps its state (running the same manifest again resumes),
        except a bad-row record, which the now good row replaces (counted as new), and a
        job never started, which takes the row's current values if they changed (not
        counted). See ``transitions.merge_manifest_item``.
        """
        ...

    async def add_problem(self, problem: JobProblem) -> None:
        """Record a bad manifest row as a failed job (``last_error`` = the reason).

        An existing job is only replaced if it was never started (pending, no create
        sent, no video key) or was a bad-row record itself; otherwise it is kept.
        """
        ...

    async def get(self, job_id: str) -> JobRecord | None:
        """The job, or None."""
        ...

    def iter_jobs(
        self, states: Collection[JobState] | None = None, *, page_size: int = 500
    ) -> AsyncIterator[JobRecord]:
        """Jobs in insertion order, optionally only in ``states``, read a page at a time.

        Each page is read afresh: a job changed while iterating is seen in its state at
        the time its page is read; a job that enters ``states`` behind the cursor is
        not seen.
        """
        ...

    async def mark_creating(self, job_id: str) -> None:
        """The create call is about to be sent (durable before it is)."""
        ...

    async def record_created(
        self, job_id: str, *, video_key: str, upload_url: str, session_id: str
    ) -> None:
        """The platform created the video and gave an upload session: -> uploading.

        Durable before the first segment is sent. The acknowledged ranges start empty.
        """
        ...

    async def record_progress(self, job_id: str, acked_ranges: Sequence[tuple[int, int]]) -> None:
        """The server's acknowledged ranges (inclusive pairs). May be batched.

        Raises ValueError for ranges that are not ``0 <= start <= end`` integer pairs.
        Progress of an unknown job is ignored (it is not checked when batched).
        """
        ...

    async def mark_verifying(self, job_id: str) -> None:
        """All bytes are in; the platform's size/checksum is being checked."""
        ...

    async def mark_processing(self, job_id: str, *, md5: str | None) -> None:
        """The upload is verified (``md5``: the file's, if computed); the platform is
        processing the video (``--wait-ready`` waits for it)."""
        ...

    async def mark_done(self, job_id: str, *, video_key: str, md5: str | None) -> None:
        """The video is on the platform and verified."""
        ...

    async def record_metadata(self, job_id: str, metadata: VideoMetadata) -> None:
        """A done job's video now carries ``metadata`` (the manifest's, applied with
        videos/update). Raises IllegalTransition unless the job is done."""
        ...

    async def mark_failed(self, job_id: str, error: str) -> None:
        """The job gave up; ``error`` says why."""
        ...

    async def mark_skipped(self, job_id: str, reason: str) -> None:
        """The job will not be done, on purpose (``reason`` is kept in ``last_error``)."""
        ...

    async def bump_attempts(self, job_id: str) -> int:
        """Count one more attempt; return the new count."""
        ...

    async def reset_upload(self, job_id: str) -> None:
        """Forget the upload session, URL and ranges; keep the video key."""
        ...

    async def record_source(self, job_id: str, *, size_bytes: int, identity: str) -> None:
        """The size and identity of the job's source when the job first read it (before
        its first create call), to check the source against on every later read."""
        ...

    async def requeue_failed(self) -> int:
        """Failed jobs -> pending (or creating, see JobState); return how many.

        Attempts restart at 0; ``last_error`` is kept until the job's next outcome.
        Bad manifest rows are not requeued: fix the manifest and run it again.
        """
        ...

    async def counts(self) -> JobCounts:
        """Totals by state, bytes, and the recent failures."""
        ...

    async def flush(self) -> None:
        """Commit every batched write now."""
        ...

    async def close(self) -> None:
        """Flush and release the journal; later calls raise JournalError."""
        ...
