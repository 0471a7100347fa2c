"""Fixtures for source tests: the local origin, one aiohttp session, small files."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from vidlift.testing.origin import Origin

KiB = 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    async with Origin() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        yield client


@pytest.fixture
def payload() -> bytes:
    """200 KiB of random bytes: several pieces of 16 KiB, several ranges of 64 KiB."""
    return os.urandom(200 * KiB)
