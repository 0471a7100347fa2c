"""Byte ranges as the emulator's upload server sees them (part of the public test kit,
:mod:`vidlift.testing`).

The emulator's own code, apart from :mod:`vidlift.protocol` on purpose. Ranges are
``(first, last)`` pairs, end inclusive, as in ``X-Content-Range: bytes first-last/total``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ByteRange",
    "SegmentRange",
    "covers",
    "format_received",
    "merge_range",
    "overlaps",
    "parse_segment_range",
]

ByteRange = tuple[int, int]

# The nginx upload module accepts only this exact form (../shared/PROTOCOL.md, "Rejections").
_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,20})-([0-9]{1,20})/([0-9]{1,20})")


@dataclass(frozen=True, slots=True)
class SegmentRange:
    """The range one segment request claims to carry."""

    first: int
    last: int
    total: int

    @property
    def length(self) -> int:
        """Number of bytes in the segment."""
        return self.last - self.first + 1


def parse_segment_range(header: str) -> SegmentRange | None:
    """Parse ``bytes a-b/T``; None when malformed, start after end, or end at/after total."""
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last, total = (int(part) for part in match.groups())
    if first > last or last >= total:
        return None
    return SegmentRange(first, last, total)


def merge_range(ranges: Sequence[ByteRange], new: ByteRange) -> list[ByteRange]:
    """Return the sorted union of ``ranges`` and ``new``; touching ranges are joined."""
    merged: list[ByteRange] = []
    first, last = new
    placed = False
    for lo, hi in ranges:
        if hi + 1 < first:
            merged.append((lo, hi))
        elif last + 1 < lo:
            if not placed:
                merged.append((first, last))
                placed = True
            merged.append((lo, hi))
        else:
            first, last = min(first, lo), max(last, hi)
    if not placed:
        merged.append((first, last))
    return merged


def covers(ranges: Sequence[ByteRange], total: int) -> bool:
    """True when ``ranges`` (merged) hold every byte of a ``total``-byte file."""
    return len(ranges) == 1 and ranges[0] == (0, total - 1)


def overlaps(ranges: Iterable[ByteRange], candidate: ByteRange) -> bool:
    """True when ``candidate`` shares at least one byte with any of ``ranges``."""
    first, last = candidate
    return any(lo <= last and first <= hi for lo, hi in ranges)


def format_received(ranges: Sequence[ByteRange], total: int) -> str:
    """The nginx form of the received ranges: ``a-b/T,c-d/T`` (each repeats the total)."""
    return ",".join(f"{lo}-{hi}/{total}" for lo, hi in ranges)
