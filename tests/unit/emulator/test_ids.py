"""The emulator's ids: 8 or 40 alphanumerics, as the real platform's, and never alike."""

from __future__ import annotations

import string
from collections import Counter

from vidlift.testing.emulator.context import random_id

ALPHANUMERIC = set(string.ascii_letters + string.digits)


def test_length_and_alphabet() -> None:
    for length in (1, 8, 40, 300):
        ident = random_id(length)
        assert len(ident) == length
        assert set(ident) <= ALPHANUMERIC


def test_every_character_is_drawn_evenly_enough() -> None:
    counts = Counter("".join(random_id(40) for _ in range(2000)))  # 80,000 characters
    assert set(counts) == ALPHANUMERIC
    expected = 80_000 / 62
    assert all(0.8 * expected < n < 1.2 * expected for n in counts.values()), counts


def test_ids_do_not_repeat() -> None:
    assert len({random_id(8) for _ in range(10_000)}) == 10_000
