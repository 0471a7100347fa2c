"""The PostgreSQL journal's tables, its versioned migrations and its statements
(journal layer).

The ``jobs`` table is the SQLite layout (same columns, same row codec,
:mod:`vidlift.journal.sqlite_schema`), with PostgreSQL types, plus the fleet's columns:
``lease_owner``, ``lease_expires_at`` and ``lease_generation`` (the fencing token). Two
more tables: ``workers`` (the registry ``vidlift status`` shows) and ``api_buckets``
(one token bucket per API key, shared by every worker). ``in_manifest`` (schema 6) is
false for a job whose row left the manifest: claims skip it (issue 14). ``meta``
(schema 7) holds the journal's own facts by key: ``library``, the tag every worker gives
the videos it creates and surveys the platform by (the first enqueue's). ``ended_at``
(schema 8) is when a worker ended (NULL while it runs): ``vidlift status`` tells live
workers from ended ones. Schema 9 changes no column: it moves jobs an older ``vidlift
retry --failed`` left ``pending`` while they held an upload session to ``uploading``
(:data:`~vidlift.journal.sqlite_schema.RESUME_PENDING_SESSIONS`). Times of leases
and heartbeats are the server's clock (``now()``), so hosts whose clocks differ agree on expiry.

``MIGRATIONS[i]`` brings a schema from version ``i`` to ``i + 1``; ``vidlift_schema``
holds the versions applied. A schema written by a newer vidlift is refused. A column
added to the SQLite layout (``COLUMNS``) needs a migration appended here too (e.g.
``ALTER TABLE jobs ADD COLUMN source_url TEXT``); the conformance suite fails until then.
"""

from __future__ import annotations

from vidlift.journal.base import JobRecord
from vidlift.journal.sqlite_schema import COLUMNS, RESUME_PENDING_SESSIONS, to_row
from vidlift.journal.state import RUNNABLE_STATES

__all__ = [
    "ABSENT_PAGE",
    "CLAIM",
    "COUNTS",
    "EXPIRED_LEASES",
    "FAILURES",
    "FENCED_UPDATE",
    "HEARTBEAT",
    "HELD_COUNT",
    "INSERT",
    "LOCK_ONE",
    "LOCK_STATUS",
    "MARK_ABSENT",
    "MARK_PRESENT",
    "META_GET",
    "META_KEEP",
    "MIGRATIONS",
    "NEW_BUCKET",
    "NOW",
    "PAGE",
    "PAGE_IN_STATES",
    "REGISTER_WORKER",
    "RELEASE",
    "RENEW",
    "RETIRE_WORKER",
    "RUNNABLE_LEFT",
    "SCHEMA_VERSION",
    "SELECT_ONE",
    "TAKE_TOKENS",
    "UPDATE",
    "UPDATE_ONE",
    "WORKERS",
    "pg_row",
]

NOW = "extract(epoch from now())::float8"
_BOOLEAN_COLUMNS = frozenset({"manifest_problem", "create_sent"})
_RUNNABLE = ", ".join(f"'{state.value}'" for state in RUNNABLE_STATES)

# The indexes claims use, over the runnable states (re-created when those change).
_CLAIM_INDEXES = (
    f"CREATE INDEX jobs_free ON jobs (seq) WHERE state IN ({_RUNNABLE}) AND lease_owner IS NULL",
    f"CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE state IN ({_RUNNABLE}) "
    "AND lease_owner IS NOT NULL",
)
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the jobs (the SQLite layout)
        """CREATE TABLE jobs (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id TEXT NOT NULL UNIQUE,
            source_path TEXT,
            size_bytes BIGINT NOT NULL,
            mtime_ns BIGINT NOT NULL,
            metadata TEXT NOT NULL,
            location TEXT NOT NULL,
            state TEXT NOT NULL,
            manifest_problem BOOLEAN NOT NULL,
            create_sent BOOLEAN NOT NULL,
            video_key TEXT,
            upload_url TEXT,
            session_id TEXT,
            acked_ranges TEXT NOT NULL,
            acked_bytes BIGINT NOT NULL,
            attempts INTEGER NOT NULL,
            last_error TEXT,
            md5 TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX jobs_by_state ON jobs (state, seq)",
        "CREATE INDEX jobs_by_update ON jobs (state, updated_at)",
    ),
    (  # 2: the fleet: leases with a fencing token, the worker registry, API buckets
        "ALTER TABLE jobs ADD COLUMN lease_owner TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_expires_at DOUBLE PRECISION",
        "ALTER TABLE jobs ADD COLUMN lease_generation BIGINT NOT NULL DEFAULT 0",
        f"CREATE INDEX jobs_claimable ON jobs (seq) WHERE state IN ({_RUNNABLE})",
        """CREATE TABLE workers (
            worker_id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at DOUBLE PRECISION NOT NULL,
            heartbeat_at DOUBLE PRECISION NOT NULL,
            jobs_held INTEGER NOT NULL DEFAULT 0,
            bytes_sent BIGINT NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE api_buckets (
            key_id TEXT PRIMARY KEY,
            tokens DOUBLE PRECISION NOT NULL,
            refilled_at DOUBLE PRECISION NOT NULL
        )""",
    ),
    (  # 3: URL sources (as SQLite's schema 2): the URL without query, its identity
        "ALTER TABLE jobs ADD COLUMN source_url TEXT",
        "ALTER TABLE jobs ADD COLUMN source_identity TEXT",
    ),
    (  # 4: claims step over no leased job: one index of free jobs, one of leases by expiry
        "DROP INDEX jobs_claimable",
        *_CLAIM_INDEXES,
    ),
    (  # 5: the processing state (--wait-ready) is runnable: the claim indexes cover it
        "DROP INDEX IF EXISTS jobs_free",
        "DROP INDEX IF EXISTS jobs_leased",
        *_CLAIM_INDEXES,
    ),
    (  # 6: rows that left the manifest: kept, never claimed (the claim indexes skip them)
        "ALTER TABLE jobs ADD COLUMN in_manifest BOOLEAN NOT NULL DEFAULT true",
        "DROP INDEX IF EXISTS jobs_free",
        "DROP INDEX IF EXISTS jobs_leased",
        *(f"{statement} AND in_manifest" for statement in _CLAIM_INDEXES),
        "CREATE INDEX jobs_absent ON jobs (seq) WHERE NOT in_manifest",
    ),
    (  # 7: the journal's own facts (the library tag), one value per key
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (  # 8: a worker that ends says so (NULL while it runs, or if it died)
        "ALTER TABLE workers ADD COLUMN ended_at DOUBLE PRECISION",
    ),
    (  # 9: jobs an older `retry --failed` left pending holding a session go on uploading
        RESUME_PENDING_SESSIONS,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_COLS = ", ".join(COLUMNS)
_LEASE = "lease_owner, lease_generation, lease_expires_at"
SELECT_ONE = f"SELECT {_COLS} FROM jobs WHERE job_id = $1"
LOCK_ONE = f"SELECT {_COLS}, {_LEASE}, {NOW} AS db_now FROM jobs WHERE job_id = $1 FOR UPDATE"
LOCK_STATUS = f"SELECT {_COLS} FROM jobs WHERE job_id = ANY($1::text[]) FOR UPDATE"
PAGE = f"SELECT seq, {_COLS} FROM jobs WHERE seq > $1 ORDER BY seq LIMIT $2"
PAGE_IN_STATES = (
    f"SELECT seq, {_COLS} FROM jobs WHERE seq > $1 AND state = ANY($3::text[]) "
    "ORDER BY seq LIMIT $2"
)
INSERT = (
    f"INSERT INTO jobs ({_COLS}) VALUES ({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))}) "
    "ON CONFLICT (job_id) DO NOTHING"
)
UPDATE = (
    "UPDATE jobs SET "
    + ", ".join(f"{column} = ${i + 2}" for i, column in enumerate(COLUMNS[1:]))
    + f", lease_owner = CASE WHEN ${len(COLUMNS) + 1} THEN NULL ELSE lease_owner END"
    + f", lease_expires_at = CASE WHEN ${len(COLUMNS) + 1} THEN NULL ELSE lease_expires_at END"
    + " WHERE job_id = $1"
)
_N = len(COLUMNS)
UPDATE_ONE = UPDATE + " RETURNING xmin::text"
# A held job's write in one statement: it applies only if the row is still the version
# this journal last read or wrote (xmin) and the lease still this worker's (owner and
# fencing token); else nothing changes and the caller takes the locking path. Its last
# parameter false: committed without waiting for the WAL flush (progress), as in CLAIM.
FENCED_UPDATE = (
    UPDATE
    + f" AND xmin::text = ${_N + 2} AND lease_owner = ${_N + 3} AND lease_generation = ${_N + 4}"
    + f" AND CASE WHEN ${_N + 5} THEN true"
    + " ELSE set_config('synchronous_commit', 'off', true) IS NOT NULL END"
    + " RETURNING xmin::text"
)
COUNTS = (
    "SELECT state, COUNT(*), COALESCE(SUM(size_bytes), 0), COALESCE(SUM(acked_bytes), 0) "
    "FROM jobs GROUP BY state"
)
FAILURES = (
    "SELECT job_id, source_path, location, last_error FROM jobs WHERE state = 'failed' "
    "ORDER BY updated_at DESC, seq DESC LIMIT $1"
)
# Expired leases first (taken over), then free jobs in queue order, each from its own
# partial index, so a claim never steps over the jobs other workers hold. A worker never
# claims again a job it holds, even on an expired lease: it may still be working on it (a
# renewal keeps it unless another worker took it over meanwhile). The commit does not wait
# for the WAL flush (set_config(..., true): this transaction only): a claim lost in a
# crash of the database host is harmless, the worker's next write finds another owner or
# generation and lets the job go (the fencing token), and any later durable commit of the
# session flushes it anyway.
CLAIM = f"""
WITH picked AS (
    SELECT seq FROM (
        SELECT seq FROM jobs
        WHERE state IN ({_RUNNABLE}) AND lease_owner IS NOT NULL AND in_manifest
            AND lease_expires_at < {NOW} AND lease_owner <> $1 AND job_id <> ALL($4::text[])
        ORDER BY lease_expires_at LIMIT $2
        FOR UPDATE SKIP LOCKED
    ) AS expired
    UNION ALL
    SELECT seq FROM (
        SELECT seq FROM jobs
        WHERE state IN ({_RUNNABLE}) AND lease_owner IS NULL AND in_manifest
            AND job_id <> ALL($4::text[])
        ORDER BY seq LIMIT $2
        FOR UPDATE SKIP LOCKED
    ) AS free
    LIMIT $2
)
UPDATE jobs SET lease_owner = $1, lease_expires_at = {NOW} + $3,
    lease_generation = jobs.lease_generation + 1
FROM picked
WHERE jobs.seq = picked.seq AND set_config('synchronous_commit', 'off', true) IS NOT NULL
RETURNING jobs.seq, {", ".join(f"jobs.{c}" for c in COLUMNS)}, jobs.lease_generation,
    jobs.xmin::text
"""
RENEW = f"""
UPDATE jobs SET lease_expires_at = {NOW} + $2
FROM unnest($3::text[], $4::bigint[]) AS held(job_id, generation)
WHERE jobs.job_id = held.job_id AND jobs.lease_owner = $1
    AND jobs.lease_generation = held.generation
RETURNING jobs.job_id
"""
RELEASE = (
    "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL "
    "WHERE job_id = $1 AND lease_owner = $2 AND lease_generation = $3"
)
EXPIRED_LEASES = (
    f"SELECT COUNT(*) FROM jobs WHERE state IN ({_RUNNABLE}) AND in_manifest "
    f"AND lease_owner IS NOT NULL AND lease_expires_at < {NOW}"
)
RUNNABLE_LEFT = (
    f"SELECT COUNT(*) FROM jobs WHERE state IN ({_RUNNABLE}) AND in_manifest "
    "AND job_id <> ALL($1::text[])"
)
# The manifest as the last ingest read it: the jobs named leave it, every other job is
# in it (again). Only rows whose flag changes are written.
MARK_ABSENT = "UPDATE jobs SET in_manifest = false WHERE in_manifest AND job_id = ANY($1::text[])"
# An anti-join: linear in the ids under any plan (`<> ALL($1)` is hashed only when the
# array is planned as a constant). 50,000 of 100,000 jobs marked absent: 2 s (loaded).
MARK_PRESENT = (
    "UPDATE jobs SET in_manifest = true WHERE NOT in_manifest AND NOT EXISTS "
    "(SELECT 1 FROM unnest($1::text[]) AS gone(job_id) WHERE gone.job_id = jobs.job_id)"
)
ABSENT_PAGE = (
    f"SELECT seq, {_COLS} FROM jobs WHERE NOT in_manifest AND seq > $1 ORDER BY seq LIMIT $2"
)
# The first value stored under a key stays (a later one is not written): read it back.
META_KEEP = "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
META_GET = "SELECT value FROM meta WHERE key = $1"
REGISTER_WORKER = f"""
INSERT INTO workers (worker_id, host, pid, started_at, heartbeat_at, jobs_held, bytes_sent)
VALUES ($1, $2, $3, $4, {NOW}, 0, 0)
ON CONFLICT (worker_id) DO UPDATE SET host = $2, pid = $3, started_at = $4,
    heartbeat_at = {NOW}, ended_at = NULL
"""
RETIRE_WORKER = f"UPDATE workers SET ended_at = {NOW} WHERE worker_id = $1"
# After a claim that returned jobs: one row, no lease touched (the heartbeat renews them).
HELD_COUNT = (
    "UPDATE workers SET jobs_held = $2 WHERE worker_id = $1 "
    "AND set_config('synchronous_commit', 'off', true) IS NOT NULL"
)
HEARTBEAT = (
    f"UPDATE workers SET heartbeat_at = {NOW}, jobs_held = $2, bytes_sent = $3 WHERE worker_id = $1"
)
WORKERS = (
    "SELECT worker_id, host, pid, started_at, heartbeat_at, jobs_held, bytes_sent, ended_at "
    "FROM workers ORDER BY heartbeat_at DESC"
)
# A bucket with debt: tokens may go below zero, and the taker waits until they are back.
TAKE_TOKENS = f"""
UPDATE api_buckets
SET tokens = LEAST($2, tokens + ({NOW} - refilled_at) * $3) - $4, refilled_at = {NOW}
WHERE key_id = $1
RETURNING tokens
"""
NEW_BUCKET = (
    f"INSERT INTO api_buckets (key_id, tokens, refilled_at) VALUES ($1, $2, {NOW}) "
    "ON CONFLICT (key_id) DO NOTHING"
)


def pg_row(record: JobRecord) -> list[object]:
    """The column values of a record (``COLUMNS`` order) with PostgreSQL's booleans."""
    return [
        bool(value) if column in _BOOLEAN_COLUMNS else value
        for column, value in zip(COLUMNS, to_row(record), strict=True)
    ]
