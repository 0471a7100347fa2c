"""The emulator's seeded fault injector, its bandwidth throttle and its counters (part of
the public test kit, :mod:`vidlift.testing`).

One :class:`random.Random` seeded from the :class:`FaultPlan` decides every fault, so a
sequential client meets the same faults on every run (concurrent clients interleave their
draws in arrival order, so the faults may land on other requests). Each injected fault is
counted by :class:`FaultKind`.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from enum import StrEnum

from vidlift.testing.emulator.config import FaultPlan

__all__ = ["ChangeSignal", "FaultInjector", "FaultKind", "Tally", "Throttle"]


class FaultKind(StrEnum):
    """The kinds of injected faults, as counted by :meth:`FaultInjector.counts`."""

    DROP_MID_SEGMENT = "drop_mid_segment"
    LOST_ACK = "lost_ack"
    UPLOAD_503 = "upload_503"
    API_429 = "api_429"
    API_500 = "api_500"
    API_NONCE_REUSED = "api_nonce_reused"
    LATENCY = "latency"
    SLOW_ANSWER = "slow_answer"
    TRUNCATED_ANSWER = "truncated_answer"
    LOSE_SEGMENT = "lose_segment"
    FORGET_COMPLETED = "forget_completed"
    BANDWIDTH_WAIT = "bandwidth_wait"
    PART_DROP = "part_drop"
    PART_LOST_ANSWER = "part_lost_answer"
    PART_500 = "part_500"
    PART_503 = "part_503"
    PART_EXPIRED = "part_expired"
    V2_CREATE_LOST_ANSWER = "v2_create_lost_answer"
    V2_LIST_LOST_ANSWER = "v2_list_lost_answer"
    V2_COMPLETE_LOST_ANSWER = "v2_complete_lost_answer"
    V2_API_429 = "v2_api_429"
    V2_PROCESSING_FAILED = "v2_processing_failed"
    PROCESSING_FAILED = "processing_failed"  # v1


class ChangeSignal:
    """Wakes whoever waits for counters to reach a condition (tests, without sleeping)."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        """Something changed: wake every waiter so it checks its condition again."""
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds, checking it after every change."""
        while not condition():
            if self._event is None:
                self._event = asyncio.Event()
            await self._event.wait()


class Tally:
    """Named counters (request kinds, bytes)."""

    def __init__(self, signal: ChangeSignal | None = None) -> None:
        self._counts: Counter[str] = Counter()
        self._signal = signal

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name``."""
        self._counts[str(name)] += amount
        if self._signal is not None:
            self._signal.notify()

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter."""
        return dict(sorted(self._counts.items()))


class FaultInjector:
    """Decides, with a seeded generator, whether each fault fires; counts what fired."""

    def __init__(self, plan: FaultPlan, signal: ChangeSignal | None = None) -> None:
        self.plan = plan
        self._rng = random.Random(plan.seed)
        self._fired = Tally(signal)

    def fires(self, kind: FaultKind, probability: float) -> bool:
        """Draw once; True (and counted) when the fault fires. p=0 draws nothing."""
        if probability <= 0.0:
            return False
        if probability < 1.0 and self._rng.random() >= probability:
            return False
        self._fired.add(kind)
        return True

    def counts(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        return self._fired.snapshot()

    def note(self, kind: FaultKind) -> None:
        """Count a fault decided elsewhere (the bandwidth throttle)."""
        self._fired.add(kind)

    def latency_s(self) -> float:
        """Delay to add before handling a request (0 when no latency is configured)."""
        base, jitter = self.plan.latency_ms, self.plan.latency_jitter_ms
        if base <= 0 and jitter <= 0:
            return 0.0
        self._fired.add(FaultKind.LATENCY)
        return (base + (self._rng.uniform(0.0, jitter) if jitter > 0 else 0.0)) / 1000.0

    def slow_answer_s(self) -> float:
        """Delay to add before sending an answer (a slow server), or 0."""
        if self.fires(FaultKind.SLOW_ANSWER, self.plan.slow_answer_p):
            return self.plan.slow_answer_ms / 1000.0
        return 0.0

    def drop_point(self, length: int) -> int | None:
        """Drop the connection once more than this many bytes of a ``length``-byte segment
        arrived (None: no drop). The segment is never counted, even if it all arrived."""
        if self.fires(FaultKind.DROP_MID_SEGMENT, self.plan.drop_mid_segment_p):
            return self._rng.randrange(length)
        return None

    def cut_point(self, kind: FaultKind, probability: float, length: int) -> int | None:
        """Bytes of a ``length``-byte body to read before dropping the connection, when the
        fault ``kind`` fires (None: no drop)."""
        if self.fires(kind, probability):
            return self._rng.randrange(max(1, length))
        return None

    def truncation_point(self, length: int) -> int | None:
        """Bytes of a ``length``-byte answer body to send before closing, or None."""
        if length >= 2 and self.fires(FaultKind.TRUNCATED_ANSWER, self.plan.truncated_answer_p):
            return self._rng.randrange(1, length)
        return None


class Throttle:
    """A bandwidth cap shared by every upload of one server (a virtual-clock token bucket).

    Reading slower makes TCP push back on the client, as a slow link would.
    """

    def __init__(self, bytes_per_s: int, faults: FaultInjector) -> None:
        self._rate = float(bytes_per_s)
        self._faults = faults
        self._next_free = 0.0

    async def consume(self, nbytes: int) -> None:
        """Wait until ``nbytes`` more bytes fit under the cap."""
        now = asyncio.get_running_loop().time()
        start = max(now, self._next_free)
        self._next_free = start + nbytes / self._rate
        delay = self._next_free - now
        if delay > 0.001:
            self._faults.note(FaultKind.BANDWIDTH_WAIT)
            await asyncio.sleep(delay)
