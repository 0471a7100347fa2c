"""MemoryJournal passes the journal conformance suite."""

from collections.abc import AsyncIterator

import pytest

from vidlift.journal import MemoryJournal
from vidlift.testing.journal_conformance import CONFORMANCE_CHECKS, Check, check_id


@pytest.fixture
async def journal() -> AsyncIterator[MemoryJournal]:
    async with MemoryJournal() as journal:
        yield journal


@pytest.mark.anyio
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=check_id)
async def test_conformance(check: Check, journal: MemoryJournal) -> None:
    await check(journal)
