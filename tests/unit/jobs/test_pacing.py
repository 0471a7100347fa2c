"""API pacing (rate_limit, 429) and the 503 backpressure gate, on a fake clock."""

from __future__ import annotations

import anyio
import pytest

from vidlift.jobs.pacing import AdaptiveGate, ApiPacer
from vidlift.protocol.models import RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pacer_holds_calls_when_the_quota_is_spent() -> None:
    clock = Clock()
    pacer = ApiPacer(clock)
    pacer.observe(RateLimit(reset=1030, limit=60, remaining=10))
    assert pacer._resume_at <= clock.now  # plenty left: no pause
    pacer.observe(RateLimit(reset=1030, limit=60, remaining=1))
    assert pacer._resume_at == 1030
    assert pacer.pauses == 1


def test_pacer_waits_for_a_429_reset_but_not_forever() -> None:
    clock = Clock()
    pacer = ApiPacer(clock)
    pacer.rate_limited(reset_at=1010.0)
    assert pacer._resume_at == 1010.0
    pacer.rate_limited(reset_at=10_000_000.0)  # absurd reset: capped
    assert pacer._resume_at <= clock.now + 120
    later = ApiPacer(clock)
    later.rate_limited(reset_at=None)
    assert later._resume_at == clock.now + 5.0


@pytest.mark.anyio
async def test_wait_turn_returns_at_once_without_a_pause() -> None:
    pacer = ApiPacer()
    with anyio.fail_after(1):
        await pacer.wait_turn()


def test_gate_halves_on_503_and_recovers_step_by_step() -> None:
    clock = Clock()
    gate = AdaptiveGate(8, recover_after_s=10, clock=clock)
    gate.overloaded()
    assert gate.limit == 4
    gate.overloaded()
    gate.overloaded()
    gate.overloaded()
    assert gate.limit == 1  # never below one
    clock.now += 5
    gate._maybe_recover()
    assert gate.limit == 1  # not quiet long enough
    clock.now += 10
    gate._maybe_recover()
    assert gate.limit == 2
    for _ in range(20):
        clock.now += 10
        gate._maybe_recover()
    assert gate.limit == 8  # back to the configured maximum, not beyond


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_calls_in_flight_count_against_what_is_left() -> None:
    clock = Clock()
    pacer = ApiPacer(clock)
    with anyio.fail_after(1):
        await pacer.wait_turn()  # the budget is unknown: one call goes alone
    pacer.observe(RateLimit(reset=1030, limit=60, remaining=3))
    pacer.call_ended()
    with anyio.fail_after(1):
        await pacer.wait_turn()
        await pacer.wait_turn()  # 3 left, 1 in reserve: two may be in flight
    let_out: list[int] = []

    async def third() -> None:
        await pacer.wait_turn()
        let_out.append(1)

    async with anyio.create_task_group() as group:
        group.start_soon(third)
        await anyio.wait_all_tasks_blocked()
        assert let_out == []  # held: it would not fit in the window
        pacer.observe(RateLimit(reset=1030, limit=60, remaining=2))
        pacer.call_ended()  # one answered: 2 left, 1 in reserve, 1 still in flight
        await anyio.wait_all_tasks_blocked()
        assert let_out == []
        clock.now = 1031  # the window rolled over; the next call asks for the new budget
        pacer.call_ended()
        with anyio.fail_after(1):
            while not let_out:
                await anyio.wait_all_tasks_blocked()
    assert let_out == [1]


def test_answers_without_a_reset_time_are_paced_by_an_estimated_window() -> None:
    """v2's JW-Request-Remaining comes without a reset: the window is taken to end
    window_s after the first answer seen in it (never before its real end)."""
    clock = Clock()
    pacer = ApiPacer(clock, window_s=60.0)
    pacer.observe(RateLimit(limit=60, remaining=59))  # the first answer: a window opens
    assert pacer._reset_at == 1060.0 and pacer._resume_at <= clock.now
    clock.now = 1020.0
    pacer.observe(RateLimit(limit=60, remaining=30))  # the same window: its end stays
    assert pacer._reset_at == 1060.0 and pacer._remaining == 30
    pacer.observe(RateLimit(limit=60, remaining=50))  # a late answer of an earlier call
    assert pacer._reset_at == 1060.0 and pacer._remaining == 30
    pacer.observe(RateLimit(limit=60, remaining=1))  # spent: wait for the estimated end
    assert pacer._resume_at == 1060.0 and pacer.pauses == 1
    clock.now = 1070.0  # past the estimate: the next answer opens the next window
    pacer.observe(RateLimit(limit=60, remaining=58))
    assert pacer._reset_at == 1130.0 and pacer._remaining == 58
    clock.now = 1080.0
    pacer.observe(RateLimit(limit=60, remaining=10))
    pacer.observe(RateLimit(limit=60, remaining=59))  # never taken before the estimated end
    assert pacer._reset_at == 1130.0 and pacer._remaining == 10


def test_a_429_without_a_reset_waits_for_the_known_window_end() -> None:
    clock = Clock()
    pacer = ApiPacer(clock, window_s=60.0)
    pacer.observe(RateLimit(limit=60, remaining=20))
    clock.now = 1030.0
    pacer.rate_limited(reset_at=None)  # another client spent the rest of the window
    assert pacer._resume_at == 1060.0
