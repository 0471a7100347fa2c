"""API pacing and upload-host backpressure (jobs layer).

:class:`ApiPacer` honours the API's quota (v1's ``rate_limit`` block, v2's rate headers)
and 429 answers: when the quota is spent, new API calls wait for its reset while uploads
in flight go on.
:class:`AdaptiveGate` lowers the number of segments in flight after a 503 from the
upload server and lets it grow back after a quiet period.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

from vidlift.protocol.models import RateLimit

__all__ = ["WINDOW_S", "AdaptiveGate", "ApiPacer"]

# Keep this many calls of the quota in reserve for reconciliation calls.
_RESERVE_CALLS = 1
_MAX_PAUSE_S = 120.0
_UNKNOWN_RESET_PAUSE_S = 5.0  # a 429 that says no reset time, in a window of unknown end
WINDOW_S = 60.0  # JW's quota window: 60 calls a minute per key or token


class ApiPacer:
    """Makes API calls wait while the quota is spent.

    Every answer states what is left of the window (``remaining``) and when it resets. A
    new call goes out only while the calls already in flight (sent, not answered: the
    server may not have counted them yet) fit in what is left, keeping ``_RESERVE_CALLS``
    in reserve; otherwise it waits for an answer or for the reset. After a reset the
    first call goes alone, and its answer tells the new window's budget. So 64 jobs in
    flight do not send 64 calls into a window with 10 left, to have 54 refused (429).

    An answer that states what is left but not when the window ends (v2's
    ``JW-Request-Remaining`` comes without a reset time) is paced all the same: a window is
    taken to end ``window_s`` after the first answer seen in it, which is never earlier
    than its real end (the call was counted before it was answered), and until then every
    answer counts as this window's, the smallest count winning: a larger one may be an
    earlier call's late answer, so taking it could overspend. If the real window rolled
    over sooner, the cost is a little idle time before the estimated end, never a 429.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        on_answer: Callable[[RateLimit | None], None] | None = None,
        *,
        window_s: float = WINDOW_S,
    ) -> None:
        self._clock = clock
        self._window_s = window_s
        self._resume_at = 0.0
        self._on_answer = on_answer
        self.pauses = 0
        self._in_flight = 0
        self._remaining: int | None = None  # left in the current window, None: unknown
        self._reset_at: float | None = None  # when the current window ends
        self._changed = anyio.Event()

    def observe(self, rate_limit: RateLimit | None) -> None:
        """Learn from an answer's rate_limit block."""
        if self._on_answer is not None:
            self._on_answer(rate_limit)
        if rate_limit is None or rate_limit.remaining is None:
            return
        given = rate_limit.reset
        reset = float(given) if given is not None else self._estimated_reset()
        if reset == self._reset_at and self._remaining is not None:
            # Answers can arrive out of order: the smallest is the latest count.
            self._remaining = min(self._remaining, rate_limit.remaining)
        else:
            self._reset_at, self._remaining = reset, rate_limit.remaining  # another window
        if rate_limit.remaining <= _RESERVE_CALLS:
            self._pause_until(reset)

    def _estimated_reset(self) -> float:
        """When the window of an answer without a reset time ends (see the class doc)."""
        now = self._clock()
        if self._reset_at is None or now >= self._reset_at or self._remaining is None:
            return now + self._window_s  # the first answer seen in a new window
        return self._reset_at  # the same window as far as can be known

    def call_ended(self) -> None:
        """A call that :meth:`wait_turn` let out ended (answered or not)."""
        self._in_flight = max(0, self._in_flight - 1)
        self._notify()

    def rate_limited(self, reset_at: float | None) -> None:
        """A 429 arrived: everyone waits until the reset (said, else the window's end as
        far as known, else a short while)."""
        if reset_at is None:
            now = self._clock()
            known = self._reset_at if self._reset_at is not None and self._reset_at > now else None
            reset_at = known if known is not None else now + _UNKNOWN_RESET_PAUSE_S
        self._pause_until(reset_at)

    def _pause_until(self, moment: float) -> None:
        moment = min(moment, self._clock() + _MAX_PAUSE_S)
        if moment > self._resume_at:
            self._resume_at = moment
            self.pauses += 1

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _budget_left(self, now: float) -> bool:
        """True when one more call fits in the window (see the class doc)."""
        if self._reset_at is not None and now >= self._reset_at:
            self._reset_at, self._remaining = None, None  # the window rolled over
        if self._remaining is None:
            return self._in_flight == 0  # unknown budget: one call asks for it
        return self._in_flight < self._remaining - _RESERVE_CALLS

    async def wait_turn(self) -> None:
        """Return when a new API call may go out (then call :meth:`call_ended`)."""
        # The deadline can move while we wait (another 429), hence the loop.
        while True:
            now = self._clock()
            if (delay := self._resume_at - now) > 0:
                await anyio.sleep(delay)
                continue
            if self._budget_left(now):
                self._in_flight += 1
                return
            until_reset = (self._reset_at or now) - now
            # Wait for an answer (it may leave room) or for the reset, whichever is first.
            with anyio.move_on_after(min(max(until_reset, 0.05), _MAX_PAUSE_S)):
                await self._changed.wait()


class AdaptiveGate:
    """A limit on segments in flight that halves on 503 and recovers one step per quiet period."""

    def __init__(
        self,
        limit: int,
        *,
        recover_after_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_limit = max(1, limit)
        self._limiter = anyio.CapacityLimiter(self.max_limit)
        self._recover_after_s = recover_after_s
        self._clock = clock
        self._last_change = clock()

    @property
    def limit(self) -> int:
        """The current number of segments allowed in flight."""
        return int(self._limiter.total_tokens)

    def overloaded(self) -> None:
        """The server said 503: halve the limit."""
        self._limiter.total_tokens = max(1, self.limit // 2)
        self._last_change = self._clock()

    def _maybe_recover(self) -> None:
        now = self._clock()
        if self.limit < self.max_limit and now - self._last_change >= self._recover_after_s:
            self._limiter.total_tokens = self.limit + 1
            self._last_change = now

    async def __aenter__(self) -> None:
        self._maybe_recover()
        await self._limiter.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._limiter.release()
