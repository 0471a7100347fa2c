"""A fleet worker's feed (jobs/feed.py) on a memory journal: it claims as many jobs as it
has free slots, and gives back, never to claim again, a job whose local file it cannot
open, without failing it; it ends when no runnable job is left but those."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from pathlib import Path

import anyio
import pytest

from vidlift.jobs.feed import ClaimFeed, FeedSettings, new_worker
from vidlift.journal.base import JobRecord
from vidlift.journal.memory import MemoryJournal
from vidlift.journal.spec import JobSpec
from vidlift.journal.state import JobState
from vidlift.testing.journal_conformance import sample_entry, walk_to

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class AskedJournal(MemoryJournal):
    """A memory journal that records what each claim asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[int, set[str]]] = []

    async def claim(
        self, worker_id: str, n: int, lease_s: float, *, skip: Collection[str] = ()
    ) -> list[JobRecord]:
        self.asked.append((n, set(skip)))
        return await super().claim(worker_id, n, lease_s, skip=skip)


def _job(folder: Path, number: int, *, readable: bool = True) -> JobSpec:
    path = folder / f"clip-{number}.mp4"
    if readable:
        path.write_bytes(b"x" * 10)
    return sample_entry(number, path=path)


async def test_a_worker_claims_its_free_slots_in_one_claim(tmp_path: Path) -> None:
    journal = AskedJournal()
    await journal.add_entries(_job(tmp_path, n) for n in range(6))
    worker = new_worker()
    async with ClaimFeed(journal, worker, FeedSettings(claim_batch=3)) as feed:
        jobs = aiter(feed)
        assert (await anext(jobs)).job_id == "job-0"
        assert journal.asked == [(3, set())] and journal.held(worker.worker_id) == 3
        await walk_to(journal, "job-0", JobState.DONE)
        assert [(await anext(jobs)).job_id for _ in range(2)] == ["job-1", "job-2"]
        await walk_to(journal, "job-1", JobState.DONE)
        assert (await anext(jobs)).job_id == "job-3"
        assert journal.asked == [(3, set()), (2, set())]  # job-2 still held: 2 slots free


async def test_a_file_it_cannot_open_is_left_for_another_worker(tmp_path: Path) -> None:
    journal = AskedJournal()
    await journal.add_entries([_job(tmp_path, 0, readable=False), _job(tmp_path, 1)])
    left: list[tuple[str, str]] = []
    settings = FeedSettings(claim_batch=2, poll_s=0.01)
    worker = new_worker()
    feed = ClaimFeed(journal, worker, settings, on_left=lambda r, why: left.append((r.job_id, why)))
    async with feed:
        jobs = aiter(feed)
        assert (await anext(jobs)).job_id == "job-1"
        assert left == [("job-0", "No such file or directory")]
        assert journal.held(worker.worker_id) == 1
        await walk_to(journal, "job-1", JobState.DONE)
        with pytest.raises(StopAsyncIteration):  # only job-0 is left: not for this worker
            await anext(jobs)
    assert journal.asked[-1] == (2, {"job-0"})
    record = await journal.get("job-0")
    assert record is not None and (record.state, record.attempts) == (JobState.PENDING, 0)
    other = await journal.claim("another-worker", 5, 30.0)
    assert [r.job_id for r in other] == ["job-0"]


async def test_the_feed_says_when_it_has_nothing_to_give_now(tmp_path: Path) -> None:
    """A claim that comes back empty while another worker holds the last job: the feed
    says it has nothing now (the runner's verifier then lists its waiting batch at once)
    and keeps polling; a claim that gets a job says it has jobs again."""
    journal = MemoryJournal()
    await journal.add_entries(_job(tmp_path, n) for n in range(2))
    other = new_worker()
    assert [r.job_id for r in await journal.claim(other.worker_id, 1, 30.0)] == ["job-0"]
    said: list[bool] = []
    idle = anyio.Event()

    def on_idle(nothing_now: bool) -> None:
        said.append(nothing_now)
        if nothing_now:
            idle.set()

    settings = FeedSettings(claim_batch=1, poll_s=0.01)
    worker = new_worker()
    async with ClaimFeed(journal, worker, settings) as feed:
        feed.on_idle = on_idle
        jobs = aiter(feed)
        assert (await anext(jobs)).job_id == "job-1"
        assert said == [False]
        await walk_to(journal, "job-1", JobState.DONE)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(_expect_job_0, jobs)
                await idle.wait()  # job-0 is the other worker's: nothing now
                await journal.release("job-0")  # the other worker gives it back
    assert said[0] is False and said[-1] is False and set(said[1:-1]) == {True}, said


async def _expect_job_0(jobs: AsyncIterator[JobRecord]) -> None:
    record = await anext(jobs)  # job-0, given back, is this worker's now
    assert record.job_id == "job-0"
