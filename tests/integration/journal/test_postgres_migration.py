"""A PostgreSQL journal of schema 8 in which an older `vidlift retry --failed` left jobs
`pending` while they held an upload session has them moved to `uploading` when a newer
vidlift opens it (schema 9); every other job is left as it was. Real server, a schema of
its own (skipped, with the reason, when PostgreSQL is unreachable)."""

from __future__ import annotations

import asyncpg
import pytest

from tests.postgres import POSTGRES_URL, pg_url
from vidlift.journal.postgres import PostgresJournal
from vidlift.journal.postgres_schema import MIGRATIONS
from vidlift.journal.state import JobState

__all__ = ["pg_url"]

pytestmark = pytest.mark.anyio

OLD_VERSION = 8
METADATA = '{"title": "T", "description": "", "tags": [], "date": null, "link": "", "custom": {}}'
# (job id, state, video key, session id, upload url, acknowledged ranges, acked bytes):
# what schema 8 journals hold, as an older vidlift wrote them.
OLD_JOBS = (
    ("held", "pending", "K1", "s1", "https://u/1", "[[0, 65535]]", 65536),  # requeued, open
    ("fresh", "pending", None, None, None, "[]", 0),  # never started
    ("video-only", "pending", "K3", None, None, "[]", 0),  # requeued after its session reset
    ("known", "pending", "K4", "", "", "[]", 0),  # requeued, video found by a survey
    ("sending", "uploading", "K5", "s5", "https://u/5", "[[0, 99]]", 100),
    ("gave-up", "failed", "K6", "s6", "https://u/6", "[]", 0),  # `retry --failed` to come
)


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
            for job_id, state, key, session, upload_url, ranges, acked in OLD_JOBS:
                await conn.execute(
                    "INSERT INTO jobs (job_id, source_path, size_bytes, mtime_ns, metadata,"
                    " location, state, manifest_problem, create_sent, video_key, upload_url,"
                    " session_id, acked_ranges, acked_bytes, attempts, last_error, created_at,"
                    " updated_at) VALUES ($1, $2, 200000, 5, $3, 'm.csv:2', $4, false, $5, $6,"
                    " $7, $8, $9, $10, 0, NULL, 1.0, 2.0)",
                    job_id, f"/v/{job_id}.mp4", METADATA, state, key is not None, key,
                    upload_url, session, ranges, acked,
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
        records = {job_id: await journal.get(job_id) for job_id, *_ in OLD_JOBS}
        held = records["held"]
        assert held is not None
        assert (held.state, held.video_key, held.session_id, held.upload_url) == (
            JobState.UPLOADING,
            "K1",
            "s1",
            "https://u/1",
        )
        assert (held.acked_ranges, held.attempts, held.create_sent) == (((0, 65535),), 0, True)
        states = {job_id: r.state.value for job_id, r in records.items() if r is not None}
        assert states == {
            "held": "uploading",
            "fresh": "pending",
            "video-only": "pending",
            "known": "pending",
            "sending": "uploading",
            "gave-up": "failed",
        }
        counts = await journal.counts()
        assert (counts.by_state[JobState.PENDING], counts.by_state[JobState.UPLOADING]) == (3, 2)
        assert counts.acked_bytes == 65536 + 100  # the held job's bytes count as in flight
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
