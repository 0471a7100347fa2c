"""A small batch through every fault at once, with a hand-written resuming client: the
emulator stays consistent (no handler errors, every file byte-identical in the end)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os

import aiohttp
import pytest

from tests.integration.emulator.wire import Reply, Upload, call, create, send
from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan

pytestmark = pytest.mark.anyio

CHAOS = FaultPlan(
    seed=5,
    drop_mid_segment_p=0.15,
    lost_ack_p=0.1,
    upload_503_p=0.1,
    api_429_p=0.1,
    api_500_p=0.05,
    truncated_answer_p=0.05,
    forget_completed=True,  # every completed session is forgotten: late answers meet 404s
    latency_jitter_ms=2.0,
)
SEGMENT = 1000


def _first_gap(ranges_text: str) -> int:
    """Start of the first missing byte, from an nginx Range answer."""
    position = 0
    for part in ranges_text.split(","):
        span = part.split("/")[0]
        first, last = (int(x) for x in span.split("-"))
        if first > position:
            break
        position = max(position, last + 1)
    return position


async def _attempt(coro: object) -> object:
    for _ in range(60):
        try:
            return await coro()  # type: ignore[operator]
        except (aiohttp.ClientError, AssertionError):
            continue
    raise AssertionError("no success in 60 attempts")


async def _video_ready(http: aiohttp.ClientSession, emu: Emulator, key: str) -> bool:
    status, doc = await call(http, emu, "show", video_key=key)
    return status == 200 and doc["video"]["status"] == "ready"


async def _upload(http: aiohttp.ClientSession, emu: Emulator, data: bytes, title: str) -> str:
    up = await _attempt(lambda: create(http, emu, title=title))
    assert isinstance(up, Upload)
    start = 0
    while True:
        last = min(start + SEGMENT, len(data)) - 1
        try:
            reply: Reply = await send(http, up, data, start, last)
        except aiohttp.ClientError:  # dropped or truncated: ask the platform, then probe
            if await _attempt(lambda: _video_ready(http, emu, up.video_key)):
                return up.video_key
            reply = await _attempt(lambda: send(http, up, data, 0, 0))  # type: ignore[assignment]
        if reply.status in (200, 303):
            return up.video_key
        if reply.status == 201:
            start = _first_gap(reply.text)
        else:
            assert reply.status == 503, reply


async def test_chaos_batch_ends_identical(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="aiohttp")
    files = [os.urandom(3000 + 97 * i) for i in range(12)]
    async with Emulator(EmulatorConfig(faults=CHAOS, fsync=False)) as emu:
        async with aiohttp.ClientSession() as http:
            keys = await asyncio.gather(
                *(_upload(http, emu, data, f"f{i}") for i, data in enumerate(files))
            )
        videos = {video.key: video for video in emu.videos()}
        for key, data in zip(keys, files, strict=True):
            assert videos[key].md5 == hashlib.md5(data).hexdigest()
        fired = emu.fault_counts()
    assert {"drop_mid_segment", "lost_ack", "upload_503", "forget_completed"} <= set(fired)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
