"""The one retry policy: what to do with each error class (jobs layer).

Every retry decision in vidlift is taken here, from one table. Backoff is exponential
with full jitter, capped. The random source and the clock are injected.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import anyio

from vidlift.config import RetrySettings
from vidlift.errors import (
    ApiError,
    AuthError,
    ConfigError,
    JournalError,
    NonceReused,
    ProgrammingError,
    RangesShrank,
    RateLimited,
    RemoteProtocolError,
    SegmentRejected,
    SourceError,
    TransportError,
    UploadServerBusy,
    VidliftError,
)

__all__ = ["Decision", "RetryPolicy", "Verdict", "call_with_retries"]

T = TypeVar("T")
RetryCallback = Callable[[VidliftError, float], None]


class Verdict(StrEnum):
    """What to do after an error."""

    RETRY = "retry"  # back off, then probe and resume
    WAIT = "wait"  # rate limited: wait for the quota to reset, then retry
    RECONCILE = "reconcile"  # ask the API what happened before sending more
    GIVE_UP = "give_up"  # this job fails; the batch goes on
    STOP_BATCH = "stop_batch"  # nothing else can succeed either (credentials, journal)


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict and how long to wait before acting on it."""

    verdict: Verdict
    delay_s: float = 0.0


# A quota running out is not the job's fault: wait this many times longer before giving up.
RATE_LIMIT_PATIENCE = 10

# First match wins: subclasses before their bases.
ERROR_VERDICTS: tuple[tuple[type[BaseException], Verdict], ...] = (
    (AuthError, Verdict.STOP_BATCH),
    (NonceReused, Verdict.RETRY),  # refused before acting: sign again with a new nonce
    (ConfigError, Verdict.STOP_BATCH),
    (JournalError, Verdict.STOP_BATCH),
    (ProgrammingError, Verdict.STOP_BATCH),  # a bug (an illegal job move): not the job's fault
    (RateLimited, Verdict.WAIT),
    (RangesShrank, Verdict.RECONCILE),
    (SegmentRejected, Verdict.GIVE_UP),
    (SourceError, Verdict.GIVE_UP),
    (UploadServerBusy, Verdict.RETRY),
    (TransportError, Verdict.RETRY),
    (RemoteProtocolError, Verdict.RETRY),
)


class RetryPolicy:
    """Decides per error class; gives up after ``max_attempts`` failures in a row."""

    def __init__(
        self,
        settings: RetrySettings | None = None,
        *,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or RetrySettings()
        self._rand = rand
        self._clock = clock

    def backoff_s(self, failures: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(failures-1))]."""
        growth: float = 2.0 ** max(0, failures - 1)
        ceiling = min(self.settings.max_delay_s, self.settings.base_delay_s * growth)
        return self._rand() * ceiling

    def classify(self, error: BaseException) -> Verdict:
        """The verdict of the table for an error, ignoring attempt counts."""
        for kind, verdict in ERROR_VERDICTS:
            if isinstance(error, kind):
                return verdict
        if isinstance(error, ApiError):  # any other code: the server's fault or the call's
            return Verdict.RETRY if error.http_status >= 500 else Verdict.GIVE_UP
        return Verdict.GIVE_UP if isinstance(error, VidliftError) else Verdict.STOP_BATCH

    def decide(self, error: BaseException, failures: int) -> Decision:
        """What to do after the ``failures``-th failure in a row."""
        verdict = self.classify(error)
        if verdict is Verdict.RETRY and failures >= self.settings.max_attempts:
            return Decision(Verdict.GIVE_UP)
        if verdict is Verdict.WAIT and failures >= self.settings.max_attempts * RATE_LIMIT_PATIENCE:
            return Decision(Verdict.GIVE_UP)
        if verdict is Verdict.WAIT:
            return Decision(verdict, self._rate_limit_delay_s(error, failures))
        if verdict is Verdict.RETRY:
            hint = getattr(error, "retry_after_s", None)
            delay = self.backoff_s(failures)
            return Decision(verdict, max(delay, float(hint)) if hint else delay)
        return Decision(verdict)

    def _rate_limit_delay_s(self, error: BaseException, failures: int) -> float:
        reset_at = getattr(error, "reset_at", None)
        if reset_at is not None:
            wait = float(reset_at) - self._clock()
            if 0 < wait <= self.settings.max_delay_s * 2:
                return wait + self._rand()  # a little jitter so waiters do not stampede
        return self.backoff_s(failures)


async def call_with_retries(
    policy: RetryPolicy,
    call: Callable[[], Awaitable[T]],
    *,
    on_retry: RetryCallback | None = None,
) -> T:
    """Run an idempotent call (videos/show, videos/list...) under the policy.

    Re-raises the last error when the policy says anything but RETRY or WAIT.
    """
    failures = 0
    while True:
        try:
            return await call()
        except VidliftError as exc:
            failures += 1
            decision = policy.decide(exc, failures)
            if decision.verdict not in (Verdict.RETRY, Verdict.WAIT):
                raise
            if on_retry is not None:
                on_retry(exc, decision.delay_s)
            await anyio.sleep(decision.delay_s)
