"""A PostgreSQL schema of its own for a test, dropped afterwards (import the fixture).

The server is the one ``.ci/run`` starts: 127.0.0.1:5432, trust auth, user postgres,
database ``test`` (``VIDLIFT_TEST_POSTGRES`` names another). A test is skipped, with the
reason, only when that server cannot be reached.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

POSTGRES_URL = os.environ.get("VIDLIFT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


async def _connect() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL is unreachable at {POSTGRES_URL} ({exc}); .ci/run starts it")


@contextlib.asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """A journal URL whose schema is new; the schema is dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    conn = await _connect()
    await conn.close()
    try:
        yield f"{POSTGRES_URL}?schema={schema}"
    finally:
        conn = await _connect()
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A journal URL whose schema is new; the schema is dropped after the test."""
    async with fresh_schema() as url:
        yield url
