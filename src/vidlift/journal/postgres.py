"""``PostgresJournal``: the journal in PostgreSQL, shared by workers on many hosts
(journal layer; needs the ``vidlift[postgres]`` extra, asyncpg).

Same contract and same rules as the other backends (every change goes through
:mod:`vidlift.journal.transitions`, so the job-state table is enforced here too), plus
:class:`~vidlift.journal.leases.WorkQueue`: workers ``claim`` jobs with
``SELECT ... FOR UPDATE SKIP LOCKED`` under a lease they renew by heartbeat. Each claim
bumps the job's ``lease_generation`` (the fencing token); every write this journal makes
to a job it claimed checks that the job still has that owner and generation, inside the
transaction that writes it, and raises :class:`~vidlift.errors.LeaseLost` otherwise: a
worker that was paused past its lease cannot overwrite its successor's work. A write to
a job this journal did not claim is refused while another worker holds a live lease.

Every change is one transaction, committed before the method returns (nothing is
batched: PostgreSQL's commit is the durability); ``record_progress`` commits without
waiting for the WAL flush (``synchronous_commit = off``): like SQLite's batched progress,
it is re-derived from the upload server after a crash of the database host. Open with ``await
PostgresJournal.open("postgresql://user@host/db?schema=NAME")``; the schema (default
``vidlift``) is created and migrated (:mod:`vidlift.journal.postgres_schema`) under an
advisory lock, so workers starting together migrate once.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from vidlift.errors import IllegalTransition, JournalError, LeaseLost
from vidlift.journal import postgres_schema as sql
from vidlift.journal import transitions
from vidlift.journal.base import JobCounts, JobFailure, JobRecord
from vidlift.journal.leases import Lease, TokenBucket, WorkerInfo
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.sqlite_schema import COLUMNS, from_row
from vidlift.journal.state import ACTIVE_STATES, SETTLED_STATES, JobState
from vidlift.protocol.metadata import VideoMetadata

__all__ = ["PostgresJournal", "redact_url"]

_BATCH = 1000
_RECENT_FAILURES = 10
_SCHEMA_NAME = "vidlift"
_LIBRARY_KEY = "library"


def redact_url(url: str) -> str:
    """The URL without its password or query (for messages and displays)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _split_schema(url: str) -> tuple[str, str]:
    """(the URL for asyncpg, the schema named by its ``schema`` query parameter)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), _SCHEMA_NAME)
    if not schema.isidentifier():
        raise JournalError(f"journal {redact_url(url)}: schema {schema!r} is not a plain name")
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema.lower()


@contextlib.contextmanager
def _mapped(name: str) -> Iterator[None]:
    """PostgreSQL and connection errors -> JournalError (naming the journal, no password)."""
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise JournalError(f"journal {name}: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        raise JournalError(
            f"journal {name}: cannot reach PostgreSQL ({exc}): is it running, and is the "
            "URL right (postgresql://user@host:port/database)?"
        ) from exc


class PostgresJournal:
    """A :class:`~vidlift.journal.base.Journal` and
    :class:`~vidlift.journal.leases.WorkQueue` in a PostgreSQL schema."""

    def __init__(self, pool: asyncpg.Pool, *, name: str, schema: str) -> None:
        self._pool: asyncpg.Pool | None = pool
        self.name = name
        self.schema = schema
        self._held: dict[str, Lease] = {}  # job -> the lease this journal's latest claim got
        self._rows: dict[str, tuple[JobRecord, str]] = {}  # held job -> its row, version (xmin)
        self._claimed: dict[str, set[str]] = {}  # worker -> jobs it holds (since its renewal)
        self._clock = transitions.WallClock()

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 4) -> PostgresJournal:
        """Connect, create the schema if needed and migrate it. Raises JournalError."""
        dsn, schema = _split_schema(url)
        name = redact_url(url) + (f" (schema {schema})" if schema != _SCHEMA_NAME else "")
        with _mapped(name):
            conn = await asyncpg.connect(dsn, timeout=10)
            try:
                await _migrate(conn, schema, name)
            finally:
                await conn.close()
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=max_connections,
                server_settings={"search_path": schema},
                timeout=10,
                reset=_keep_session,
            )
        return cls(pool, name=name, schema=schema)

    async def __aenter__(self) -> PostgresJournal:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _open_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise JournalError("the journal is closed")
        return self._pool

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        with _mapped(self.name):
            async with self._open_pool().acquire() as conn, conn.transaction():
                yield conn

    async def _fetch(self, query: str, *args: object) -> list[Any]:
        with _mapped(self.name):
            return list(await self._open_pool().fetch(query, *args))

    # ------------------------------------------------------------------ queueing
    async def add_entries(self, entries: Iterable[JobSpec]) -> int:
        added = 0
        iterator = iter(entries)
        while batch := list(itertools.islice(iterator, _BATCH)):
            added += await self._merge(batch)
        return added

    async def add_problem(self, problem: JobProblem) -> None:
        await self._merge([problem])

    async def _merge(self, items: Sequence[JobSpec | JobProblem]) -> int:
        async with self._transaction() as conn:
            rows = await conn.fetch(sql.LOCK_STATUS, [item.job_id for item in items])
            current: dict[str, transitions.JobStatus] = {}
            for row in rows:
                found = from_row(tuple(row))
                current[found.job_id] = found
            inserts: dict[str, JobRecord] = {}
            updates: list[JobRecord] = []
            changed = 0
            for item in items:
                existing = current.get(item.job_id)
                record = transitions.merge_manifest_item(existing, item, self._clock.now())
                if record is None:
                    continue
                changed += isinstance(item, JobSpec) and transitions.is_new_job(existing)
                current[item.job_id] = record
                if existing is None or item.job_id in inserts:
                    inserts[item.job_id] = record
                else:
                    updates.append(record)
            if inserts:
                await conn.executemany(sql.INSERT, [sql.pg_row(r) for r in inserts.values()])
            if updates:
                await conn.executemany(sql.UPDATE, [[*sql.pg_row(r), False] for r in updates])
            return changed

    # ------------------------------------------------------------------ reading
    async def get(self, job_id: str) -> JobRecord | None:
        rows = await self._fetch(sql.SELECT_ONE, job_id)
        return from_row(tuple(rows[0])) if rows else None

    async def iter_jobs(
        self, states: Collection[JobState] | None = None, *, page_size: int = 500
    ) -> AsyncIterator[JobRecord]:
        wanted = None if states is None else sorted(JobState(s).value for s in states)
        if wanted == []:
            return
        after = 0
        while True:
            if wanted is None:
                rows = await self._fetch(sql.PAGE, after, page_size)
            else:
                rows = await self._fetch(sql.PAGE_IN_STATES, after, page_size, wanted)
            for row in rows:
                yield from_row(tuple(row)[1:])
            if len(rows) < page_size:
                return
            after = rows[-1][0]

    async def counts(self) -> JobCounts:
        by_state = dict.fromkeys(JobState, 0)
        total = done = acked = 0
        for state_text, count, size_sum, acked_sum in await self._fetch(sql.COUNTS):
            state = JobState(state_text)
            by_state[state] = int(count)
            total += int(size_sum)
            done += int(size_sum) if state is JobState.DONE else 0
            acked += int(acked_sum) if state in ACTIVE_STATES else 0
        failures = await self._fetch(sql.FAILURES, _RECENT_FAILURES)
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

    # ------------------------------------------------------------------ changing
    def _check_lease(self, job_id: str, row: Any) -> None:
        owner, generation, expires_at, now = row[-4], row[-3], row[-2], row[-1]
        held = self._held.get(job_id)
        if held is not None:
            if (owner, generation) != (held.worker_id, held.generation):
                raise LeaseLost(job_id, held.worker_id)
        elif owner is not None and expires_at is not None and expires_at > now:
            raise LeaseLost(job_id, "(none: this journal did not claim it)")

    async def _change(
        self,
        job_id: str,
        change: transitions.Change,
        *,
        missing_ok: bool = False,
        durable: bool = True,
    ) -> JobRecord | None:
        record = await self._fenced_change(job_id, change, durable)
        if record is None:
            record = await self._locked_change(job_id, change, missing_ok, durable)
        if record is not None and record.state in SETTLED_STATES:
            self._forget(job_id)
        return record

    async def _fenced_change(
        self, job_id: str, change: transitions.Change, durable: bool
    ) -> JobRecord | None:
        """A held job's write in one round trip (FENCED_UPDATE), from the row as this
        journal last saw it; None when that row changed since, or the change does not
        apply to it (the caller then locks the row, checks the lease, decides again)."""
        lease, seen = self._held.get(job_id), self._rows.get(job_id)
        if lease is None or seen is None:
            return None
        try:
            record = change(seen[0], self._clock.now())
        except IllegalTransition:
            return None
        settled = record.state in SETTLED_STATES
        args = (*sql.pg_row(record), settled, seen[1], lease.worker_id, lease.generation, durable)
        with _mapped(self.name):
            version = await self._open_pool().fetchval(sql.FENCED_UPDATE, *args)
        if version is None:
            return None
        self._rows[job_id] = (record, version)
        return record

    async def _locked_change(
        self, job_id: str, change: transitions.Change, missing_ok: bool, durable: bool
    ) -> JobRecord | None:
        async with self._transaction() as conn:
            if not durable:  # committed without waiting for the WAL flush (see record_progress)
                await conn.execute("SET LOCAL synchronous_commit TO OFF")
            row = await conn.fetchrow(sql.LOCK_ONE, job_id)
            if row is None:
                if missing_ok:
                    return None
                raise JournalError(f"unknown job {job_id!r}")
            self._check_lease(job_id, row)
            record = change(from_row(tuple(row)[: len(COLUMNS)]), self._clock.now())
            settled = record.state in SETTLED_STATES
            version = await conn.fetchval(sql.UPDATE_ONE, *sql.pg_row(record), settled)
        if job_id in self._held:
            self._rows[job_id] = (record, version)
        return record

    def _forget(self, job_id: str) -> None:
        self._held.pop(job_id, None)
        self._rows.pop(job_id, None)

    async def _must_change(self, job_id: str, change: transitions.Change) -> JobRecord:
        record = await self._change(job_id, change)
        assert record is not None
        return record

    async def mark_creating(self, job_id: str) -> None:
        await self._must_change(job_id, transitions.creating)

    async def record_created(
        self, job_id: str, *, video_key: str, upload_url: str, session_id: str
    ) -> None:
        change = partial(
            transitions.created, video_key=video_key, upload_url=upload_url, session_id=session_id
        )
        await self._must_change(job_id, change)

    async def record_progress(self, job_id: str, acked_ranges: Sequence[tuple[int, int]]) -> None:
        # Progress is re-derived from the upload server after a crash (as SQLite's batched
        # progress): its commit does not wait for the disk, the next transition's does.
        ranges = transitions.check_ranges(acked_ranges)
        change = partial(transitions.progressed, ranges=ranges)
        await self._change(job_id, change, missing_ok=True, durable=False)

    async def mark_verifying(self, job_id: str) -> None:
        await self._must_change(job_id, transitions.verifying)

    async def mark_processing(self, job_id: str, *, md5: str | None) -> None:
        await self._must_change(job_id, partial(transitions.processing, md5=md5))

    async def mark_done(self, job_id: str, *, video_key: str, md5: str | None) -> None:
        await self._must_change(job_id, partial(transitions.done, video_key=video_key, md5=md5))

    async def record_metadata(self, job_id: str, metadata: VideoMetadata) -> None:
        await self._must_change(job_id, partial(transitions.retitled, metadata=metadata))

    async def mark_failed(self, job_id: str, error: str) -> None:
        await self._must_change(job_id, partial(transitions.failed, error=error))

    async def mark_skipped(self, job_id: str, reason: str) -> None:
        await self._must_change(job_id, partial(transitions.skipped, reason=reason))

    async def bump_attempts(self, job_id: str) -> int:
        return (await self._must_change(job_id, transitions.attempted)).attempts

    async def reset_upload(self, job_id: str) -> None:
        await self._must_change(job_id, transitions.upload_reset)

    async def record_source(self, job_id: str, *, size_bytes: int, identity: str) -> None:
        change = partial(transitions.source_recorded, size_bytes=size_bytes, identity=identity)
        await self._must_change(job_id, change)

    async def requeue_failed(self) -> int:
        async with self._transaction() as conn:
            rows = await conn.fetch(
                f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE state = 'failed' "
                "AND NOT manifest_problem FOR UPDATE"
            )
            now = self._clock.now()
            requeued = [transitions.requeued(from_row(tuple(row)), now) for row in rows]
            kept = [[*sql.pg_row(r), False] for r in requeued if r is not None]
            if kept:
                await conn.executemany(sql.UPDATE, kept)
            count = len(kept)
        return count

    async def flush(self) -> None:
        self._open_pool()  # nothing is batched

    async def close(self) -> None:
        """Give back the leases still held, then close the pool; twice is harmless."""
        if self._pool is None:
            return
        try:
            for lease in list(self._held.values()):
                await self.release(lease.job_id)
        finally:
            pool, self._pool = self._pool, None
            await pool.close()

    # ------------------------------------------------------------------ the fleet
    async def register_worker(self, worker: WorkerInfo) -> None:
        await self._fetch(
            sql.REGISTER_WORKER, worker.worker_id, worker.host, worker.pid, worker.started_at
        )

    async def retire_worker(self, worker_id: str) -> None:
        await self._fetch(sql.RETIRE_WORKER, worker_id)

    async def claim(
        self, worker_id: str, n: int, lease_s: float, *, skip: Collection[str] = ()
    ) -> list[JobRecord]:
        rows = await self._fetch(sql.CLAIM, worker_id, n, lease_s, list(skip))
        rows.sort(key=lambda row: row[0])
        records: list[JobRecord] = []
        for row in rows:
            record = from_row(tuple(row)[1:-2])
            self._held[record.job_id] = Lease(record.job_id, worker_id, int(row[-2]))
            self._rows[record.job_id] = (record, row[-1])
            self._claimed.setdefault(worker_id, set()).add(record.job_id)
            records.append(record)
        if records:
            await self._fetch(sql.HELD_COUNT, worker_id, self.held(worker_id))
        return records

    async def renew_leases(self, worker_id: str, lease_s: float, *, bytes_sent: int) -> list[str]:
        ids = sorted(self._claimed.get(worker_id, ()))
        generations = [self._generation(job_id, worker_id) for job_id in ids]
        async with self._transaction() as conn:
            rows = await conn.fetch(sql.RENEW, worker_id, lease_s, ids, generations)
            renewed = {row[0] for row in rows}
            await conn.execute(sql.HEARTBEAT, worker_id, len(renewed), bytes_sent)
        lost = [job_id for job_id in ids if job_id not in renewed]
        self._claimed[worker_id] = renewed
        for job_id in lost:
            if self._generation(job_id, worker_id) >= 0:
                self._forget(job_id)
        return lost

    def _generation(self, job_id: str, worker_id: str) -> int:
        lease = self._held.get(job_id)
        return lease.generation if lease is not None and lease.worker_id == worker_id else -1

    async def release(self, job_id: str) -> None:
        lease = self._held.get(job_id)
        self._forget(job_id)
        if lease is not None:
            await self._fetch(sql.RELEASE, job_id, lease.worker_id, lease.generation)

    def held(self, worker_id: str) -> int:
        return sum(lease.worker_id == worker_id for lease in self._held.values())

    async def workers(self) -> list[WorkerInfo]:
        rows = await self._fetch(sql.WORKERS)
        return [WorkerInfo(*tuple(row)) for row in rows]

    async def expired_leases(self) -> int:
        """Runnable jobs whose lease expired and nobody took over yet (stuck leases)."""
        rows = await self._fetch(sql.EXPIRED_LEASES)
        return int(rows[0][0])

    async def set_absent(self, job_ids: Collection[str]) -> None:
        ids = sorted(set(job_ids))
        async with self._transaction() as conn:
            await conn.execute(sql.MARK_ABSENT, ids)
            await conn.execute(sql.MARK_PRESENT, ids)

    async def iter_absent(self) -> AsyncIterator[JobRecord]:
        after = 0
        while True:
            rows = await self._fetch(sql.ABSENT_PAGE, after, 500)
            for row in rows:
                yield from_row(tuple(row)[1:])
            if len(rows) < 500:
                return
            after = rows[-1][0]

    async def runnable_left(self, skip: Collection[str] = ()) -> int:
        rows = await self._fetch(sql.RUNNABLE_LEFT, list(skip))
        return int(rows[0][0])

    async def keep_library(self, tag: str) -> str:
        async with self._transaction() as conn:
            await conn.execute(sql.META_KEEP, _LIBRARY_KEY, tag)
            kept = await conn.fetchval(sql.META_GET, _LIBRARY_KEY)  # a new snapshot: sees it
        return str(kept)

    async def library(self) -> str | None:
        rows = await self._fetch(sql.META_GET, _LIBRARY_KEY)
        return str(rows[0][0]) if rows else None

    async def take_api_tokens(self, key_id: str, bucket: TokenBucket, n: int = 1) -> float:
        args = (key_id, bucket.burst, bucket.rate_per_s, n)
        async with self._transaction() as conn:
            tokens = await conn.fetchval(sql.TAKE_TOKENS, *args)
            if tokens is None:
                await conn.execute(sql.NEW_BUCKET, key_id, bucket.burst)
                tokens = await conn.fetchval(sql.TAKE_TOKENS, *args)
        return max(0.0, -float(tokens) / bucket.rate_per_s)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A connection given back to the pool keeps its session: this journal sets nothing
    on it but ``SET LOCAL`` (undone at commit) and takes no session lock, so asyncpg's
    default reset (one more round trip per statement: ``RESET ALL``, ``UNLISTEN *``, ...)
    would only double the round trips of every claim and write."""


async def _migrate(conn: asyncpg.Connection, schema: str, name: str) -> None:
    """Create the schema and apply the missing migrations, one process at a time."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"vidlift:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute("CREATE TABLE IF NOT EXISTS vidlift_schema (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM vidlift_schema")
        if version > sql.SCHEMA_VERSION:
            raise JournalError(
                f"journal {name} was written by a newer vidlift (schema {version}; this one "
                f"knows {sql.SCHEMA_VERSION}): upgrade vidlift"
            )
        for number in range(version, sql.SCHEMA_VERSION):
            for statement in sql.MIGRATIONS[number]:
                await conn.execute(statement)
            await conn.execute("INSERT INTO vidlift_schema (version) VALUES ($1)", number + 1)
