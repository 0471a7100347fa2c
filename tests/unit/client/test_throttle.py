"""The shared token bucket of --bwlimit, on a fake clock."""

from __future__ import annotations

import pytest

from vidlift.client.throttle import Throttle


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_average_rate_is_held_from_the_first_byte() -> None:
    fake = FakeTime()
    throttle = Throttle(1_000_000, burst_bytes=100_000, clock=fake.clock, sleep=fake.sleep)
    for _ in range(50):
        await throttle.acquire(100_000)  # 5 MB in all
    # No burst at the start (a process per file would send each one over the limit):
    # 5 MB at 1 MB/s, each piece after its share of the time.
    assert fake.now == pytest.approx(5.0, rel=1e-6)
    assert fake.slept[0] == pytest.approx(0.1, rel=1e-6)


@pytest.mark.anyio
async def test_a_short_upload_is_held_to_the_limit_too() -> None:
    # A process per file: each starts a new bucket (the default burst, a quarter second).
    fake = FakeTime()
    throttle = Throttle(20_000_000, clock=fake.clock, sleep=fake.sleep)
    for _ in range(10):
        await throttle.acquire(1_000_000)  # 10 MB
    assert 10_000_000 / fake.now == pytest.approx(20_000_000, rel=1e-6)


@pytest.mark.anyio
async def test_idle_time_refills_only_up_to_the_burst() -> None:
    fake = FakeTime()
    throttle = Throttle(1000, burst_bytes=500, clock=fake.clock, sleep=fake.sleep)
    fake.now += 3600  # a long pause does not bank an hour of tokens
    await throttle.acquire(500)
    assert fake.slept == []  # the burst it banked
    await throttle.acquire(500)
    assert fake.slept == [pytest.approx(0.5)]


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Throttle(0)


@pytest.mark.anyio
async def test_a_new_rate_applies_from_now_and_keeps_banked_tokens_up_to_its_burst() -> None:
    fake = FakeTime()
    throttle = Throttle(1_000_000, burst_bytes=100_000, clock=fake.clock, sleep=fake.sleep)
    await throttle.acquire(100_000)  # 0.1 s at 1 MB/s
    throttle.set_rate(500_000)  # a second worker joined: half the fleet's limit
    for _ in range(10):
        await throttle.acquire(100_000)
    assert fake.now == pytest.approx(2.1, rel=1e-6)  # then 1 MB at 0.5 MB/s
    fake.now += 10  # idle: banks at most one burst (100 kB)
    throttle.set_rate(1_000_000)
    waits = len(fake.slept)
    await throttle.acquire(100_000)  # the banked burst: no wait
    assert len(fake.slept) == waits
    await throttle.acquire(100_000)  # then the new rate: 0.1 s
    assert fake.slept[-1] == pytest.approx(0.1, rel=1e-6)
    with pytest.raises(ValueError, match="positive"):
        throttle.set_rate(0)
