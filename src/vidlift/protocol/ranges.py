"""Byte ranges of the resumable protocol (protocol layer: pure, no I/O).

All ranges are *inclusive* at both ends, as on the wire (``bytes 0-99/1000`` is the
first 100 bytes). Python ints make everything exact beyond 4 GiB.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from vidlift.errors import LocalProtocolError, RangeHeaderError

__all__ = [
    "ByteRange",
    "RangeSet",
    "ReceivedRanges",
    "format_content_range",
    "parse_content_range",
    "parse_received_ranges",
]

_MAX_HEADER_CHARS = 64 * 1024
# ASCII digits and blanks only: ``\d`` and ``\s`` also match other scripts' characters.
_RANGE_ITEM = re.compile(
    r"[ \t]*([0-9]{1,20})[ \t]*-[ \t]*([0-9]{1,20})[ \t]*(?:/[ \t]*([0-9]{1,20})[ \t]*)?"
)
_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,20})-([0-9]{1,20})/([0-9]{1,20})")


@dataclass(frozen=True, slots=True, order=True)
class ByteRange:
    """Bytes ``start`` to ``end``, both included."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise LocalProtocolError(f"invalid byte range {self.start}-{self.end}")

    @property
    def length(self) -> int:
        """Number of bytes in the range."""
        return self.end - self.start + 1

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class RangeSet:
    """A normalized set of byte ranges: sorted, disjoint, adjacent ranges joined."""

    ranges: tuple[ByteRange, ...] = ()

    def __post_init__(self) -> None:
        # Every method relies on the normal form; RangeSet.of builds it from anything.
        previous: ByteRange | None = None
        for item in self.ranges:
            if not isinstance(item, ByteRange):
                raise LocalProtocolError(f"not a ByteRange: {item!r} (use RangeSet.of)")
            if previous is not None and item.start <= previous.end + 1:
                raise LocalProtocolError(
                    f"ranges {previous} and {item} are unsorted, overlapping or adjacent "
                    "(use RangeSet.of)"
                )
            previous = item

    @classmethod
    def of(cls, ranges: Iterable[ByteRange | tuple[int, int]]) -> RangeSet:
        """Normalize any ranges (overlapping, unsorted, adjacent) into a set."""
        items = sorted(r if isinstance(r, ByteRange) else ByteRange(*r) for r in ranges)
        merged: list[ByteRange] = []
        for item in items:
            if merged and item.start <= merged[-1].end + 1:
                last = merged[-1]
                merged[-1] = ByteRange(last.start, max(last.end, item.end))
            else:
                merged.append(item)
        return cls(tuple(merged))

    def __iter__(self) -> Iterator[ByteRange]:
        return iter(self.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.ranges)

    @property
    def byte_count(self) -> int:
        """Total number of bytes covered."""
        return sum(r.length for r in self.ranges)

    def union(self, other: RangeSet | Iterable[ByteRange]) -> RangeSet:
        """The bytes in either set."""
        return RangeSet.of([*self.ranges, *other])

    def covers(self, other: RangeSet) -> bool:
        """True when every byte of ``other`` is in this set (the "never shrinks" check)."""
        return self.union(other) == self

    def gaps(self, total: int) -> RangeSet:
        """The complement within ``0..total-1``: the bytes still missing."""
        missing: list[ByteRange] = []
        cursor = 0
        for r in self.ranges:
            if r.start >= total:
                break
            if r.start > cursor:
                missing.append(ByteRange(cursor, r.start - 1))
            cursor = max(cursor, r.end + 1)
        if cursor < total:
            missing.append(ByteRange(cursor, total - 1))
        return RangeSet(tuple(missing))

    def first_gap(self, total: int) -> ByteRange | None:
        """The first missing range below ``total``, or None when complete."""
        missing = self.gaps(total)
        return missing.ranges[0] if missing else None

    def is_complete(self, total: int) -> bool:
        """True when bytes ``0..total-1`` are all in the set."""
        return self.first_gap(total) is None

    def as_pairs(self) -> tuple[tuple[int, int], ...]:
        """The ranges as inclusive ``(start, end)`` pairs (for persistence)."""
        return tuple((r.start, r.end) for r in self.ranges)


@dataclass(frozen=True, slots=True)
class ReceivedRanges:
    """What the server says it holds: ranges and the file's total size."""

    ranges: RangeSet
    total: int


def parse_received_ranges(text: str) -> ReceivedRanges:
    """Parse a ``Range`` header or 201 body into ranges and total.

    Accepts the seed's ``0-52370332/96768273``, the nginx form where each range
    repeats the total (``0-9/40,20-29/40``) and ``0-9,20-29/40`` (../shared/PROTOCOL.md).

    Raises RangeHeaderError when the text is garbage, the totals disagree, or a
    range reaches beyond the total.
    """
    if len(text) > _MAX_HEADER_CHARS:
        raise RangeHeaderError(f"received-ranges answer too long ({len(text)} chars)")
    stripped = text.strip(" \t\r\n")  # ASCII blanks only, like the items
    if not stripped:
        raise RangeHeaderError("empty received-ranges answer")
    pairs: list[tuple[int, int]] = []
    totals: set[int] = set()
    for item in stripped.split(","):
        match = _RANGE_ITEM.fullmatch(item)
        if match is None:
            raise RangeHeaderError(f"cannot read received ranges {text[:200]!r}")
        start, end = int(match.group(1)), int(match.group(2))
        if end < start:
            raise RangeHeaderError(f"range {start}-{end} ends before it starts in {text[:200]!r}")
        pairs.append((start, end))
        if match.group(3) is not None:
            totals.add(int(match.group(3)))
    if len(totals) != 1:
        raise RangeHeaderError(f"received ranges need exactly one total: {text[:200]!r}")
    total = totals.pop()
    if any(end >= total for _, end in pairs):
        raise RangeHeaderError(f"received ranges reach beyond the total {total}: {text[:200]!r}")
    return ReceivedRanges(RangeSet.of(pairs), total)


def format_content_range(byte_range: ByteRange, total: int) -> str:
    """The ``X-Content-Range`` value for a segment: ``bytes a-b/T`` (end inclusive)."""
    if total <= 0 or byte_range.end >= total:
        raise LocalProtocolError(f"segment {byte_range} does not fit a file of {total} bytes")
    return f"bytes {byte_range.start}-{byte_range.end}/{total}"


def parse_content_range(value: str) -> tuple[ByteRange, int]:
    """Parse ``bytes a-b/T`` (as we send it) back into a range and total."""
    match = _CONTENT_RANGE.fullmatch(value.strip())
    if match is None:
        raise RangeHeaderError(f"not a content range: {value[:200]!r}")
    start, end, total = (int(g) for g in match.groups())
    if end < start or end >= total:
        raise RangeHeaderError(f"inconsistent content range: {value[:200]!r}")
    return ByteRange(start, end), total
