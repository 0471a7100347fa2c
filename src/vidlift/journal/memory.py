"""``MemoryJournal``: the journal in a dict, for tests and library use (journal layer).

Nothing survives the process. Every write is applied at once (``flush`` has nothing to
do); the rules are those of :mod:`vidlift.journal.transitions`, like every backend.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from functools import partial

from vidlift.errors import JournalError
from vidlift.journal import transitions
from vidlift.journal.base import JobCounts, JobFailure, JobRecord
from vidlift.journal.leases import LeaseBook, OneProcessQueue
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.state import ACTIVE_STATES, RUNNABLE_STATES, SETTLED_STATES, JobState
from vidlift.protocol.metadata import VideoMetadata

__all__ = ["MemoryJournal"]

_RECENT_FAILURES = 10


class MemoryJournal(OneProcessQueue):
    """A :class:`~vidlift.journal.base.Journal` held in memory."""

    def __init__(self) -> None:
        self._records: dict[str, JobRecord] = {}
        self._order: list[str] = []  # insertion order: the keyset of iter_jobs
        self._clock = transitions.WallClock()
        self._closed = False
        self._leases = LeaseBook()

    async def __aenter__(self) -> MemoryJournal:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _open_records(self) -> dict[str, JobRecord]:
        if self._closed:
            raise JournalError("the journal is closed")
        return self._records

    def _merge(self, item: JobSpec | JobProblem) -> bool:
        """Apply one manifest result; True if it made a new job."""
        records = self._open_records()
        existing = records.get(item.job_id)
        record = transitions.merge_manifest_item(existing, item, self._clock.now())
        if record is None:
            return False
        if existing is None:
            self._order.append(item.job_id)
        records[item.job_id] = record
        return transitions.is_new_job(existing)

    async def add_entries(self, entries: Iterable[JobSpec]) -> int:
        return sum(self._merge(entry) for entry in entries)

    async def add_problem(self, problem: JobProblem) -> None:
        self._merge(problem)

    async def get(self, job_id: str) -> JobRecord | None:
        return self._open_records().get(job_id)

    async def iter_jobs(
        self, states: Collection[JobState] | None = None, *, page_size: int = 500
    ) -> AsyncIterator[JobRecord]:
        wanted = frozenset(states) if states is not None else None
        index = 0
        while index < len(self._order):
            page = self._order[index : index + page_size]
            index += len(page)
            records = self._open_records()
            for job_id in page:
                record = records[job_id]
                if wanted is None or record.state in wanted:
                    yield record

    def _change(self, job_id: str, change: transitions.Change) -> JobRecord:
        records = self._open_records()
        record = records.get(job_id)
        if record is None:
            raise JournalError(f"unknown job {job_id!r}")
        records[job_id] = new = change(record, self._clock.now())
        if new.state in SETTLED_STATES:
            self._leases.drop(job_id)
        return new

    async def mark_creating(self, job_id: str) -> None:
        self._change(job_id, transitions.creating)

    async def record_created(
        self, job_id: str, *, video_key: str, upload_url: str, session_id: str
    ) -> None:
        self._change(
            job_id,
            partial(
                transitions.created,
                video_key=video_key,
                upload_url=upload_url,
                session_id=session_id,
            ),
        )

    async def record_progress(self, job_id: str, acked_ranges: Sequence[tuple[int, int]]) -> None:
        ranges = transitions.check_ranges(acked_ranges)
        if job_id in self._open_records():
            self._change(job_id, partial(transitions.progressed, ranges=ranges))

    async def mark_verifying(self, job_id: str) -> None:
        self._change(job_id, transitions.verifying)

    async def mark_processing(self, job_id: str, *, md5: str | None) -> None:
        self._change(job_id, partial(transitions.processing, md5=md5))

    async def mark_done(self, job_id: str, *, video_key: str, md5: str | None) -> None:
        self._change(job_id, partial(transitions.done, video_key=video_key, md5=md5))

    async def record_metadata(self, job_id: str, metadata: VideoMetadata) -> None:
        self._change(job_id, partial(transitions.retitled, metadata=metadata))

    async def mark_failed(self, job_id: str, error: str) -> None:
        self._change(job_id, partial(transitions.failed, error=error))

    async def mark_skipped(self, job_id: str, reason: str) -> None:
        self._change(job_id, partial(transitions.skipped, reason=reason))

    async def bump_attempts(self, job_id: str) -> int:
        return self._change(job_id, transitions.attempted).attempts

    async def reset_upload(self, job_id: str) -> None:
        self._change(job_id, transitions.upload_reset)

    async def record_source(self, job_id: str, *, size_bytes: int, identity: str) -> None:
        change = partial(transitions.source_recorded, size_bytes=size_bytes, identity=identity)
        self._change(job_id, change)

    async def requeue_failed(self) -> int:
        records = self._open_records()
        count = 0
        for job_id, record in records.items():
            if record.state is not JobState.FAILED:
                continue
            new = transitions.requeued(record, self._clock.now())
            if new is not None:
                records[job_id] = new
                count += 1
        return count

    async def counts(self) -> JobCounts:
        records = self._open_records().values()
        by_state = dict.fromkeys(JobState, 0)
        for record in records:
            by_state[record.state] += 1
        failures = heapq.nlargest(
            _RECENT_FAILURES,
            (r for r in records if r.state is JobState.FAILED),
            key=lambda r: r.updated_at,
        )
        return JobCounts(
            by_state=by_state,
            total_bytes=sum(r.size_bytes for r in records),
            done_bytes=sum(r.size_bytes for r in records if r.state is JobState.DONE),
            acked_bytes=sum(r.acked_bytes for r in records if r.state in ACTIVE_STATES),
            recent_failures=tuple(
                JobFailure(r.job_id, r.source_path, r.location, r.last_error or "")
                for r in failures
            ),
        )

    # ------------------------------------------------------------------ fleet (one worker)
    async def claim(
        self, worker_id: str, n: int, lease_s: float, *, skip: Collection[str] = ()
    ) -> list[JobRecord]:
        records = self._open_records()
        picked: list[JobRecord] = []
        for job_id in self._order:
            record = records[job_id]
            if len(picked) >= n:
                break
            if job_id in skip or record.state not in RUNNABLE_STATES:
                continue
            if self._leases.free(job_id, worker_id):
                self._leases.take(record, worker_id, lease_s)
                picked.append(record)
        return picked

    async def flush(self) -> None:
        self._open_records()

    async def close(self) -> None:
        self._closed = True
