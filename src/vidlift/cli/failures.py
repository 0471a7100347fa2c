"""Failed jobs grouped by reason, for ``vidlift status`` and the HTML report (cli layer).

A reason is the error text with what differs from one job to the next taken out: the
file's path and name, quoted values, numbers. "clip-004.mp4: the server reports 12 bytes"
and "clip-009.mp4: the server reports 40 bytes" are one reason, "the server reports N
bytes".
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import PurePath

from vidlift.journal.base import Journal
from vidlift.journal.state import JobState

__all__ = ["FailedJob", "FailureGroup", "failure_reason", "group_failures", "read_failures"]

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\b(?=\w*\d)\w+\b")  # a token holding a digit: sizes, keys, ids
_SPACES = re.compile(r"\s+")
_MAX_REASON = 160


@dataclass(frozen=True, slots=True)
class FailedJob:
    """One failed job, as a report row shows it."""

    job_id: str
    path: str
    location: str
    error: str
    attempts: int


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """The failed jobs that share a reason, largest group first."""

    reason: str
    jobs: tuple[FailedJob, ...]


def failure_reason(error: str, path: str = "") -> str:
    """The error text with the file's path or name, quoted values and numbers taken out."""
    text = error
    if path:
        text = text.replace(path, "<file>").replace(PurePath(path).name, "<file>")
    text = _QUOTED.sub("'…'", text)
    text = _NUMBER.sub("N", text)
    text = _SPACES.sub(" ", text).strip().removeprefix("<file>: ")
    return text[:_MAX_REASON] or "(no error text)"


def group_failures(jobs: Iterable[FailedJob]) -> list[FailureGroup]:
    """Group by :func:`failure_reason`; the largest groups first."""
    groups: dict[str, list[FailedJob]] = {}
    for job in jobs:
        groups.setdefault(failure_reason(job.error, job.path), []).append(job)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [FailureGroup(reason, tuple(members)) for reason, members in ordered]


async def iter_failed(journal: Journal) -> AsyncIterator[FailedJob]:
    """Every failed job of the journal."""
    async for record in journal.iter_jobs([JobState.FAILED]):
        yield FailedJob(
            job_id=record.job_id,
            path=record.source_name,
            location=record.location,
            error=record.last_error or "",
            attempts=record.attempts,
        )


async def read_failures(journal: Journal) -> list[FailureGroup]:
    """The journal's failed jobs, grouped by reason."""
    return group_failures([job async for job in iter_failed(journal)])
