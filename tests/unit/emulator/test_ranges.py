"""The emulator's own range arithmetic, against a set-of-bytes model."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vidlift.testing.emulator.ranges import (
    SegmentRange,
    covers,
    format_received,
    merge_range,
    overlaps,
    parse_segment_range,
)

pairs = st.tuples(st.integers(0, 60), st.integers(0, 20)).map(lambda p: (p[0], p[0] + p[1]))


@given(st.lists(pairs, max_size=12))
def test_merge_matches_a_set_model(segments: list[tuple[int, int]]) -> None:
    ranges: list[tuple[int, int]] = []
    model: set[int] = set()
    for first, last in segments:
        ranges = merge_range(ranges, (first, last))
        model |= set(range(first, last + 1))
    assert {b for lo, hi in ranges for b in range(lo, hi + 1)} == model
    assert all(hi + 1 < lo2 for (_, hi), (lo2, _) in itertools.pairwise(ranges))
    assert covers(ranges, 81) == (model == set(range(81)))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes 0-9/10", SegmentRange(0, 9, 10)),
        ("bytes 0-0/1", SegmentRange(0, 0, 1)),
        (
            "bytes 5000000000-5000000009/6000000000",
            SegmentRange(5_000_000_000, 5_000_000_009, 6_000_000_000),
        ),
        ("bytes 9-8/10", None),
        ("bytes 0-10/10", None),
        ("0-9/10", None),
        ("bytes 0-9/*", None),
        ("bytes -1-9/10", None),
        ("", None),
    ],
)
def test_parse_segment_range(header: str, expected: SegmentRange | None) -> None:
    assert parse_segment_range(header) == expected


def test_format_and_overlap() -> None:
    assert format_received([(0, 9), (20, 29)], 40) == "0-9/40,20-29/40"
    assert overlaps([(0, 9)], (9, 12))
    assert not overlaps([(0, 9)], (10, 12))
