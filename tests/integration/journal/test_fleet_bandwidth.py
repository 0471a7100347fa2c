"""A fleet-wide bandwidth limit (``--bwlimit-total``) on a real PostgreSQL journal: each
worker's throttle runs at the limit divided by the workers sending (holding jobs, alive),
never above its own ``--bwlimit``, and takes the whole limit back when the others stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.postgres import pg_url  # noqa: F401  (fixture)
from vidlift.client.throttle import Throttle
from vidlift.jobs.feed import BandwidthShare, ClaimFeed, FeedSettings, new_worker
from vidlift.journal.postgres import PostgresJournal
from vidlift.journal.state import JobState
from vidlift.testing.journal_conformance import sample_entry, walk_to

pytestmark = pytest.mark.anyio

TOTAL = 300_000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_workers_split_the_fleet_limit_and_take_it_back(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    host_a = await PostgresJournal.open(pg_url)
    host_b = await PostgresJournal.open(pg_url)
    try:
        for number in range(3):
            (tmp_path / f"clip-{number}.mp4").write_bytes(b"x" * 10)
        await host_a.add_entries(sample_entry(n, path=tmp_path / f"clip-{n}.mp4") for n in range(3))
        throttle = Throttle(TOTAL)
        share = BandwidthShare(TOTAL, throttle, own_cap=None)
        seen: list[tuple[int, int]] = []
        settings = FeedSettings(claim_batch=1, lease_s=30)
        feed_a = ClaimFeed(
            host_a,
            new_worker(),
            settings,
            share=share,
            on_share=lambda s: seen.append((s.workers, s.rate)),
        )
        async with feed_a:
            assert seen == [(1, TOTAL)] and throttle.rate == TOTAL  # alone: all of it
            worker_b = new_worker()
            async with ClaimFeed(host_b, worker_b, settings) as feed_b:
                job = await anext(aiter(feed_b))  # B holds a job: it is sending
                await feed_b.heartbeat()
                await feed_a.heartbeat()
                assert seen[-1] == (2, TOTAL // 2) and throttle.rate == TOTAL // 2
                await walk_to(host_b, job.job_id, JobState.DONE)
            # B's feed closed with a last heartbeat holding nothing: it no longer counts
            await feed_a.heartbeat()
            assert seen[-1] == (1, TOTAL) and throttle.rate == TOTAL
    finally:
        await host_a.close()
        await host_b.close()


def test_a_share_never_exceeds_the_workers_own_cap() -> None:
    throttle = Throttle(TOTAL)
    share = BandwidthShare(TOTAL, throttle, own_cap=100_000)
    assert share.rate == 100_000  # alone, but capped by its own --bwlimit
    share.workers = 4
    assert share.rate == TOTAL // 4
