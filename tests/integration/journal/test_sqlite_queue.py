"""What `vidlift enqueue` tells the `vidlift worker` that runs after it on a SQLite
journal (two processes, one file): the library's tag and the rows that left the
manifest are kept in the file, read again when it is opened, by writers and readers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from vidlift.journal import SqliteJournal
from vidlift.testing.journal_conformance import sample_entry

from .test_sqlite_migration import write_v1_journal

pytestmark = pytest.mark.anyio


async def test_the_library_tag_and_the_absent_rows_outlive_the_process(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    async with await SqliteJournal.open(path) as enqueue:
        await enqueue.add_entries([sample_entry(number) for number in (1, 2, 3)])
        assert await enqueue.keep_library("tag-1") == "tag-1"
        await enqueue.set_absent({"job-2"})

    async with await SqliteJournal.open(path) as worker:
        assert await worker.library() == "tag-1"
        assert await worker.keep_library("tag-2") == "tag-1"  # the first enqueue's stays
        claimed = await worker.claim("w1", 10, 60.0)
        assert sorted(record.job_id for record in claimed) == ["job-1", "job-3"]
        assert await worker.runnable_left() == 2
        assert [record.job_id async for record in worker.iter_absent()] == ["job-2"]

    async with await SqliteJournal.open_readonly(path) as reader:  # `status`, `report`
        assert await reader.library() == "tag-1"
        assert [record.job_id async for record in reader.iter_absent()] == ["job-2"]

    async with await SqliteJournal.open(path) as enqueue:  # the row is back in the manifest
        await enqueue.set_absent(set())
    async with await SqliteJournal.open(path) as worker:
        assert [record.job_id async for record in worker.iter_absent()] == []
        claimed = await worker.claim("w1", 10, 60.0)
        assert sorted(record.job_id for record in claimed) == ["job-1", "job-2", "job-3"]


async def test_an_older_journal_gets_every_row_in_the_manifest_and_no_tag(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    write_v1_journal(path)
    async with await SqliteJournal.open(path) as journal:
        assert await journal.library() is None
        assert [record.job_id async for record in journal.iter_absent()] == []
        assert [record.job_id for record in await journal.claim("w1", 5, 60.0)] == ["j1"]
        assert await journal.keep_library("tag-1") == "tag-1"
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name, value FROM meta").fetchall()
    connection.close()
    assert rows == [("library", "tag-1")]
