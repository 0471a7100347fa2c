"""How files are cut into v2 parts (pure)."""

from __future__ import annotations

import pytest

from vidlift.errors import ConfigError, LocalProtocolError
from vidlift.platforms.v2.plan import MAX_PARTS, MIN_PART_BYTES, PartPlan, plan_parts
from vidlift.protocol.ranges import ByteRange

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("size", "floor", "part", "count"),
    [
        (1, MIB, 1, 1),  # a tiny file: one direct PUT
        (5 * MIB, MIB, 5 * MIB, 1),
        (5 * MIB + 1, MIB, 5 * MIB, 2),
        (8 * MIB, 8 * MIB, 8 * MIB, 1),
        (100 * MIB, 8 * MIB, 8 * MIB, 13),
        (100 * MIB, 3 * MIB, 5 * MIB, 20),  # never under 5 MiB
        (7 * MIB + 5, 6 * MIB + 1, 7 * MIB, 2),  # whole MiB
    ],
)
def test_part_sizes(size: int, floor: int, part: int, count: int) -> None:
    plan = plan_parts(size, floor)
    assert (plan.part_bytes, plan.count) == (part, count)
    assert plan.direct == (count == 1)


def test_huge_files_stay_within_ten_thousand_parts() -> None:
    plan = plan_parts(200 * 1024**3, MIB)
    assert plan.count <= MAX_PARTS and plan.part_bytes >= MIN_PART_BYTES
    assert plan.byte_range(plan.count).end == 200 * 1024**3 - 1
    with pytest.raises(ConfigError):
        plan_parts(10_000 * 5 * 1024**3 + 1)


def test_ranges_and_parts_within() -> None:
    plan = PartPlan(25, 10)
    assert [plan.byte_range(n) for n in (1, 2, 3)] == [
        ByteRange(0, 9),
        ByteRange(10, 19),
        ByteRange(20, 24),
    ]
    assert list(plan.numbers_within(ByteRange(0, 19))) == [1, 2]
    assert list(plan.numbers_within(ByteRange(5, 24))) == [2, 3]
    assert list(plan.numbers_within(ByteRange(0, 8))) == []
    with pytest.raises(LocalProtocolError):
        plan.byte_range(4)
