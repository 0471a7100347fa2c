"""A journal written by the first schema (before URL sources) is migrated when a writer
opens it, and read as it was; a reader alone reads a migrated copy in memory and leaves
the file as it was. A journal of schema 2
in which an older `vidlift retry --failed` left jobs `pending` while they held an upload
session has them moved to `uploading` (schema 3)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import anyio
import pytest

from tests.integration.journal.older_retry import OLDER_RETRY_JOBS, assert_repaired
from vidlift.errors import JournalError
from vidlift.journal import JobState, SqliteJournal
from vidlift.journal.sqlite_schema import SCHEMA_VERSION

pytestmark = pytest.mark.anyio

V1_TABLE = """CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL UNIQUE, source_path TEXT,
    size_bytes INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, metadata TEXT NOT NULL,
    location TEXT NOT NULL, state TEXT NOT NULL, manifest_problem INTEGER NOT NULL,
    create_sent INTEGER NOT NULL, video_key TEXT, upload_url TEXT, session_id TEXT,
    acked_ranges TEXT NOT NULL, acked_bytes INTEGER NOT NULL, attempts INTEGER NOT NULL,
    last_error TEXT, md5 TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL)"""
METADATA = '{"title": "T", "description": "", "tags": [], "date": null, "link": "", "custom": {}}'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def file_versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as connection:
        versions = [v for (v,) in connection.execute("SELECT version FROM vidlift_schema")]
    connection.close()
    return versions


async def assert_read_as_migrated_and_left_as_it_was(
    path: Path, job_id: str, state: JobState, version: int
) -> None:
    """``status``, ``report`` and ``run --dry-run`` read an older journal without a run to
    upgrade it first: a copy in memory, migrated; the file is not written."""
    file = anyio.Path(path)
    before = await file.read_bytes()
    for create_nothing in (False, True):
        async with await SqliteJournal.open_readonly(path, create_nothing=create_nothing) as r:
            record = await r.get(job_id)
            assert record is not None and record.state is state
            assert (await r.counts()).by_state[state] >= 1
            with pytest.raises(JournalError):  # still a reader
                await r.mark_failed(job_id, "no")
    assert await file.read_bytes() == before
    assert file_versions(path) == [version]


def write_v1_journal(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE vidlift_schema (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO vidlift_schema (version) VALUES (1)")
        connection.execute(V1_TABLE)
        connection.execute(
            "INSERT INTO jobs (job_id, source_path, size_bytes, mtime_ns, metadata, location,"
            " state, manifest_problem, create_sent, video_key, acked_ranges, acked_bytes,"
            " attempts, created_at, updated_at) VALUES"
            " ('j1', '/v/a.mp4', 10, 5, ?, 'm.csv:2', 'uploading', 0, 1, 'K', '[[0, 4]]', 5,"
            " 0, 1.0, 2.0)",
            (METADATA,),
        )
    connection.close()


async def test_a_v1_journal_is_migrated_by_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    write_v1_journal(path)
    await assert_read_as_migrated_and_left_as_it_was(path, "j1", JobState.UPLOADING, 1)
    async with await SqliteJournal.open(path) as journal:
        record = await journal.get("j1")
        assert record is not None
        assert (record.state, record.video_key, record.acked_ranges) == (
            JobState.UPLOADING,
            "K",
            ((0, 4),),
        )
        assert (record.source_url, record.source_identity) == (None, None)
        await journal.record_source("j1", size_bytes=10, identity="mtime:5")
    async with await SqliteJournal.open_readonly(path) as reader:
        record = await reader.get("j1")
        assert record is not None and record.source_identity == "mtime:5"
    assert file_versions(path) == [1, SCHEMA_VERSION]


V2_TABLE = V1_TABLE.removesuffix(")") + ", source_url TEXT, source_identity TEXT)"


def write_v2_journal(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE vidlift_schema (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO vidlift_schema (version) VALUES (2)")
        connection.execute(V2_TABLE)
        for job_id, state, key, session, url, ranges, attempts in OLDER_RETRY_JOBS:
            acked = sum(end - start + 1 for start, end in json.loads(ranges))
            connection.execute(
                "INSERT INTO jobs (job_id, source_path, size_bytes, mtime_ns, metadata,"
                " location, state, manifest_problem, create_sent, video_key, upload_url,"
                " session_id, acked_ranges, acked_bytes, attempts, last_error, created_at,"
                " updated_at) VALUES (?, ?, 200000, 5, ?, 'm.csv:2', ?, 0, ?, ?, ?, ?, ?, ?, ?,"
                " ?, 1.0, 2.0)",
                (job_id, f"/v/{job_id}.mp4", METADATA, state, key is not None, key, url,
                 session, ranges, acked, attempts, "gave up" if key else None),
            )  # fmt: skip
    connection.close()


async def test_jobs_an_older_retry_left_pending_with_a_session_go_on_uploading(
    tmp_path: Path,
) -> None:
    """The move an older `retry --failed` made (failed -> pending, session kept) stopped
    every later run at `mark_verifying`; the migration puts such jobs where the requeue
    puts them now, session and ranges kept, and leaves every other job as it was."""
    path = tmp_path / "v2.sqlite"
    write_v2_journal(path)
    # the reader sees the repair (its copy is migrated), the file waits for a writer
    await assert_read_as_migrated_and_left_as_it_was(path, "held", JobState.UPLOADING, 2)
    async with await SqliteJournal.open(path) as journal:
        await assert_repaired(journal)
        await journal.mark_verifying("held")  # refused from `pending` before the migration
        assert await journal.requeue_failed() == 1
        gave_up = await journal.get("gave-up")
        assert gave_up is not None and gave_up.state is JobState.UPLOADING
    assert file_versions(path) == [2, SCHEMA_VERSION]
