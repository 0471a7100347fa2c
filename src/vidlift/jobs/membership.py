"""Which jobs of a journal are rows of the manifest being run (jobs layer).

A journal keeps every job it was ever given; a row removed from the manifest leaves its
job behind. Such a job is not part of the manifest's run: it is not uploaded, not
counted in the run's totals or exit code, and ``vidlift report`` says it is no longer in
the manifest (issue 11). The job stays in the journal as it was: put the row back and
the next run goes on with it.

The manifest's job ids are kept as :class:`~vidlift.manifest.ids.SeenIds` digests
(16 to 32 bytes a row), filled by the ingest (:attr:`IngestStats.job_ids`) or by
:func:`manifest_job_ids`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio

from vidlift.journal.base import JobCounts, JobRecord, Journal
from vidlift.journal.state import JobState
from vidlift.manifest import iter_manifest
from vidlift.manifest.ids import SeenIds

__all__ = ["AbsentJobs", "collect_absent", "find_absent", "in_manifest", "manifest_job_ids"]

SHOWN = 10  # absent jobs named in messages


@dataclass(slots=True)
class AbsentJobs:
    """The journal's jobs whose rows the manifest no longer has: counts and bytes as
    :class:`JobCounts` has them, and their ids (a shared journal is told them)."""

    by_state: Counter[JobState] = field(default_factory=Counter)
    total_bytes: int = 0
    done_bytes: int = 0
    acked_bytes: int = 0
    ids: list[str] = field(default_factory=list)

    @property
    def first_ids(self) -> list[str]:
        """The first few ids (for messages)."""
        return self.ids[:SHOWN]

    @property
    def count(self) -> int:
        """How many jobs are no longer in the manifest."""
        return sum(self.by_state.values())

    def add(self, record: JobRecord) -> None:
        """Count ``record`` as absent."""
        self.by_state[record.state] += 1
        self.total_bytes += record.size_bytes
        if record.state is JobState.DONE:
            self.done_bytes += record.size_bytes
        elif record.state in (JobState.CREATING, JobState.UPLOADING, JobState.VERIFYING):
            self.acked_bytes += record.acked_bytes
        self.ids.append(record.job_id)

    def subtract_from(self, counts: JobCounts) -> JobCounts:
        """``counts`` over the manifest's jobs only."""
        if not self.count:
            return counts
        gone = set(self.ids)
        return replace(
            counts,
            by_state={s: n - self.by_state.get(s, 0) for s, n in counts.by_state.items()},
            total_bytes=counts.total_bytes - self.total_bytes,
            done_bytes=counts.done_bytes - self.done_bytes,
            acked_bytes=counts.acked_bytes - self.acked_bytes,
            recent_failures=tuple(f for f in counts.recent_failures if f.job_id not in gone),
        )


async def find_absent(journal: Journal, present: SeenIds) -> AbsentJobs:
    """The jobs of ``journal`` whose ids are not in ``present`` (one pass, a page at a time)."""
    absent = AbsentJobs()
    async for record in journal.iter_jobs():
        if record.job_id not in present:
            absent.add(record)
    return absent


async def collect_absent(jobs: AsyncIterable[JobRecord]) -> AbsentJobs:
    """``jobs`` (already known to be absent: a shared journal's ``iter_absent``) counted."""
    absent = AbsentJobs()
    async for record in jobs:
        absent.add(record)
    return absent


async def in_manifest(jobs: AsyncIterable[JobRecord], present: SeenIds) -> AsyncIterator[JobRecord]:
    """``jobs`` whose ids are in ``present``: a run's feed of the manifest's jobs only."""
    async for record in jobs:
        if record.job_id in present:
            yield record


def _read_ids(manifest: Path) -> SeenIds:
    present = SeenIds()
    for row in iter_manifest(manifest):
        present.add(row.job_id)
    return present


async def manifest_job_ids(manifest: Path) -> SeenIds:
    """The job ids of every row of ``manifest`` (bad and skipped rows included; in a
    worker thread). Raises ManifestError for a manifest that cannot be read."""
    return await anyio.to_thread.run_sync(_read_ids, manifest)
