"""The SQLite journal's tables, and the conversion between rows and records
(journal layer).

Plain, portable SQL: the PostgreSQL backend to come can reuse the layout as is, except
``jobs.seq INTEGER PRIMARY KEY`` (an identity column there) and the ``sqlite_master``
look-up. Ranges and metadata are JSON text; ``acked_bytes`` is kept next to the ranges
so that totals need no JSON in SQL. ``vidlift_schema`` holds the layout's version: a
journal written by a newer vidlift is refused rather than misread; an older one is
migrated when a writer opens it (:data:`MIGRATIONS`, one transaction). A reader
(``status``, ``report``, ``run --dry-run``) of an older journal gets :class:`OlderSchema`
and reads a migrated copy in memory instead (``sqlite_store``): the file is left as it
is, for the writer that comes next, and the operator can look before upgrading.

Versions: 1, the first layout; 2 adds ``source_url`` (a URL source, without its query
string) and ``source_identity`` (what the source was when its job first read it); 3
changes no column, it repairs rows (:data:`RESUME_PENDING_SESSIONS`); 4 adds what
``vidlift enqueue`` tells the ``vidlift worker`` that runs after it (another
process): ``jobs.in_manifest`` (0 for a row that left the manifest: never claimed) and
``meta``, the journal's own facts by name (``library``: the tag every video is created
with and the platform is surveyed by), as in the PostgreSQL journal's schemas 6 and 7.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidlift.errors import JournalError
from vidlift.journal.base import JobRecord, metadata_from_json, metadata_to_json
from vidlift.journal.state import JobState
from vidlift.protocol.metadata import VideoMetadata

__all__ = [
    "COLUMNS",
    "INSERT",
    "JobStatusRow",
    "MIGRATIONS",
    "OlderSchema",
    "RESUME_PENDING_SESSIONS",
    "SCHEMA_VERSION",
    "SELECT",
    "SELECT_STATUS",
    "STATES",
    "UPDATE",
    "check_schema",
    "from_row",
    "to_row",
]

SCHEMA_VERSION = 4

COLUMNS = (
    "job_id", "source_path", "size_bytes", "mtime_ns", "metadata", "location", "state",
    "manifest_problem", "create_sent", "video_key", "upload_url", "session_id",
    "acked_ranges", "acked_bytes", "attempts", "last_error", "md5", "created_at",
    "updated_at", "source_url", "source_identity",
)  # fmt: skip
SELECT = f"SELECT seq, {', '.join(COLUMNS)} FROM jobs"
SELECT_STATUS = (
    "SELECT job_id, state, manifest_problem, create_sent, video_key, created_at, "
    "source_path, size_bytes, mtime_ns, location, metadata, source_url FROM jobs"
)
INSERT = f"INSERT INTO jobs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
UPDATE = f"UPDATE jobs SET {', '.join(f'{c} = ?' for c in COLUMNS[1:])} WHERE job_id = ?"
_SCHEMA = (
    "CREATE TABLE vidlift_schema (version INTEGER NOT NULL)",
    """CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL UNIQUE,
        source_path TEXT,
        size_bytes INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        metadata TEXT NOT NULL,
        location TEXT NOT NULL,
        state TEXT NOT NULL,
        manifest_problem INTEGER NOT NULL,
        create_sent INTEGER NOT NULL,
        video_key TEXT,
        upload_url TEXT,
        session_id TEXT,
        acked_ranges TEXT NOT NULL,
        acked_bytes INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        md5 TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        source_url TEXT,
        source_identity TEXT,
        in_manifest INTEGER NOT NULL DEFAULT 1
    )""",
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE INDEX jobs_by_state ON jobs (state, seq)",
    "CREATE INDEX jobs_by_update ON jobs (state, updated_at)",
    f"INSERT INTO vidlift_schema (version) VALUES ({SCHEMA_VERSION})",
)


def to_row(record: JobRecord) -> tuple[object, ...]:
    """The column values of a record, in ``COLUMNS`` order."""
    return (
        record.job_id,
        str(record.source_path) if record.source_path is not None else None,
        record.size_bytes,
        record.mtime_ns,
        metadata_to_json(record.metadata),
        record.location,
        record.state.value,
        int(record.manifest_problem),
        int(record.create_sent),
        record.video_key,
        record.upload_url,
        record.session_id,
        _encode_ranges(record.acked_ranges),
        record.acked_bytes,
        record.attempts,
        record.last_error,
        record.md5,
        record.created_at,
        record.updated_at,
        record.source_url,
        record.source_identity,
    )


def from_row(row: Sequence[Any]) -> JobRecord:
    """The record of a row (``COLUMNS`` order). Raises JournalError if it is unreadable."""
    (job_id, source_path, size, mtime, metadata, location, state, problem, sent,
     video_key, upload_url, session_id, ranges, _acked, attempts, error, md5, created,
     updated, source_url, source_identity) = row  # fmt: skip
    try:
        return JobRecord(
            job_id=str(job_id),
            source_path=Path(str(source_path)) if source_path is not None else None,
            size_bytes=int(size),
            mtime_ns=int(mtime),
            metadata=metadata_from_json(str(metadata)),
            location=str(location),
            state=STATES[state],
            video_key=_text(video_key),
            upload_url=_text(upload_url),
            session_id=_text(session_id),
            acked_ranges=_decode_ranges(ranges),
            attempts=int(attempts),
            last_error=_text(error),
            md5=_text(md5),
            created_at=float(created),
            updated_at=float(updated),
            manifest_problem=bool(problem),
            create_sent=bool(sent),
            source_url=_text(source_url),
            source_identity=_text(source_identity),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise JournalError(f"job {job_id!r} is unreadable in the journal: {exc}") from exc


def _encode_ranges(ranges: tuple[tuple[int, int], ...]) -> str:
    return json.dumps(ranges) if ranges else "[]"


def _decode_ranges(text: str) -> tuple[tuple[int, int], ...]:
    if text == "[]":
        return ()
    return tuple((int(start), int(end)) for start, end in json.loads(text))


@dataclass(frozen=True, slots=True)
class JobStatusRow:
    """What a manifest merge needs of an existing job (``transitions.JobStatus``),
    cheaper to read than a record: the metadata is decoded only if it is looked at."""

    state: JobState
    manifest_problem: bool
    create_sent: bool
    video_key: str | None
    created_at: float
    source_path: Path | None
    size_bytes: int
    mtime_ns: int
    location: str
    metadata_json: str
    source_url: str | None = None

    @property
    def metadata(self) -> VideoMetadata:
        """The decoded metadata."""
        return metadata_from_json(self.metadata_json)

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> JobStatusRow:
        """From a row of ``SELECT_STATUS`` (without its job_id)."""
        state, problem, sent, key, created, path, size, mtime, location, metadata, url = row
        return cls(
            STATES[state],
            bool(problem),
            bool(sent),
            key,
            created,
            Path(path) if path is not None else None,
            size,
            mtime,
            location,
            metadata,
            url,
        )


class _States(dict[str, JobState]):
    """Stored state text -> JobState; JournalError (not a KeyError) for an unknown one."""

    def __missing__(self, key: str) -> JobState:
        raise JournalError(
            f"a job is in state {key!r}, which this vidlift does not know "
            "(written by another version?): use the vidlift that wrote the journal"
        )


STATES = _States({state.value: state for state in JobState})


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class OlderSchema(JournalError):
    """A reader found a journal an older vidlift wrote (a writer would migrate it; the
    reader reads a migrated copy instead)."""

    def __init__(self, path: Path, version: int) -> None:
        super().__init__(f"journal {path} was written by an older vidlift (schema {version})")
        self.version = version


def check_schema(connection: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
    """Create the tables in an empty file (writer); refuse anything else than a journal."""
    listed = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    tables = {name for (name,) in listed}
    if "vidlift_schema" not in tables:
        if tables or readonly:
            found = ", ".join(sorted(tables)) or "nothing"
            raise JournalError(f"{path} is not a vidlift journal (it holds {found})")
        connection.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA:
            connection.execute(statement)
        connection.execute("COMMIT")
        return
    row = connection.execute("SELECT MAX(version) FROM vidlift_schema").fetchone()
    version = row[0] if row else None
    if not isinstance(version, int) or "jobs" not in tables:
        raise JournalError(f"{path} is not a vidlift journal, or corrupt (no schema version)")
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"journal {path} was written by a newer vidlift (schema {version}; "
            f"this one knows {SCHEMA_VERSION}): upgrade vidlift"
        )
    if version < SCHEMA_VERSION:
        _migrate(connection, path, version, readonly=readonly)


# A vidlift older than the requeue move failed -> uploading (`vidlift retry --failed`)
# sent a failed job that held an upload session back to `pending`; the next run went on
# in that session and stopped the batch at `mark_verifying` (IllegalTransition). Such a
# job is moved to `uploading`, where `requeue_failed` puts it now; its session, ranges
# and attempts are kept. No other move leaves a pending job with a session. Plain SQL,
# the same for the PostgreSQL journal (NULL <> '' is not true: the three must be set).
RESUME_PENDING_SESSIONS = (
    "UPDATE jobs SET state = 'uploading' WHERE state = 'pending' "
    "AND video_key <> '' AND session_id <> '' AND upload_url <> ''"
)

# version -> the statements that bring a journal of that version to the next one.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE jobs ADD COLUMN source_url TEXT",
        "ALTER TABLE jobs ADD COLUMN source_identity TEXT",
    ),
    2: (RESUME_PENDING_SESSIONS,),
    3: (
        "ALTER TABLE jobs ADD COLUMN in_manifest INTEGER NOT NULL DEFAULT 1",
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
}


def _migrate(connection: sqlite3.Connection, path: Path, version: int, *, readonly: bool) -> None:
    """Bring an older journal to SCHEMA_VERSION in one transaction (writers only)."""
    if readonly:
        raise OlderSchema(path, version)
    connection.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                connection.execute(statement)
        connection.execute(f"INSERT INTO vidlift_schema (version) VALUES ({SCHEMA_VERSION})")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
