"""The conformance suite every :class:`~vidlift.sources.base.Source` must pass (testing
kit).

Each check is an async function taking a fresh source holding known bytes (``data``) and
raises AssertionError when the source breaks the contract. Run them for an
implementation with pytest::

    @pytest.mark.anyio
    @pytest.mark.parametrize("check", SOURCE_CHECKS, ids=check_id)
    async def test_conformance(check, source_and_data):
        source, data = source_and_data
        await check(source, data)

No pytest import here: the checks are plain coroutines, usable by any runner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel

from vidlift.errors import VidliftError
from vidlift.protocol.ranges import ByteRange
from vidlift.sources.base import Source, SourceReader

__all__ = ["SOURCE_CHECKS", "SourceCheck", "check_id"]

SourceCheck = Callable[[Source, bytes], Awaitable[None]]
PIECE_BYTES = 16 * 1024


def check_id(check: SourceCheck) -> str:
    """A readable test id for a check."""
    return getattr(check, "__name__", repr(check)).removeprefix("check_")


async def _read(reader: SourceReader, start: int, end: int) -> bytes:
    pieces = [piece async for piece in reader.iter_range(ByteRange(start, end))]
    assert all(0 < len(piece) <= PIECE_BYTES for piece in pieces), "pieces too big or empty"
    return b"".join(pieces)


async def check_facts(source: Source, data: bytes) -> None:
    """Size and identity as inspected; a name and a filename to show."""
    assert source.size_bytes == len(data)
    assert source.identity and ":" in source.identity, source.identity
    assert source.name and source.filename and "?" not in source.name
    await source.check_unchanged()


async def check_ranges_in_order_hash_once(source: Source, data: bytes) -> None:
    """Ranges read in order give the bytes, in pieces, and the md5 without re-reading."""
    step = max(1, len(data) // 3)
    async with source.open(PIECE_BYTES) as reader:
        assert reader.hashing
        got = b"".join(
            [
                await _read(reader, s, min(s + step, len(data)) - 1)
                for s in range(0, len(data), step)
            ]
        )
        assert got == data
        assert await reader.md5_hexdigest() == hashlib.md5(data).hexdigest()
        assert reader.bytes_read <= 2 * len(data)  # local readers may count the hash pass


async def check_out_of_order_and_md5(source: Source, data: bytes) -> None:
    """A range from the middle first; the md5 is still the whole source's."""
    middle = len(data) // 2
    async with source.open(PIECE_BYTES) as reader:
        assert await _read(reader, middle, len(data) - 1) == data[middle:]
        assert await reader.md5_hexdigest() == hashlib.md5(data).hexdigest()


async def check_without_md5(source: Source, data: bytes) -> None:
    """A reader that does not hash says so and still reads."""
    async with source.open(PIECE_BYTES, hash_md5=False) as reader:
        assert not reader.hashing
        assert await _read(reader, 0, min(99, len(data) - 1)) == data[:100]


async def check_ranges_side_by_side(source: Source, data: bytes) -> None:
    """Several ranges of one reader read at the same time (v2's parts in flight), their
    pieces interleaved: each range gets its own bytes, and the md5 is the whole source's."""
    bounds = [
        (s, min(s + len(data) // 3, len(data)) - 1) for s in range(0, len(data), 1 + len(data) // 3)
    ]
    got: dict[int, bytes] = {}

    async def read(start: int, end: int) -> None:
        pieces = []
        async for piece in reader.iter_range(ByteRange(start, end)):
            assert 0 < len(piece) <= PIECE_BYTES, "pieces too big or empty"
            pieces.append(piece)
            await anyio.lowlevel.checkpoint()  # let the other ranges read in between
        got[start] = b"".join(pieces)

    async with source.open(PIECE_BYTES) as reader:
        async with anyio.create_task_group() as group:
            for start, end in bounds:
                group.start_soon(read, start, end)
        assert await reader.md5_hexdigest() == hashlib.md5(data).hexdigest()
    for start, end in bounds:
        assert got[start] == data[start : end + 1], f"range {start}-{end} got other bytes"


async def check_ranges_beyond_the_end_are_refused(source: Source, data: bytes) -> None:
    """Asking for bytes the source does not have is a bug, not a read."""
    async with source.open(PIECE_BYTES) as reader:
        try:
            await _read(reader, 0, len(data))
        except VidliftError:
            return
        raise AssertionError("a range beyond the end was read")


SOURCE_CHECKS: tuple[SourceCheck, ...] = (
    check_facts,
    check_ranges_in_order_hash_once,
    check_out_of_order_and_md5,
    check_without_md5,
    check_ranges_side_by_side,
    check_ranges_beyond_the_end_are_refused,
)
