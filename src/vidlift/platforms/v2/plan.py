"""How a file is cut into v2 parts (platforms layer; pure: no I/O, no clock).

S3's rules, which JW's v2 uploads inherit: every part but the last holds at least 5 MiB, an
upload has at most 10,000 parts, a single PUT (part or direct upload) at most 5 GiB. The
part size grows with the file so the count stays within 10,000; ``floor_bytes`` (the
``chunk_size`` setting) raises it. A file that fits in one part goes up as a direct upload.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidlift.errors import ConfigError, LocalProtocolError
from vidlift.protocol.ranges import ByteRange

__all__ = ["MAX_PARTS", "MAX_PUT_BYTES", "MIN_PART_BYTES", "PartPlan", "plan_parts"]

MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000
MAX_PUT_BYTES = 5 * 1024**3
_ALIGN = 1024 * 1024  # part sizes are whole MiB: easy to read in logs


@dataclass(frozen=True, slots=True)
class PartPlan:
    """``size_bytes`` cut into ``count`` parts of ``part_bytes`` (the last may be shorter)."""

    size_bytes: int
    part_bytes: int

    def __post_init__(self) -> None:
        if self.size_bytes < 1 or self.part_bytes < 1:
            raise LocalProtocolError("a part plan needs a non-empty file and part size")

    @property
    def count(self) -> int:
        """Number of parts."""
        return -(-self.size_bytes // self.part_bytes)

    @property
    def direct(self) -> bool:
        """True when the whole file is one PUT (a direct upload)."""
        return self.count == 1

    def byte_range(self, number: int) -> ByteRange:
        """Bytes of part ``number`` (1-based)."""
        if not 1 <= number <= self.count:
            raise LocalProtocolError(f"part {number} is outside 1..{self.count}")
        start = (number - 1) * self.part_bytes
        return ByteRange(start, min(start + self.part_bytes, self.size_bytes) - 1)

    def numbers_within(self, acked: ByteRange) -> range:
        """Parts wholly inside ``acked`` (a part is done only as a whole)."""
        first = -(-acked.start // self.part_bytes) + 1
        last = (
            self.count if acked.end >= self.size_bytes - 1 else (acked.end + 1) // self.part_bytes
        )
        return range(first, last + 1)


def plan_parts(size_bytes: int, floor_bytes: int = MIN_PART_BYTES) -> PartPlan:
    """The plan for a file: parts of ``max(floor, 5 MiB, size / 10,000)`` bytes, rounded up
    to a whole MiB. Raises ConfigError for files the v2 API cannot take."""
    if size_bytes < 1:
        raise LocalProtocolError("cannot plan parts of an empty file")
    part = max(floor_bytes, MIN_PART_BYTES, -(-size_bytes // MAX_PARTS))
    part = -(-part // _ALIGN) * _ALIGN
    if size_bytes <= part and size_bytes <= MAX_PUT_BYTES:
        return PartPlan(size_bytes, size_bytes)  # one direct PUT
    part = min(part, MAX_PUT_BYTES)
    plan = PartPlan(size_bytes, part)
    if plan.count > MAX_PARTS:
        raise ConfigError(f"a file of {size_bytes} bytes needs more than {MAX_PARTS} parts")
    return plan
