"""The one retry policy: a verdict per error class, bounded attempts, full jitter."""

from __future__ import annotations

import pytest

from vidlift.config import RetrySettings
from vidlift.errors import (
    AnswerParseError,
    ApiError,
    AuthError,
    ConnectionDropped,
    JournalError,
    NonceReused,
    ProcessingFailed,
    RangesShrank,
    RateLimited,
    RequestTimeout,
    SegmentRejected,
    SourceError,
    StillProcessing,
    UploadServerBusy,
    VerificationError,
)
from vidlift.jobs.policy import RetryPolicy, Verdict


def policy(rand: float = 1.0, now: float = 1000.0) -> RetryPolicy:
    return RetryPolicy(
        RetrySettings(max_attempts=4, base_delay_s=1.0, max_delay_s=8.0),
        rand=lambda: rand,
        clock=lambda: now,
    )


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (ConnectionDropped("x"), Verdict.RETRY),
        (RequestTimeout("x"), Verdict.RETRY),
        (UploadServerBusy("x", http_status=503), Verdict.RETRY),
        (AnswerParseError("x"), Verdict.RETRY),
        (ApiError(http_status=500, code="InternalError", message="x"), Verdict.RETRY),
        (ApiError(http_status=404, code="NotFound", message="x"), Verdict.GIVE_UP),
        (AuthError(http_status=403, code="PermissionDenied", message="x"), Verdict.STOP_BATCH),
        (NonceReused(http_status=400, code="NonceInvalid", message="x"), Verdict.RETRY),
        (RateLimited(http_status=429, code="RateLimitExceeded", message="x"), Verdict.WAIT),
        (RangesShrank("x"), Verdict.RECONCILE),
        (SegmentRejected("x", http_status=416), Verdict.GIVE_UP),
        (SourceError("p", "gone"), Verdict.GIVE_UP),
        (VerificationError("x"), Verdict.GIVE_UP),
        (JournalError("x"), Verdict.STOP_BATCH),
        (StillProcessing("K", "processing"), Verdict.POLL),
        (ProcessingFailed("K", "failed", "too short"), Verdict.GIVE_UP),
        (RuntimeError("bug"), Verdict.STOP_BATCH),
    ],
)
def test_verdict_per_error_class(error: Exception, verdict: Verdict) -> None:
    assert policy().classify(error) is verdict


def test_retries_are_bounded() -> None:
    p = policy()
    assert p.decide(ConnectionDropped("x"), 3).verdict is Verdict.RETRY
    assert p.decide(ConnectionDropped("x"), 4).verdict is Verdict.GIVE_UP


def test_backoff_is_full_jitter_and_capped() -> None:
    assert policy(rand=1.0).backoff_s(1) == 1.0
    assert policy(rand=1.0).backoff_s(3) == 4.0
    assert policy(rand=1.0).backoff_s(10) == 8.0  # capped
    assert policy(rand=0.25).backoff_s(3) == 1.0
    assert policy(rand=0.0).backoff_s(3) == 0.0


def test_rate_limit_waits_for_the_reset() -> None:
    error = RateLimited(reset_at=1005.0, http_status=429, code="RateLimitExceeded", message="x")
    decision = policy(rand=0.5, now=1000.0).decide(error, 1)
    assert decision.verdict is Verdict.WAIT
    assert decision.delay_s == pytest.approx(5.5)


def test_retry_after_hint_is_honoured() -> None:
    busy = UploadServerBusy("x", http_status=503, retry_after_s=7.0)
    assert policy(rand=0.1).decide(busy, 1).delay_s == 7.0


def test_processing_polls_back_off_with_equal_jitter_and_are_bounded() -> None:
    """--wait-ready: a status check comes back after at least half its ceiling (never at
    once), the ceiling doubles up to max_delay_s, and patience runs out after 10 x the
    attempts."""
    waiting = StillProcessing("K", "processing")
    assert policy(rand=0.0).decide(waiting, 1).delay_s == 0.5
    assert policy(rand=1.0).decide(waiting, 3).delay_s == 4.0
    assert policy(rand=0.0).decide(waiting, 30).delay_s == 4.0  # half the 8 s cap
    decision = policy().decide(waiting, 39)
    assert decision.verdict is Verdict.POLL and not decision.may_have_acted
    assert policy().decide(waiting, 40).verdict is Verdict.GIVE_UP
    failed = ProcessingFailed("K", "failed", "Media is too short")
    assert str(failed) == "the platform failed to process video K: Media is too short"
