"""The quota a v2 answer states in its headers (JW's, or the emulator's with a reset)."""

from __future__ import annotations

from vidlift.platforms.v2.api import rate_limit_from
from vidlift.protocol.models import RateLimit


def test_jw_headers_state_a_count_and_no_reset() -> None:
    headers = {"jw-request-limit": "60", "jw-request-remaining": "45"}
    assert rate_limit_from(headers) == RateLimit(limit=60, remaining=45, reset=None)


def test_the_reset_is_read_when_sent_and_jw_counts_come_first() -> None:
    headers = {
        "jw-request-limit": "60",
        "jw-request-remaining": "3",
        "x-ratelimit-limit": "60",
        "x-ratelimit-remaining": "4",
        "x-ratelimit-reset": "1800000000",
    }
    assert rate_limit_from(headers) == RateLimit(limit=60, remaining=3, reset=1800000000)
    only_x = {k: v for k, v in headers.items() if k.startswith("x-")}
    assert rate_limit_from(only_x) == RateLimit(limit=60, remaining=4, reset=1800000000)


def test_no_count_or_an_unreadable_one_is_no_quota() -> None:
    assert rate_limit_from({}) is None
    assert rate_limit_from({"jw-request-limit": "60"}) is None
    assert rate_limit_from({"jw-request-remaining": "-1"}) is None
    assert rate_limit_from({"jw-request-remaining": " 7 "}) == RateLimit(remaining=7)
