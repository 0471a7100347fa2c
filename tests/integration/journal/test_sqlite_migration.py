"""A journal written by the first schema (before URL sources) is migrated when a writer
opens it, and read as it was; a reader alone asks for the upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

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
    with pytest.raises(JournalError, match=r"older vidlift \(schema 1\).*vidlift run"):
        await SqliteJournal.open_readonly(path)
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
    with sqlite3.connect(path) as connection:
        versions = [v for (v,) in connection.execute("SELECT version FROM vidlift_schema")]
    connection.close()
    assert versions == [1, SCHEMA_VERSION]
