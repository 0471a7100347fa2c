"""Byte ranges: parsing every form the protocol uses, merging, gaps, formatting."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidlift.errors import LocalProtocolError, RangeHeaderError
from vidlift.protocol.ranges import (
    ByteRange,
    RangeSet,
    ReceivedRanges,
    format_content_range,
    parse_content_range,
    parse_received_ranges,
)

GiB = 1024**3
FIVE_GIB = 5 * GiB
TWENTY_FIVE_GB = 25 * 10**9


def rs(*pairs: tuple[int, int]) -> RangeSet:
    return RangeSet.of(pairs)


# --- parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pairs", "total"),
    [
        # the seed's single range
        ("0-52370332/96768273", ((0, 52370332),), 96768273),
        # nginx: each range repeats the total
        (
            "0-3495252/10485760,6990506-10485759/10485760",
            ((0, 3495252), (6990506, 10485759)),
            10485760,
        ),
        # one total at the end
        ("0-99,200-299/1000", ((0, 99), (200, 299)), 1000),
        # one byte
        ("0-0/10485760", ((0, 0),), 10485760),
        ("10485759-10485759/10485760", ((10485759, 10485759),), 10485760),
        # unsorted, overlapping and adjacent ranges are normalized
        ("20-29/40,0-9/40", ((0, 9), (20, 29)), 40),
        ("0-9/40,5-19/40", ((0, 19),), 40),
        ("0-9/40,10-19/40", ((0, 19),), 40),
        # whitespace around the text and around the numbers
        ("  0-9/40 \r\n", ((0, 9),), 40),
        ("0 - 9 / 40 , 20 - 29 / 40", ((0, 9), (20, 29)), 40),
        ("\t0-9/40", ((0, 9),), 40),
        # beyond 4 GiB
        (f"0-{FIVE_GIB - 2}/{FIVE_GIB}", ((0, FIVE_GIB - 2),), FIVE_GIB),
        (
            f"0-4294967295/{TWENTY_FIVE_GB},4294967297-{TWENTY_FIVE_GB - 1}/{TWENTY_FIVE_GB}",
            ((0, 4294967295), (4294967297, TWENTY_FIVE_GB - 1)),
            TWENTY_FIVE_GB,
        ),
    ],
)
def test_parse_received_ranges_accepts_every_form(
    text: str, pairs: tuple[tuple[int, int], ...], total: int
) -> None:
    received = parse_received_ranges(text)
    assert received == ReceivedRanges(RangeSet.of(pairs), total)
    assert received.ranges.as_pairs() == pairs


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "garbage",
        "0-9",  # no total at all
        "0-9,20-29",  # no total at all
        "0-9/40,20-29/41",  # mixed totals
        "0-9/40,20-29/40,30-31/80",
        "0-40/40",  # end == total
        "0-99/40",  # end > total
        "40-40/40",  # start == total
        "9-0/40",  # end before start
        "-1-9/40",
        "0-9/-40",
        "0-9/40,",  # empty item
        ",0-9/40",
        "0-9/40,,20-29/40",
        "bytes 0-9/40",  # the request form, not the answer form
        "0-9/0",
        "0x0-0x9/40",
        "0.0-9/40",
        "0-9/40/40",
        "0--9/40",
        "\u0660-\u0669/\u0664\u0660",  # Arabic-Indic digits: digits to \d, not on the wire
        "\U0001d7ce-\U0001d7d7/40",  # mathematical digits
        "0-9/\uff14\uff10",  # full-width digits
        "0-9/40\u00a0",  # a no-break space inside is not a blank
        "0\u2003-9/40",
        "0-9\n/40",  # a line break inside
        "1" * 21 + "-9/40",  # more digits than any file size has
        ",".join(["0-9/40"] * 20000),  # valid items, but absurdly long
    ],
)
def test_parse_received_ranges_refuses_garbage(text: str) -> None:
    with pytest.raises(RangeHeaderError):
        parse_received_ranges(text)


def test_parse_received_ranges_error_quotes_the_text() -> None:
    with pytest.raises(RangeHeaderError, match="0-9/40,20-29/41"):
        parse_received_ranges("0-9/40,20-29/41")


# --- RangeSet -------------------------------------------------------------------------


def test_rangeset_of_normalizes_and_accepts_tuples_and_byte_ranges() -> None:
    got = RangeSet.of([(30, 39), ByteRange(0, 9), (10, 12), (5, 7), (20, 25), (21, 22)])
    assert got.as_pairs() == ((0, 12), (20, 25), (30, 39))
    assert str(got) == "0-12,20-25,30-39"
    assert got.byte_count == 13 + 6 + 10


def test_rangeset_empty() -> None:
    empty = RangeSet()
    assert not empty
    assert empty.byte_count == 0
    assert str(empty) == ""
    assert list(empty) == []
    assert empty.gaps(10).as_pairs() == ((0, 9),)
    assert empty.first_gap(10) == ByteRange(0, 9)
    assert not empty.is_complete(10)
    assert RangeSet.of([]) == empty


def test_rangeset_constructor_refuses_a_set_that_is_not_normalized() -> None:
    with pytest.raises(LocalProtocolError):
        RangeSet((ByteRange(10, 19), ByteRange(0, 9)))  # unsorted
    with pytest.raises(LocalProtocolError):
        RangeSet((ByteRange(0, 9), ByteRange(5, 19)))  # overlapping
    with pytest.raises(LocalProtocolError):
        RangeSet((ByteRange(0, 9), ByteRange(10, 19)))  # adjacent
    with pytest.raises(LocalProtocolError):
        RangeSet(((0, 9),))  # type: ignore[arg-type]
    assert RangeSet((ByteRange(0, 9), ByteRange(11, 19))).byte_count == 19


def test_byte_range_validation_and_length() -> None:
    assert ByteRange(0, 0).length == 1
    assert ByteRange(0, FIVE_GIB - 1).length == FIVE_GIB
    assert str(ByteRange(3, 7)) == "3-7"
    with pytest.raises(LocalProtocolError):
        ByteRange(5, 4)
    with pytest.raises(LocalProtocolError):
        ByteRange(-1, 4)


def test_union_merges() -> None:
    assert rs((0, 9)).union(rs((20, 29))).as_pairs() == ((0, 9), (20, 29))
    assert rs((0, 9)).union(rs((10, 29))).as_pairs() == ((0, 29),)
    assert rs((0, 9), (20, 29)).union([ByteRange(5, 25)]).as_pairs() == ((0, 29),)
    assert rs((0, 9)).union(RangeSet()) == rs((0, 9))


def test_covers_is_the_never_shrinks_check() -> None:
    before = rs((0, 9), (20, 29))
    assert rs((0, 29)).covers(before)
    assert before.covers(before)
    assert before.covers(RangeSet())
    assert not rs((0, 9)).covers(before)
    assert not rs((0, 9), (21, 29)).covers(before)
    assert not RangeSet().covers(rs((0, 0)))


def test_gaps_and_first_gap() -> None:
    held = rs((0, 9), (20, 29))
    assert held.gaps(40).as_pairs() == ((10, 19), (30, 39))
    assert held.first_gap(40) == ByteRange(10, 19)
    assert rs((10, 39)).first_gap(40) == ByteRange(0, 9)
    assert rs((0, 38)).first_gap(40) == ByteRange(39, 39)
    assert rs((0, 39)).first_gap(40) is None
    assert rs((0, 39)).is_complete(40)
    assert not rs((0, 38)).is_complete(40)
    assert not rs((1, 39)).is_complete(40)
    # ranges beyond the total do not make the gap list wrong
    assert rs((0, 9), (50, 59)).gaps(40).as_pairs() == ((10, 39),)
    assert rs((0, 99)).gaps(40) == RangeSet()


def test_beyond_4_gib() -> None:
    held = rs((0, 2**32 - 1), (2**32 + 1, FIVE_GIB - 1))
    assert held.first_gap(FIVE_GIB) == ByteRange(2**32, 2**32)
    assert held.byte_count == FIVE_GIB - 1
    full = held.union([ByteRange(2**32, 2**32)])
    assert full.is_complete(FIVE_GIB)
    assert full.as_pairs() == ((0, FIVE_GIB - 1),)
    last = ByteRange(TWENTY_FIVE_GB - 8 * 2**20, TWENTY_FIVE_GB - 1)
    assert format_content_range(last, TWENTY_FIVE_GB) == (
        "bytes 24991611392-24999999999/25000000000"
    )


# --- Content-Range ---------------------------------------------------------------------


def test_format_content_range_is_end_inclusive() -> None:
    assert format_content_range(ByteRange(0, 1234566), 96768273) == "bytes 0-1234566/96768273"
    assert (
        format_content_range(ByteRange(96296226, 96768272), 96768273)
        == "bytes 96296226-96768272/96768273"
    )
    assert format_content_range(ByteRange(0, 0), 1) == "bytes 0-0/1"


@pytest.mark.parametrize(("start", "end", "total"), [(0, 10, 10), (0, 0, 0), (5, 9, 9)])
def test_format_content_range_refuses_a_range_outside_the_file(
    start: int, end: int, total: int
) -> None:
    with pytest.raises(LocalProtocolError):
        format_content_range(ByteRange(start, end), total)


def test_parse_content_range() -> None:
    assert parse_content_range("bytes 0-1234566/96768273") == (ByteRange(0, 1234566), 96768273)
    assert parse_content_range(" bytes 0-0/1 ") == (ByteRange(0, 0), 1)
    arabic = "bytes \u0660-\u0669/\u0661\u0660"
    for bad in ("0-9/10", "bytes 0-10/10", "bytes 9-0/10", "bytes a-b/c", arabic):
        with pytest.raises(RangeHeaderError):
            parse_content_range(bad)


# --- properties ---------------------------------------------------------------------

pairs_strategy = st.lists(
    st.tuples(st.integers(0, 10**12), st.integers(0, 10**6)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=12,
)
small_pairs = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 30)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=10,
)


@settings(max_examples=120, deadline=None)
@given(pairs_strategy)
def test_property_of_is_normalized_and_idempotent(pairs: list[tuple[int, int]]) -> None:
    got = RangeSet.of(pairs)
    items = got.ranges
    for left, right in itertools.pairwise(items):
        assert left.end + 1 < right.start  # sorted, disjoint, non-adjacent
    assert RangeSet.of(items) == got
    assert RangeSet.of(got.as_pairs()) == got
    # same bytes as the input, checked on the boundaries of every input range
    for start, end in pairs:
        assert got.covers(rs((start, end)))


@settings(max_examples=120, deadline=None)
@given(small_pairs)
def test_property_of_keeps_exactly_the_input_bytes(pairs: list[tuple[int, int]]) -> None:
    expected = {b for start, end in pairs for b in range(start, end + 1)}
    got = RangeSet.of(pairs)
    assert {b for r in got for b in range(r.start, r.end + 1)} == expected
    assert got.byte_count == len(expected)


@settings(max_examples=120, deadline=None)
@given(small_pairs, small_pairs)
def test_property_union_is_commutative_and_covers_both(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    left, right = RangeSet.of(a), RangeSet.of(b)
    assert left.union(right) == right.union(left)
    assert left.union(right).covers(left)
    assert left.union(right).covers(right)


@settings(max_examples=120, deadline=None)
@given(small_pairs, st.integers(1, 260))
def test_property_gaps_complement_the_set(pairs: list[tuple[int, int]], total: int) -> None:
    held = RangeSet.of(pairs)
    missing = held.gaps(total)
    whole = rs((0, total - 1))
    assert held.union(missing).covers(whole)
    # disjoint: no missing byte is held
    for gap in missing:
        assert gap.end < total
        for r in held:
            assert gap.end < r.start or r.end < gap.start
    assert held.is_complete(total) == (not missing)
    assert held.first_gap(total) == (missing.ranges[0] if missing else None)


@settings(max_examples=120, deadline=None)
@given(
    st.integers(1, 30 * 10**9).flatmap(
        lambda total: st.tuples(
            st.integers(0, total - 1).flatmap(
                lambda start: st.tuples(st.just(start), st.integers(start, total - 1))
            ),
            st.just(total),
        )
    )
)
def test_property_content_range_round_trip(case: tuple[tuple[int, int], int]) -> None:
    (start, end), total = case
    text = format_content_range(ByteRange(start, end), total)
    assert parse_content_range(text) == (ByteRange(start, end), total)
    # the answer form carries the same numbers
    received = parse_received_ranges(text.removeprefix("bytes "))
    assert received == ReceivedRanges(rs((start, end)), total)


@settings(max_examples=120, deadline=None)
@given(small_pairs.filter(bool), st.booleans())
def test_property_received_ranges_round_trip(pairs: list[tuple[int, int]], each: bool) -> None:
    held = RangeSet.of(pairs)
    total = held.ranges[-1].end + 1
    # the nginx form (each range repeats the total) or one total at the end
    text = ",".join(f"{r}/{total}" for r in held) if each else f"{held}/{total}"
    assert parse_received_ranges(text) == ReceivedRanges(held, total)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet="0123456789-/, \t\r\n"),
        st.text(alphabet="0123456789-/,", min_size=1, max_size=40),
    )
)
def test_property_parse_received_ranges_raises_only_range_header_error(text: str) -> None:
    try:
        received = parse_received_ranges(text)
    except RangeHeaderError:
        return
    assert received.total > 0
    assert all(r.end < received.total for r in received.ranges)
