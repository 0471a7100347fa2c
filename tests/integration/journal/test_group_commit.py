"""Group commit: concurrent changes share transactions; one bad change fails alone."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from vidlift.errors import JournalError
from vidlift.journal.sqlite import SqliteJournal
from vidlift.journal.state import JobState
from vidlift.testing.journal_conformance import sample_entry

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_concurrent_changes_all_commit_and_a_bad_one_fails_alone(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = await SqliteJournal.open(path)
    entries = [sample_entry(n) for n in range(40)]
    await journal.add_entries(entries)
    errors: list[BaseException] = []

    async def create(job_id: str) -> None:
        try:
            await journal.mark_creating(job_id)
            await journal.record_created(
                job_id, video_key=f"key-{job_id}", upload_url="http://u", session_id=f"s{job_id}"
            )
        except JournalError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for entry in entries:
            tg.start_soon(create, entry.job_id)
        tg.start_soon(create, "no-such-job")
    await journal.close()
    assert len(errors) == 1 and "no-such-job" in str(errors[0])
    reopened = await SqliteJournal.open(path)
    try:
        counts = await reopened.counts()
    finally:
        await reopened.close()
    assert counts.by_state[JobState.UPLOADING] == 40
