"""API nonces: consecutive from a random start, so one client never repeats one."""

from __future__ import annotations

from vidlift.client.api import NonceSequence


def test_consecutive_values_wrap_at_nine_digits() -> None:
    nonces = NonceSequence(start=999_999_998)
    assert [nonces() for _ in range(4)] == [999_999_998, 999_999_999, 0, 1]


def test_no_repeat_within_a_long_batch() -> None:
    nonces = NonceSequence()
    drawn = [nonces() for _ in range(100_000)]
    assert len(set(drawn)) == len(drawn)
    assert all(0 <= n < 1_000_000_000 for n in drawn)


def test_two_clients_start_apart() -> None:
    starts = {NonceSequence()() for _ in range(20)}
    assert len(starts) > 1  # random starts, not a fixed one
