"""The SQLite file behind :class:`~vidlift.journal.sqlite.SqliteJournal`: opening,
locking, transactions and the blocking queries (journal layer).

Everything here blocks; :mod:`vidlift.journal.sqlite` calls it from a worker thread, one
call at a time (the connection is shared between threads, never used by two at once).
The tables and the row codec are in :mod:`vidlift.journal.sqlite_schema`; the queries
are portable SQL with ``?`` parameters (only the pragmas are SQLite's own).

Durability: WAL mode with ``synchronous=NORMAL`` for batched writes (new jobs, bad rows,
progress): a commit then survives a killed process (the WAL is in the OS's cache) and
may only be lost with the machine (power loss, kernel crash), in which case it is
re-derived from the manifest and the server. Transitions that decide what happens on the
platform are committed with ``synchronous=FULL`` (the WAL is fsynced before the commit
returns), which also makes every earlier commit durable.

One writer at a time: the writer holds an exclusive ``flock`` on ``<journal>.lock`` (kept
on disk; it holds the writer's pid). Readers (``vidlift status``) take no lock; WAL lets
them read while the writer writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vidlift.errors import JournalError
from vidlift.journal import transitions
from vidlift.journal.base import JobCounts, JobFailure, JobRecord
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.sqlite_schema import (
    INSERT,
    SELECT,
    SELECT_STATUS,
    STATES,
    UPDATE,
    JobStatusRow,
    OlderSchema,
    check_schema,
    from_row,
    to_row,
)
from vidlift.journal.state import ACTIVE_STATES, JobState

__all__ = ["SqliteStore"]

_BUSY_TIMEOUT_S = 5.0
_LOAD_CHUNK = 500
_RECENT_FAILURES = 10


def _journal_error(path: Path, exc: BaseException) -> JournalError:
    text = str(exc)
    if "database is locked" in text or "database table is locked" in text:
        reason = "locked by another process (busy for too long)"
    elif "not a database" in text or "malformed" in text:
        reason = "not a vidlift journal, or corrupt"
    elif "readonly" in text:
        reason = "read-only (the file or its folder cannot be written)"
    elif "unable to open" in text:
        reason = "cannot be opened (does its folder exist and can it be written?)"
    elif isinstance(exc, UnicodeEncodeError):
        reason = "text that is not valid UTF-8 cannot be stored"
    else:
        reason = text
    error = JournalError(f"journal {path}: {reason} ({text})")
    error.__cause__ = exc
    return error


def _acquire_lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise JournalError(f"journal {path}: cannot create its lock file: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise JournalError(
            f"journal {path} is in use by another vidlift process (pid {holder}); "
            "wait for it to finish, or use another journal"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class SqliteStore:
    """An open journal file: one connection (and, for the writer, the lock)."""

    def __init__(self, path: Path, connection: sqlite3.Connection, lock_fd: int | None) -> None:
        self.path = path
        self.readonly = lock_fd is None
        self._conn = connection
        self._lock_fd = lock_fd
        self._synchronous = "NORMAL"
        self.clock = transitions.WallClock()

    @classmethod
    def open(cls, path: Path, *, readonly: bool, create_nothing: bool = False) -> SqliteStore:
        """Open (the writer creates it if needed) and check the journal at ``path``.

        ``create_nothing`` (readers): when the journal has no ``-wal`` file, no process
        has it open (SQLite removes it when the last one closes it): read it as an
        immutable file, which creates no ``-wal``/``-shm`` file beside it.
        """
        path = path.absolute()
        if readonly and not path.is_file():
            raise JournalError(f"no journal at {path}")
        if not readonly and not os.access(path.parent, os.W_OK | os.X_OK):
            raise JournalError(f"journal {path}: its folder is missing or not writable")
        lock_fd = None if readonly else _acquire_lock(path)
        immutable = create_nothing and not path.with_name(path.name + "-wal").exists()
        try:
            connection = cls._connect(path, readonly=readonly, immutable=immutable)
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        return cls(path, connection, lock_fd)

    @classmethod
    def _connect(cls, path: Path, *, readonly: bool, immutable: bool) -> sqlite3.Connection:
        target = f"file:{quote(str(path))}?mode=ro" if readonly else str(path)
        if immutable:
            target += "&immutable=1"
        try:
            connection = sqlite3.connect(
                target,
                uri=readonly,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,  # transactions are explicit
                check_same_thread=False,  # one thread at a time, see the module docstring
            )
        except sqlite3.Error as exc:
            raise _journal_error(path, exc) from exc
        try:
            if readonly:
                connection.execute("PRAGMA query_only = ON")
            else:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
            try:
                check_schema(connection, path, readonly=readonly)
            except OlderSchema:  # a reader: read a copy, migrated in memory
                connection = cls._migrated_copy(connection, path)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, sqlite3.Error):
                raise _journal_error(path, exc) from exc
            raise
        return connection

    @staticmethod
    def _migrated_copy(connection: sqlite3.Connection, path: Path) -> sqlite3.Connection:
        """A reader's view of an older journal: a copy in memory, migrated there (the file
        is left for the next writer to migrate), read-only like the file would be. Closes
        ``connection`` once copied; on failure the caller closes it and names the error."""
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        try:
            connection.backup(memory)
            check_schema(memory, path, readonly=False)
            memory.execute("PRAGMA query_only = ON")
        except BaseException:
            memory.close()
            raise
        connection.close()
        return memory

    def close(self) -> None:
        """Close the connection, then release the lock."""
        try:
            self._conn.close()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    @contextlib.contextmanager
    def transaction(self, *, write: bool, durable: bool = False) -> Iterator[None]:
        """One transaction; ``durable`` commits with synchronous=FULL. Maps sqlite errors."""
        try:
            if write:
                self._set_synchronous("FULL" if durable else "NORMAL")
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield
                self._conn.execute("COMMIT")
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
        except (sqlite3.Error, UnicodeEncodeError) as exc:
            raise _journal_error(self.path, exc) from exc

    def _set_synchronous(self, level: str) -> None:
        if level != self._synchronous:
            self._conn.execute(f"PRAGMA synchronous = {level}")
            self._synchronous = level

    # ------------------------------------------------------------------ reading
    def load(self, job_ids: Collection[str]) -> dict[str, JobRecord]:
        """The records of those of ``job_ids`` that exist."""
        records = (from_row(row[1:]) for row in self._rows_of(SELECT, job_ids))
        return {record.job_id: record for record in records}

    def _load_status(self, job_ids: Collection[str]) -> dict[str, transitions.JobStatus]:
        """Just what a manifest merge needs of existing jobs (cheaper than records)."""
        rows = self._rows_of(SELECT_STATUS, job_ids)
        return {row[0]: JobStatusRow.of_row(row[1:]) for row in rows}

    def _rows_of(self, select: str, job_ids: Collection[str]) -> Iterator[Any]:
        unique = list(dict.fromkeys(job_ids))
        for start in range(0, len(unique), _LOAD_CHUNK):
            chunk = unique[start : start + _LOAD_CHUNK]
            marks = ", ".join("?" * len(chunk))
            yield from self._conn.execute(f"{select} WHERE job_id IN ({marks})", chunk)

    def page(
        self, states: Collection[JobState] | None, after_seq: int, limit: int
    ) -> list[tuple[int, JobRecord]]:
        """Up to ``limit`` jobs after ``after_seq`` in insertion order, with their seq."""
        where = "seq > ?"
        params: list[object] = [after_seq]
        if states is not None:
            wanted = sorted(JobState(state).value for state in states)
            if not wanted:
                return []
            where += f" AND state IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        rows = self._conn.execute(f"{SELECT} WHERE {where} ORDER BY seq LIMIT ?", (*params, limit))
        return [(int(row[0]), from_row(row[1:])) for row in rows]

    def counts(self) -> JobCounts:
        """Totals by state and the recent failures (call inside a transaction)."""
        by_state = dict.fromkeys(JobState, 0)
        total = done = acked = 0
        rows = self._conn.execute(
            "SELECT state, COUNT(*), COALESCE(SUM(size_bytes), 0), "
            "COALESCE(SUM(acked_bytes), 0) FROM jobs GROUP BY state"
        )
        for state_text, count, size_sum, acked_sum in rows:
            state = STATES[state_text]
            by_state[state] = int(count)
            total += int(size_sum)
            done += int(size_sum) if state is JobState.DONE else 0
            acked += int(acked_sum) if state in ACTIVE_STATES else 0
        failures = self._conn.execute(
            "SELECT job_id, source_path, location, last_error FROM jobs WHERE state = ? "
            "ORDER BY updated_at DESC, seq DESC LIMIT ?",
            (JobState.FAILED.value, _RECENT_FAILURES),
        )
        return JobCounts(
            by_state=by_state,
            total_bytes=total,
            done_bytes=done,
            acked_bytes=acked,
            recent_failures=tuple(
                JobFailure(job_id, Path(path) if path else None, location, error or "")
                for job_id, path, location, error in failures
            ),
        )

    def absent(self) -> frozenset[str]:
        """The jobs whose rows left the manifest (``in_manifest = 0``)."""
        rows = self._conn.execute("SELECT job_id FROM jobs WHERE in_manifest = 0")
        return frozenset(str(row[0]) for row in rows)

    def meta(self, name: str) -> str | None:
        """The journal's fact ``name`` (``library``), None when it holds none."""
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------ writing
    def set_absent(self, job_ids: Collection[str]) -> None:
        """Mark exactly ``job_ids`` as out of the manifest (every other job is in it)."""
        self._conn.execute("UPDATE jobs SET in_manifest = 1 WHERE in_manifest = 0")
        unique = list(dict.fromkeys(job_ids))
        for start in range(0, len(unique), _LOAD_CHUNK):
            chunk = unique[start : start + _LOAD_CHUNK]
            marks = ", ".join("?" * len(chunk))
            self._conn.execute(f"UPDATE jobs SET in_manifest = 0 WHERE job_id IN ({marks})", chunk)

    def keep_meta(self, name: str, value: str) -> str:
        """Store ``value`` as the fact ``name`` unless one is held; return the one held."""
        self._conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (name, value))
        held = self.meta(name)
        assert held is not None  # just inserted, or there before
        return held

    def merge(self, items: Iterable[JobSpec | JobProblem]) -> int:
        """Apply manifest results (see ``transitions.merge_manifest_item``); count changes
        made by entries."""
        batch = list(items)
        current = self._load_status([item.job_id for item in batch])
        inserts: dict[str, JobRecord] = {}
        updates: list[JobRecord] = []
        changed = 0
        for item in batch:
            existing = current.get(item.job_id)
            record = transitions.merge_manifest_item(existing, item, self.clock.now())
            if record is None:
                continue
            changed += isinstance(item, JobSpec) and transitions.is_new_job(existing)
            current[item.job_id] = record
            if existing is None or item.job_id in inserts:
                inserts[item.job_id] = record
            else:
                updates.append(record)
        self._conn.executemany(INSERT, [to_row(r) for r in inserts.values()])
        self._store(updates)
        return changed

    def change(
        self, changes: Iterable[tuple[str, transitions.Change]], *, missing_ok: bool = False
    ) -> list[JobRecord]:
        """Apply changes to existing jobs, in order; return the new records."""
        pending = list(changes)
        current = self.load([job_id for job_id, _ in pending])
        changed: list[JobRecord] = []
        for job_id, change in pending:
            record = current.get(job_id)
            if record is None:
                if missing_ok:
                    continue
                raise JournalError(f"unknown job {job_id!r}")
            current[job_id] = new = change(record, self.clock.now())
            changed.append(new)
        self._store(changed)
        return changed

    def requeue_failed(self) -> int:
        """Requeue failed jobs (``transitions.requeued``), a page at a time."""
        count, after = 0, 0
        while page := self.page([JobState.FAILED], after, _LOAD_CHUNK):
            after = page[-1][0]
            requeued = [transitions.requeued(record, self.clock.now()) for _, record in page]
            kept = [record for record in requeued if record is not None]
            self._store(kept)
            count += len(kept)
        return count

    def _store(self, records: Sequence[JobRecord]) -> None:
        rows = [(*to_row(record)[1:], record.job_id) for record in records]
        self._conn.executemany(UPDATE, rows)
