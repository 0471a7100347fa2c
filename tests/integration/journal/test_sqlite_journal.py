"""SqliteJournal on real files: reopening, kill -9, a reader process, and clear errors."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.manifest.unprivileged import run_unprivileged, shared_folder
from vidlift.errors import JournalError
from vidlift.journal import JobRecord, JobState, SqliteJournal
from vidlift.journal.sqlite_store import SqliteStore
from vidlift.testing.journal_conformance import sample_entry, sample_problem, walk_to

pytestmark = pytest.mark.anyio


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _everything(journal: SqliteJournal) -> list[JobRecord]:
    return [record async for record in journal.iter_jobs()]


async def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "jobs.vidlift.sqlite"
    async with await SqliteJournal.open(path) as journal:
        await journal.add_entries(sample_entry(n) for n in range(6))
        await journal.add_problem(sample_problem(9))
        await journal.mark_creating("job-1")
        await walk_to(journal, "job-2", JobState.CREATING)
        await journal.record_created("job-2", video_key="K2", upload_url="u2", session_id="s2")
        await journal.record_progress("job-2", [(0, 9), (20, 29)])
        await walk_to(journal, "job-3", JobState.VERIFYING, key="K3")
        await journal.mark_done("job-3", video_key="K3", md5="f" * 32)
        await journal.bump_attempts("job-4")
        await journal.mark_failed("job-4", "gave up")
        before = await _everything(journal)
        counts = await journal.counts()
    async with await SqliteJournal.open(path) as journal:
        assert await _everything(journal) == before
        assert await journal.counts() == counts
    assert before[2].acked_ranges == ((0, 9), (20, 29))
    assert [r.state for r in before][:5] == [
        JobState.PENDING,
        JobState.CREATING,
        JobState.UPLOADING,
        JobState.DONE,
        JobState.FAILED,
    ]


_WRITER = """
    import sys
    import anyio
    from pathlib import Path
    from vidlift.journal import SqliteJournal
    from vidlift.testing.journal_conformance import sample_entry

    async def main() -> None:
        journal = await SqliteJournal.open(Path(sys.argv[1]))
        await journal.add_entries(sample_entry(n) for n in range(400))
        for n in range(400):
            await journal.mark_creating(f"job-{n}")
            await journal.record_created(
                f"job-{n}", video_key=f"K{n}", upload_url=f"https://u/{n}", session_id=f"s{n}"
            )
            await journal.record_progress(f"job-{n}", [(0, n)])  # batched: may be lost
            print(n, flush=True)
        await anyio.sleep(600)  # killed before this ends

    anyio.run(main)
"""


async def test_kill_9_keeps_every_created_session(tmp_path: Path) -> None:
    path = tmp_path / "jobs.vidlift.sqlite"
    child = _spawn(_WRITER, str(path))
    assert child.stdout is not None
    reported = [int(child.stdout.readline()) for _ in range(40)]  # the child keeps writing
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL
    async with await SqliteJournal.open(path) as journal:
        for n in reported:
            record = await journal.get(f"job-{n}")
            assert record is not None and record.state is JobState.UPLOADING
            assert (record.video_key, record.session_id) == (f"K{n}", f"s{n}")
            assert record.upload_url == f"https://u/{n}"
        counts = await journal.counts()
    assert counts.total_jobs == 400
    assert counts.by_state[JobState.UPLOADING] >= len(reported)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


_READER = """
    import json
    import sys
    import anyio
    from pathlib import Path
    from vidlift.journal import JobState, SqliteJournal

    async def main() -> None:
        journal = await SqliteJournal.open_readonly(Path(sys.argv[1]))
        print("open", flush=True)
        seen = []
        for _ in range(200_000):
            counts = await journal.counts()
            done = counts.by_state[JobState.DONE]
            if not seen or seen[-1] != done:
                seen.append(done)
            if done == counts.total_jobs:
                break
        await journal.close()
        print(json.dumps(seen), flush=True)

    anyio.run(main)
"""


async def test_reader_process_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "jobs.vidlift.sqlite"
    async with await SqliteJournal.open(path) as journal:
        await journal.add_entries(sample_entry(n) for n in range(300))
        reader = _spawn(_READER, str(path))
        assert reader.stdout is not None
        assert reader.stdout.readline() == "open\n"
        for n in range(300):
            await walk_to(journal, f"job-{n}", JobState.DONE, key=f"K{n}")
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    seen = json.loads(out)
    assert seen[-1] == 300
    assert len(seen) > 2, "the reader never saw the writer in progress"
    assert seen == sorted(seen)


async def test_readonly_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "jobs.vidlift.sqlite"
    async with await SqliteJournal.open(path) as writer:
        await writer.add_entries([sample_entry(1)])
        async with await SqliteJournal.open_readonly(path) as reader:
            assert (await reader.get("job-1")) == (await writer.get("job-1"))
            with pytest.raises(JournalError, match="read-only"):
                await reader.mark_failed("job-1", "nope")
            with pytest.raises(JournalError, match="read-only"):
                await reader.add_entries([sample_entry(2)])


async def test_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.vidlift.sqlite"
    async with await SqliteJournal.open(path):
        with pytest.raises(
            JournalError, match=rf"in use by another vidlift process \(pid {os.getpid()}\)"
        ):
            await SqliteJournal.open(path)
    async with await SqliteJournal.open(path) as again:
        assert await again.get("job-1") is None


async def test_not_a_journal(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(JournalError, match="not a vidlift journal, or corrupt"):
        await SqliteJournal.open(garbage)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE songs (title TEXT)")
    connection.close()
    with pytest.raises(JournalError, match=r"not a vidlift journal \(it holds songs\)"):
        await SqliteJournal.open(other)
    with pytest.raises(JournalError, match="not a vidlift journal"):
        await SqliteJournal.open_readonly(other)


async def test_corrupt_journal(tmp_path: Path) -> None:
    path = tmp_path / "jobs.vidlift.sqlite"
    async with await SqliteJournal.open(path) as journal:
        await journal.add_entries(sample_entry(n) for n in range(50))
    with path.open("r+b") as file:
        file.write(b"\0" * 100)  # the header
    with pytest.raises(JournalError, match="not a vidlift journal, or corrupt"):
        await SqliteJournal.open(path)


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.vidlift.sqlite"
    async with await SqliteJournal.open(path):
        pass
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE vidlift_schema SET version = 99")
    connection.close()
    with pytest.raises(JournalError, match="written by a newer vidlift"):
        await SqliteJournal.open(path)


async def test_missing_places(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal at"):
        await SqliteJournal.open_readonly(tmp_path / "absent.sqlite")
    with pytest.raises(JournalError, match="folder is missing or not writable"):
        await SqliteJournal.open(tmp_path / "no-such-folder" / "jobs.sqlite")


def _open_error(path: Path) -> str:
    try:
        SqliteStore.open(path, readonly=False).close()
    except JournalError as exc:
        return str(exc)
    return "opened"


def test_folder_not_writable() -> None:
    with shared_folder() as folder:
        locked = folder / "locked"
        locked.mkdir(mode=0o555)
        message = run_unprivileged(lambda: _open_error(locked / "jobs.sqlite"))
    assert "folder is missing or not writable" in message


async def test_progress_and_problems_are_batched(tmp_path: Path) -> None:
    """Batched writes reach the file on flush (or when due), not on every call."""
    path = tmp_path / "jobs.vidlift.sqlite"
    async with await SqliteJournal.open(path, progress_interval_s=3600) as writer:
        await writer.add_entries([sample_entry(1)])
        await walk_to(writer, "job-1", JobState.UPLOADING)
        await writer.record_progress("job-1", [(0, 99)])
        await writer.add_problem(sample_problem(2))
        async with await SqliteJournal.open_readonly(path) as reader:
            record = await reader.get("job-1")
            assert record is not None and record.acked_ranges == ()
            assert await reader.get("job-2") is None
            await writer.flush()
            record = await reader.get("job-1")
            assert record is not None and record.acked_ranges == ((0, 99),)
            assert await reader.get("job-2") is not None
    async with await SqliteJournal.open(path, progress_interval_s=0) as writer:
        await writer.record_progress("job-1", [(0, 199)])
        async with await SqliteJournal.open_readonly(path) as reader:
            record = await reader.get("job-1")
            assert record is not None and record.acked_ranges == ((0, 199),)
