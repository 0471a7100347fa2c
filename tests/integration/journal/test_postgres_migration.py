"""A PostgreSQL journal of schema 8 in which an older `vidlift retry --failed` left jobs
`pending` while they held an upload session has them moved to `uploading` when a newer
vidlift opens it (schema 9); every other job is left as it was. Real server, a schema of
its own (skipped, with the reason, when PostgreSQL is unreachable)."""

from __future__ import annotations

import json

import asyncpg
import pytest

from tests.integration.journal.older_retry import OLDER_RETRY_JOBS, assert_repaired
from tests.postgres import POSTGRES_URL, pg_url
from vidlift.journal.postgres import PostgresJournal
from vidlift.journal.postgres_schema import MIGRATIONS
from vidlift.journal.state import JobState

__all__ = ["pg_url"]

pytestmark = pytest.mark.anyio

OLD_VERSION = 8
METADATA = '{"title": "T", "description": "", "tags": [], "date": null, "link": "", "custom": {}}'


async def write_schema_8(url: str) -> None:
    """The layout an older vidlift left (its migrations 1 to 8) and its jobs, in raw SQL;
    the held job's lease expired (its worker stopped at `mark_verifying`)."""
    schema = url.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        async with conn.transaction():
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute(f'SET LOCAL search_path TO "{schema}"')
            await conn.execute("CREATE TABLE vidlift_schema (version INTEGER NOT NULL)")
            for number, statements in enumerate(MIGRATIONS[:OLD_VERSION], start=1):
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO vidlift_schema (version) VALUES ($1)", number)
            for job_id, state, key, session, upload_url, ranges, attempts in OLDER_RETRY_JOBS:
                acked = sum(end - start + 1 for start, end in json.loads(ranges))
                await conn.execute(
                    "INSERT INTO jobs (job_id, source_path, size_bytes, mtime_ns, metadata,"
                    " location, state, manifest_problem, create_sent, video_key, upload_url,"
                    " session_id, acked_ranges, acked_bytes, attempts, last_error, created_at,"
                    " updated_at) VALUES ($1, $2, 200000, 5, $3, 'm.csv:2', $4, false, $5, $6,"
                    " $7, $8, $9, $10, $11, NULL, 1.0, 2.0)",
                    job_id, f"/v/{job_id}.mp4", METADATA, state, key is not None, key,
                    upload_url, session, ranges, acked, attempts,
                )  # fmt: skip
            await conn.execute(
                "UPDATE jobs SET lease_owner = 'old-worker', lease_expires_at = 1.0,"
                " lease_generation = 3 WHERE job_id = 'held'"
            )
    finally:
        await conn.close()


async def test_jobs_an_older_retry_left_pending_with_a_session_go_on_uploading(
    pg_url: str,
) -> None:
    await write_schema_8(pg_url)
    async with await PostgresJournal.open(pg_url) as journal:
        await assert_repaired(journal)
        # Its expired lease is taken over as before (same row, same fencing token), and
        # the move that stopped the batch is now legal.
        claimed = {r.job_id: r.state for r in await journal.claim("new-worker", 10, 30.0)}
        assert claimed["held"] is JobState.UPLOADING
        await journal.mark_verifying("held")
    async with await PostgresJournal.open(pg_url) as again:  # migrated once, not again
        record = await again.get("held")
        assert record is not None and record.state is JobState.VERIFYING
    schema = pg_url.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})
    try:
        versions = [row[0] for row in await conn.fetch("SELECT version FROM vidlift_schema")]
        generation = await conn.fetchval("SELECT lease_generation FROM jobs WHERE job_id = 'held'")
    finally:
        await conn.close()
    assert sorted(versions) == list(range(1, OLD_VERSION + 2))
    assert generation == 4  # the old worker's 3, bumped by the new claim
