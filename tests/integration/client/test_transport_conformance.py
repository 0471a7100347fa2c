"""Both transports pass the transport conformance suite against a raw loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vidlift.client.aiohttp_transport import AiohttpTransport
from vidlift.client.h11_transport import H11Transport
from vidlift.client.transport import Transport
from vidlift.testing.transport_conformance import (
    TRANSPORT_CHECKS,
    ConformanceServer,
    TransportCheck,
    check_id,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["aiohttp", "h11"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    made: AiohttpTransport | H11Transport = (
        AiohttpTransport() if request.param == "aiohttp" else H11Transport()
    )
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture
async def server() -> AsyncIterator[ConformanceServer]:
    async with ConformanceServer() as running:
        yield running


@pytest.mark.parametrize("check", TRANSPORT_CHECKS, ids=check_id)
async def test_conformance(
    check: TransportCheck, transport: Transport, server: ConformanceServer
) -> None:
    await check(transport, server)
