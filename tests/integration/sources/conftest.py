"""Fixtures for source tests: the local origin, one aiohttp session, small files."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
