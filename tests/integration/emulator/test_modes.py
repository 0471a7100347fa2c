"""Benchmark modes (discard, no checksums, no fsync) and the 303 redirect option."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import aiohttp
import pytest

from tests.integration.emulator.wire import create, on_port, send
from vidlift.testing.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.anyio


async def test_discard_mode_keeps_size_and_checksums_not_bytes(tmp_path: Path) -> None:
    data = os.urandom(4000)
    config = EmulatorConfig(data_dir=tmp_path / "d", discard=True)
    async with Emulator(config) as emu, aiohttp.ClientSession() as http:
        in_order = await create(http, emu, title="in order")
        for first in range(0, 4000, 1000):
            await send(http, in_order, data, first, first + 999)
        shuffled = await create(http, emu, title="shuffled")
        for first in (3000, 0, 2000, 1000):
            await send(http, shuffled, data, first, first + 999)
        for video in emu.videos():
            assert (video.status, video.size) == ("ready", 4000)
            assert video.md5 == hashlib.md5(data).hexdigest()
            assert video.sha256 == hashlib.sha256(data).hexdigest()
            assert emu.video_file(video.key) is None
        leftovers = [p for p in (tmp_path / "d").rglob("*") if p.is_file() and p.suffix != ".json"]
        assert leftovers == []


async def test_discard_mode_after_a_restart_reports_no_checksum(tmp_path: Path) -> None:
    data = os.urandom(2000)
    config = EmulatorConfig(data_dir=tmp_path / "d", discard=True)
    async with aiohttp.ClientSession() as http:
        async with Emulator(config) as first:
            up = await create(http, first)
            await send(http, up, data, 0, 999)
        async with Emulator(config) as second:
            moved = on_port(up, second.port)
            assert (await send(http, moved, data, 1000, 1999)).status == 200
            video = second.videos()[0]
            assert (video.size, video.md5) == (2000, None)


async def test_checksums_off(tmp_path: Path) -> None:
    config = EmulatorConfig(checksums=False, fsync=False)
    async with Emulator(config) as emu, aiohttp.ClientSession() as http:
        up = await create(http, emu)
        assert (await send(http, up, b"abcdef", 0, 5)).status == 200
        video = emu.videos()[0]
        assert (video.size, video.md5, video.sha256) == (6, None, None)
        path = emu.video_file(up.video_key)
        assert path is not None and path.read_bytes() == b"abcdef"


async def test_redirect_with_3xx_answers_303_with_location() -> None:
    config = EmulatorConfig(redirect_with_3xx=True)
    async with Emulator(config) as emu, aiohttp.ClientSession() as http:
        up = await create(http, emu)
        query = "&redirect_address=http://example.com/done&redirect_query.a=1"
        headers = {
            "X-Content-Range": "bytes 0-2/3",
            "X-Session-ID": up.session_id,
            "Content-Disposition": "attachment",
            "Content-Type": "video/mp4",
        }
        async with http.post(
            up.url + query, data=b"abc", headers=headers, allow_redirects=False
        ) as r:
            assert r.status == 303
            assert r.headers["Location"] == f"http://example.com/done?a=1&video_key={up.video_key}"
            assert (await r.json())["file"] == {"size": 3}
