"""A token bucket shared by all uploads: ``--bwlimit`` (client layer).

The only place below the jobs layer that waits on the clock.

The bucket starts empty: a process that starts with a burst in hand would send it over
the limit, and users who script one ``vidlift upload --bwlimit`` per file start one
process per file (a 10 MB file at ``--bwlimit 20M`` went at 40 MB/s: a quarter second's
burst free, the rest at the limit). So the bytes sent by any moment never exceed the
limit's share of the time since the start by more than the piece in hand; only idle time
banks a burst, for what follows it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio

__all__ = ["Throttle"]


class Throttle:
    """Allows ``rate_bytes_per_s`` on average, with bursts up to ``burst_bytes`` banked
    while idle (none at the start)."""

    def __init__(
        self,
        rate_bytes_per_s: int,
        *,
        burst_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if rate_bytes_per_s <= 0:
            raise ValueError("rate must be positive")
        self._fixed_burst = burst_bytes
        self.rate = self.burst = 0.0
        self._set(rate_bytes_per_s)
        self._tokens = 0.0  # nothing banked yet: see the module's doc
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = anyio.Lock()

    def _set(self, rate_bytes_per_s: int) -> None:
        self.rate = float(rate_bytes_per_s)
        self.burst = float(self._fixed_burst or max(rate_bytes_per_s // 4, 64 * 1024))

    def set_rate(self, rate_bytes_per_s: int) -> None:
        """Change the rate from now on (a fleet worker's share of a fleet-wide limit);
        tokens already banked are kept up to the new burst."""
        if rate_bytes_per_s <= 0:
            raise ValueError("rate must be positive")
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._set(rate_bytes_per_s)
        self._tokens = min(self._tokens, self.burst)

    async def acquire(self, n_bytes: int) -> None:
        """Wait until ``n_bytes`` may be sent. Requests are served in arrival order."""
        async with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= n_bytes
            if self._tokens < 0:
                await self._sleep(-self._tokens / self.rate)
