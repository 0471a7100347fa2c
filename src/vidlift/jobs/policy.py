"""The one decision table: what happens after each outcome (jobs layer).

Every failure of every request (an answer the platform refused, or an exception below
HTTP) reaches the job loop (:mod:`vidlift.jobs.job`) as a :class:`~vidlift.errors.VidliftError`
and is looked up ONCE in :data:`RULES`. The first matching row gives the verdict, whether
the failed call may have acted on the platform anyway (then a create is looked up before
it is sent again), and whether the platform asked us to slow down. The loop acts on it;
nothing else in vidlift retries, sleeps or decides (the bandwidth throttle aside).

Backoff is exponential with full jitter, capped. The random source and the clock are
injected.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from vidlift.config import RetrySettings
from vidlift.errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConnectError,
    JournalError,
    NonceReused,
    PartLinkRefused,
    PlatformUnreachable,
    PosterNotSet,
    ProcessingFailed,
    ProgrammingError,
    RangesShrank,
    RateLimited,
    RemoteProtocolError,
    SegmentRejected,
    SourceError,
    StillProcessing,
    TransportError,
    UploadGone,
    UploadServerBusy,
    VideoMissing,
    VidliftError,
)

__all__ = ["RULES", "Decision", "RetryPolicy", "Rule", "Verdict"]

RetryCallback = Callable[[VidliftError, float], None]


class Verdict(StrEnum):
    """What the job loop does after a failure."""

    RETRY = "retry"  # back off, then the same step again (an upload probes first)
    WAIT = "wait"  # the API quota is spent: wait for its reset, then the same step
    POLL = "poll"  # not ready yet (processing): ask again later, paced, not a failure
    RECONCILE = "reconcile"  # ask the platform what it holds before sending more
    RENEW = "renew"  # the upload is gone on the platform: open a new one, same video
    RECREATE = "recreate"  # the video is gone on the platform: create it again (once)
    GIVE_UP = "give_up"  # this job fails; the batch goes on
    STOP_BATCH = "stop_batch"  # nothing else can succeed either (credentials, journal)


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict, how long to wait before acting on it, and what the loop must know."""

    verdict: Verdict
    delay_s: float = 0.0
    may_have_acted: bool = True  # the failed call may have changed the platform
    slow_down: bool = False  # the platform is overloaded: fewer requests in flight


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table: an error class (and HTTP statuses, if they matter)."""

    kind: type[BaseException]
    verdict: Verdict
    statuses: frozenset[int] | None = None  # None: any status
    may_have_acted: bool = True
    slow_down: bool = False
    why: str = ""

    def matches(self, error: BaseException) -> bool:
        """True when ``error`` is of this row's class (and status)."""
        if not isinstance(error, self.kind):
            return False
        if self.statuses is None:
            return True
        return getattr(error, "http_status", None) in self.statuses


# Upload-server answers meaning "no such session" (expired, or replaced by an update).
SESSION_GONE = frozenset({404, 410})
# 4xx answers that are worth another try (PROTOCOL.md: 408/409/429; 425 Too Early).
TRANSIENT_4XX = frozenset({408, 409, 425, 429})
SERVER_ERRORS = frozenset(range(500, 600))

# First match wins: subclasses before their bases. A newcomer finds "what happens after
# error X" here and nowhere else.
RULES: tuple[Rule, ...] = (
    Rule(AuthError, Verdict.STOP_BATCH, may_have_acted=False, why="credentials refused"),
    Rule(NonceReused, Verdict.RETRY, may_have_acted=False, why="refused before acting"),
    Rule(RateLimited, Verdict.WAIT, may_have_acted=False, why="quota spent; did nothing"),
    Rule(VideoMissing, Verdict.RECREATE, may_have_acted=False, why="video deleted"),
    Rule(ConfigError, Verdict.STOP_BATCH, may_have_acted=False),
    Rule(JournalError, Verdict.STOP_BATCH),
    Rule(ProgrammingError, Verdict.STOP_BATCH, why="a bug (an illegal job move)"),
    Rule(PlatformUnreachable, Verdict.STOP_BATCH, may_have_acted=False, why="down too long"),
    Rule(StillProcessing, Verdict.POLL, may_have_acted=False, why="--wait-ready: not yet"),
    Rule(ProcessingFailed, Verdict.GIVE_UP, may_have_acted=False, why="the platform's verdict"),
    Rule(PosterNotSet, Verdict.GIVE_UP, may_have_acted=False, why="reported; the video is done"),
    Rule(RangesShrank, Verdict.RECONCILE, why="session completed or reset"),
    Rule(UploadGone, Verdict.RECONCILE, why="v2: upload completed or replaced"),
    Rule(PartLinkRefused, Verdict.RETRY, may_have_acted=False, why="v2: list parts again"),
    Rule(SegmentRejected, Verdict.RENEW, SESSION_GONE, why="upload session gone"),
    Rule(SegmentRejected, Verdict.RETRY, TRANSIENT_4XX, why="transient 4xx"),
    Rule(SegmentRejected, Verdict.GIVE_UP, why="refused for good"),
    Rule(SourceError, Verdict.GIVE_UP, may_have_acted=False),
    Rule(UploadServerBusy, Verdict.RETRY, frozenset({503}), slow_down=True, why="overloaded"),
    Rule(UploadServerBusy, Verdict.RETRY),
    Rule(ConnectError, Verdict.RETRY, may_have_acted=False, why="nothing was sent"),
    Rule(TransportError, Verdict.RETRY, why="answer lost: it may have acted"),
    Rule(RemoteProtocolError, Verdict.RETRY),
    Rule(ApiError, Verdict.RETRY, SERVER_ERRORS, why="the API's own failure"),
    Rule(ApiError, Verdict.GIVE_UP, why="the call itself is refused"),
    Rule(VidliftError, Verdict.GIVE_UP),
)

# A quota running out is not the job's fault: wait this many times longer before giving up.
RATE_LIMIT_PATIENCE = 10
# Processing takes minutes to hours: status checks (each after up to max_delay_s, 60 s by
# default) before a job waiting for it gives up: 10 x max_attempts (80: over an hour).
POLL_PATIENCE = 10


def rule_for(error: BaseException) -> Rule | None:
    """The first row of :data:`RULES` that matches ``error`` (None: not ours, a bug)."""
    for rule in RULES:
        if rule.matches(error):
            return rule
    return None


class RetryPolicy:
    """Decides per error from :data:`RULES`; gives up after ``max_attempts`` failures in
    a row."""

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

    def poll_delay_s(self, polls: int) -> float:
        """Status checks back off like retries, but never below half their ceiling
        (equal jitter): a poll that comes back at once only spends the API budget."""
        growth: float = 2.0 ** max(0, polls - 1)
        ceiling = min(self.settings.max_delay_s, self.settings.base_delay_s * growth)
        return ceiling * (0.5 + self._rand() / 2)

    def classify(self, error: BaseException) -> Verdict:
        """The verdict of the table for an error, ignoring attempt counts."""
        rule = rule_for(error)
        return rule.verdict if rule is not None else Verdict.STOP_BATCH

    def decide(self, error: BaseException, failures: int) -> Decision:
        """What to do after the ``failures``-th failure in a row."""
        rule = rule_for(error)
        if rule is None:
            return Decision(Verdict.STOP_BATCH)
        verdict = rule.verdict
        acted, slow = rule.may_have_acted, rule.slow_down
        if verdict is Verdict.RETRY and failures >= self.settings.max_attempts:
            return Decision(Verdict.GIVE_UP, may_have_acted=acted)
        if verdict is Verdict.POLL:
            if failures >= self.settings.max_attempts * POLL_PATIENCE:
                return Decision(Verdict.GIVE_UP, may_have_acted=acted)
            return Decision(verdict, self.poll_delay_s(failures), acted)
        if verdict is Verdict.WAIT:
            if failures >= self.settings.max_attempts * RATE_LIMIT_PATIENCE:
                return Decision(Verdict.GIVE_UP, may_have_acted=acted)
            return Decision(verdict, self._rate_limit_delay_s(error, failures), acted)
        if verdict is Verdict.RETRY:
            hint = getattr(error, "retry_after_s", None)
            delay = self.backoff_s(failures)
            return Decision(verdict, max(delay, float(hint)) if hint else delay, acted, slow)
        return Decision(verdict, may_have_acted=acted, slow_down=slow)

    def _rate_limit_delay_s(self, error: BaseException, failures: int) -> float:
        reset_at = getattr(error, "reset_at", None)
        if reset_at is not None:
            wait = float(reset_at) - self._clock()
            if 0 < wait <= self.settings.max_delay_s * 2:
                return wait + self._rand()  # a little jitter so waiters do not stampede
        return self.backoff_s(failures)
