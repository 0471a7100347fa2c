"""Every journal backend passes the journal conformance suite: memory, SQLite on a real
file, PostgreSQL on the real server (a schema of its own per test, dropped after)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.postgres import fresh_schema
from vidlift.journal import MemoryJournal, SqliteJournal
from vidlift.journal.postgres import PostgresJournal
from vidlift.testing.journal_conformance import (
    CONFORMANCE_CHECKS,
    FLEET_CHECKS,
    Check,
    FleetJournal,
    check_id,
)

BACKENDS = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FleetJournal]:
    async with contextlib.AsyncExitStack() as stack:
        backend: FleetJournal
        if request.param == "memory":
            backend = MemoryJournal()
        elif request.param == "sqlite":
            backend = await SqliteJournal.open(tmp_path / "jobs.vidlift.sqlite")
        else:
            backend = await PostgresJournal.open(await stack.enter_async_context(fresh_schema()))
        stack.push_async_callback(backend.close)
        yield backend


@pytest.mark.anyio
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS + FLEET_CHECKS, ids=check_id)
async def test_conformance(check: Check, journal: FleetJournal) -> None:
    await check(journal)
