"""What a run of a manifest would do, found without writing anything (jobs layer).

``vidlift run --dry-run`` reads the manifest and, when there is one, the journal (read
only) and says what the run would do: new jobs, files changed since their jobs were
queued, metadata to update on the platform, bad rows, jobs no longer in the manifest,
bytes to send. Each row is judged by the same rule the run applies
(:func:`vidlift.journal.transitions.merge_manifest_item`), on the job as the journal
holds it; nothing is created or changed, not even a lock file.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from vidlift.jobs.ingest import (
    KEPT_VERSION,
    MetadataChange,
    file_changed,
    job_problem,
    job_spec,
    metadata_digest,
    next_batch,
)
from vidlift.jobs.membership import AbsentJobs, find_absent
from vidlift.journal.base import JobRecord, Journal
from vidlift.journal.spec import JobSpec
from vidlift.journal.state import JobState
from vidlift.journal.transitions import merge_manifest_item
from vidlift.manifest import ManifestEntry, iter_manifest
from vidlift.manifest.ids import SeenIds

__all__ = ["ManifestPlan", "plan_manifest"]

SHOWN = 10  # rows named per kind of change


@dataclass(slots=True)
class ManifestPlan:
    """What a run of the manifest would do. ``changed_files`` and ``bad_rows`` name rows
    (``file:line id: what happens``), the first :data:`SHOWN` of each; ``by_state``
    counts the manifest's jobs already in the journal, by state."""

    rows: int = 0
    new_jobs: int = 0
    bad_row_count: int = 0
    bad_rows: list[str] = field(default_factory=list)
    changed_file_count: int = 0
    changed_files: list[str] = field(default_factory=list)
    metadata_changes: list[MetadataChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    by_state: Counter[JobState] = field(default_factory=Counter)
    bytes_to_send: int = 0
    unsized_jobs: int = 0  # URL sources to send whose size is known once their jobs start
    absent: AbsentJobs = field(default_factory=AbsentJobs)


_WHAT_HAPPENS = {
    JobState.DONE: f"its video {KEPT_VERSION}",
    JobState.FAILED: "the new version is uploaded into the same video",
    JobState.PENDING: "the job takes the file as it is now",
}
_IN_PROGRESS = "its upload fails saying so, and the next run uploads the new version"


def _judge_entry(plan: ManifestPlan, record: JobRecord | None, spec: JobSpec) -> None:
    """Count one good row against the job the journal holds for it (if any)."""
    if record is None or record.manifest_problem:
        plan.new_jobs += 1
        _to_send(plan, spec.size_bytes, url=spec.source_url)
        return
    plan.by_state[record.state] += 1
    merged = merge_manifest_item(record, spec, time.time())
    if file_changed(record.size_bytes, record.mtime_ns, spec):
        plan.changed_file_count += 1
        if len(plan.changed_files) < SHOWN:
            what = _WHAT_HAPPENS.get(record.state, _IN_PROGRESS)
            plan.changed_files.append(
                f"{spec.location} {spec.job_id}: the file changed "
                f"({record.size_bytes} -> {spec.size_bytes} bytes, or its time): {what}"
            )
    if record.state is JobState.DONE:
        known = metadata_digest(record.metadata)
        if record.video_key and known != metadata_digest(spec.metadata):
            plan.metadata_changes.append(
                MetadataChange(spec.job_id, record.video_key, spec.metadata)
            )
    elif merged is not None:  # queued again (a new version) or refreshed
        _to_send(plan, spec.size_bytes, url=spec.source_url)
    elif record.state is not JobState.FAILED and record.state is not JobState.SKIPPED:
        left = max(0, record.size_bytes - record.acked_bytes)
        _to_send(plan, left, url=record.source_url if record.size_bytes == 0 else None)


def _to_send(plan: ManifestPlan, size_bytes: int, *, url: str | None) -> None:
    """Count a job's bytes to send; a URL not read yet has no size: counted apart."""
    if url is not None and size_bytes == 0:
        plan.unsized_jobs += 1
    plan.bytes_to_send += size_bytes


async def plan_manifest(
    journal: Journal | None,
    manifest: Path,
    *,
    strict: bool = False,
    allow_duplicate_files: bool = False,
) -> ManifestPlan:
    """What running ``manifest`` with ``journal`` (None: a new journal) would do.
    Writes nothing. Raises ManifestError like the run would."""
    plan = ManifestPlan()
    present = SeenIds()
    rows = iter_manifest(manifest, strict=strict, allow_duplicate_files=allow_duplicate_files)
    while batch := await anyio.to_thread.run_sync(next_batch, rows):
        plan.rows += len(batch)
        for row in batch:
            if isinstance(row, ManifestEntry):
                if row.notice:
                    plan.warnings.append(f"{row.location}: {row.notice}")
                present.add(row.job_id)
                record = await journal.get(row.job_id) if journal is not None else None
                _judge_entry(plan, record, job_spec(row))
            elif row.warning:
                plan.warnings.append(f"{row.location}: {row.reason}")
            else:
                present.add(row.job_id)
                plan.bad_row_count += 1
                if len(plan.bad_rows) < SHOWN:
                    problem = job_problem(row)
                    plan.bad_rows.append(f"{problem.location}: {problem.reason}")
    if journal is not None:
        plan.absent = await find_absent(journal, present)
    return plan
