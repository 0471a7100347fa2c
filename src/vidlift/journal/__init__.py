"""Persistence of jobs: the Journal interface and its backends (journal layer).

:class:`Journal` is the interface; :class:`SqliteJournal` (one file, the default) and
:class:`MemoryJournal` implement it.

Layer: journal; may import: client, protocol, config, errors.
"""

from vidlift.journal.base import JobCounts, JobFailure, JobRecord, Journal
from vidlift.journal.memory import MemoryJournal
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.sqlite import SqliteJournal
from vidlift.journal.state import JobState

__all__ = [
    "JobCounts",
    "JobFailure",
    "JobProblem",
    "JobRecord",
    "JobSpec",
    "JobState",
    "Journal",
    "MemoryJournal",
    "SqliteJournal",
]
