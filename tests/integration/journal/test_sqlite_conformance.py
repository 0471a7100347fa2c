"""SqliteJournal, on a real file, passes the journal conformance suite."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vidlift.journal import SqliteJournal
from vidlift.testing.journal_conformance import CONFORMANCE_CHECKS, Check, check_id


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[SqliteJournal]:
    async with await SqliteJournal.open(tmp_path / "jobs.vidlift.sqlite") as journal:
        yield journal


@pytest.mark.anyio
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=check_id)
async def test_conformance(check: Check, journal: SqliteJournal) -> None:
    await check(journal)
