"""PostgreSQL fleet mode on the real server: claims with SKIP LOCKED, leases taken over
after expiry, and the fencing token that refuses a late worker's writes (two journals,
two connection pools, as two hosts would have)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from tests.postgres import pg_url
from vidlift.errors import JournalError, LeaseLost
from vidlift.journal.leases import TokenBucket
from vidlift.journal.postgres import PostgresJournal, redact_url
from vidlift.journal.state import JobState
from vidlift.testing.journal_conformance import sample_entry, walk_to

__all__ = ["pg_url"]

pytestmark = pytest.mark.anyio


@pytest.fixture
async def two(pg_url: str) -> AsyncIterator[tuple[PostgresJournal, PostgresJournal]]:
    first = await PostgresJournal.open(pg_url)
    second = await PostgresJournal.open(pg_url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_concurrent_claims_never_share_a_job(
    two: tuple[PostgresJournal, PostgresJournal],
) -> None:
    first, second = two
    await first.add_entries(sample_entry(n) for n in range(40))
    got: dict[str, list[str]] = {"a": [], "b": []}

    async def take(journal: PostgresJournal, worker: str) -> None:
        while batch := await journal.claim(worker, 3, 30.0):
            got[worker] += [record.job_id for record in batch]

    async with anyio.create_task_group() as group:
        group.start_soon(take, first, "a")
        group.start_soon(take, second, "b")
    assert sorted(got["a"] + got["b"]) == sorted(f"job-{n}" for n in range(40))
    assert not set(got["a"]) & set(got["b"])


async def test_a_late_worker_is_fenced_off(two: tuple[PostgresJournal, PostgresJournal]) -> None:
    """Worker A's lease runs out (as if paused); B takes the job over and continues the
    upload; A's late writes are refused and change nothing."""
    late, successor = two
    await late.add_entries([sample_entry(1)])
    assert [r.job_id for r in await late.claim("A", 1, 0.3)] == ["job-1"]
    await late.mark_creating("job-1")
    await late.record_created("job-1", video_key="K", upload_url="u", session_id="s")
    await late.record_progress("job-1", [(0, 99)])
    await anyio.sleep(0.5)  # waits for time itself: A's lease expires
    taken = await successor.claim("B", 1, 30.0)
    assert [(r.job_id, r.state, r.acked_ranges) for r in taken] == [
        ("job-1", JobState.UPLOADING, ((0, 99),))
    ]
    await successor.record_progress("job-1", [(0, 499)])
    for write in (
        lambda: late.record_progress("job-1", [(0, 199)]),
        lambda: late.mark_verifying("job-1"),
        lambda: late.mark_failed("job-1", "late"),
    ):
        with pytest.raises(LeaseLost, match="job-1: worker A no longer holds its lease"):
            await write()
    assert await late.renew_leases("A", 30.0, bytes_sent=0) == ["job-1"]
    record = await successor.get("job-1")
    assert record is not None
    assert (record.state, record.acked_ranges) == (JobState.UPLOADING, ((0, 499),))
    await successor.mark_verifying("job-1")
    await successor.mark_done("job-1", video_key="K", md5=None)
    assert await late.claim("A", 5, 30.0) == []


async def test_renewal_reports_a_lost_lease_and_unclaimed_writes_wait(
    two: tuple[PostgresJournal, PostgresJournal],
) -> None:
    first, second = two
    await first.add_entries([sample_entry(1), sample_entry(2)])
    await first.claim("A", 1, 0.2)
    await anyio.sleep(0.4)
    await second.claim("B", 1, 30.0)
    assert await first.renew_leases("A", 30.0, bytes_sent=0) == ["job-1"]
    with pytest.raises(LeaseLost):  # a journal that did not claim it: B's live lease wins
        await first.mark_creating("job-1")
    await walk_to(first, "job-2", JobState.DONE)  # nobody holds job-2: free to write
    assert await first.expired_leases() == 0


async def test_a_held_jobs_write_never_overwrites_a_change_made_meanwhile(
    two: tuple[PostgresJournal, PostgresJournal],
) -> None:
    """A held job's write goes in one statement from the row as the worker last saw it,
    only if the row is still that version: the manifest queued again with a new title
    while the job waited in the worker is kept, not overwritten by the stale row."""
    worker, enqueuer = two
    await enqueuer.add_entries([sample_entry(1)])
    assert [r.metadata.title for r in await worker.claim("A", 1, 30.0)] == ["Clip 1 — été"]
    await enqueuer.add_entries([sample_entry(1, title="Renamed")])
    assert await worker.bump_attempts("job-1") == 1
    await worker.mark_creating("job-1")  # the fast path again, from the fresh row
    record = await enqueuer.get("job-1")
    assert record is not None
    assert (record.metadata.title, record.state, record.attempts) == (
        "Renamed",
        JobState.CREATING,
        1,
    )


async def test_schema_is_versioned_and_shared(pg_url: str) -> None:
    async with await PostgresJournal.open(pg_url) as journal:
        await journal.add_entries([sample_entry(1)])
    async with await PostgresJournal.open(pg_url) as again:  # migrations are not re-run
        assert (await again.counts()).total_jobs == 1


async def test_the_library_tag_is_kept_once_for_every_host(
    two: tuple[PostgresJournal, PostgresJournal], pg_url: str
) -> None:
    """Two enqueues at once (two hosts, two manifest paths): one tag is kept, both read it,
    and a journal opened later reads it too."""
    first, second = two
    kept: list[str] = []

    async def keep(journal: PostgresJournal, tag: str) -> None:
        kept.append(await journal.keep_library(tag))

    async with anyio.create_task_group() as group:
        group.start_soon(keep, first, "host-a-tag")
        group.start_soon(keep, second, "host-b-tag")
    assert len(set(kept)) == 1 and kept[0] in ("host-a-tag", "host-b-tag")
    async with await PostgresJournal.open(pg_url) as later:
        assert await later.library() == kept[0]


async def test_errors_name_the_journal_without_the_password() -> None:
    url = "postgresql://vidlift:hunter2@127.0.0.1:1/nowhere"
    assert redact_url(url) == "postgresql://vidlift@127.0.0.1:1/nowhere"
    with pytest.raises(JournalError) as caught:
        await PostgresJournal.open(url)
    assert "hunter2" not in str(caught.value)
    assert "postgresql://vidlift@127.0.0.1:1/nowhere" in str(caught.value)
    assert "cannot reach PostgreSQL" in str(caught.value)


async def test_the_api_budget_is_one_bucket_for_every_host(
    two: tuple[PostgresJournal, PostgresJournal],
) -> None:
    """Two journals (two pools, as two hosts) taking tokens at once share one bucket per
    API key: its burst is given out exactly once between them, then every taker waits."""
    bucket = TokenBucket(rate_per_s=0.001, burst=10.0)  # nothing refills during the test
    waits: list[float] = []

    async def take(journal: PostgresJournal) -> None:
        waits.append(await journal.take_api_tokens("key-a", bucket))

    async with anyio.create_task_group() as group:
        for journal in two * 12:
            group.start_soon(take, journal)
    assert sorted(waits)[:10] == [0.0] * 10
    assert all(wait > 900 for wait in sorted(waits)[10:]), waits  # ~1/rate each, and more
