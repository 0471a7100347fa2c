"""The emulator's server-side fetch: v1 videos/create with ``download_url`` and v2
``upload.method: fetch`` download the file from a (loopback) origin in the background;
the video turns ready with the origin's bytes, or failed with the reason."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.integration.emulator.v2kit import auth, media_url
from tests.integration.emulator.wire import call
from vidlift.testing.emulator import Emulator
from vidlift.testing.origin import Origin

pytestmark = pytest.mark.anyio


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    async with Origin() as server:
        yield server


def _fetched(emu: Emulator, count: int) -> bool:
    counts = emu.request_counts()
    return counts.get("fetch_ok", 0) + counts.get("fetch_failed", 0) >= count


async def test_v1_create_with_download_url_fetches_the_file(
    emulator: Emulator, http: aiohttp.ClientSession, origin: Origin
) -> None:
    data = os.urandom(300_000)
    origin.add("a.mp4", data)
    status, doc = await call(http, emulator, "create", download_url=origin.url("a.mp4"))
    assert status == 200, doc
    assert "link" not in doc  # nothing to upload
    key = doc["media"]["key"]
    await emulator.wait_until(lambda: _fetched(emulator, 1))
    status, shown = await call(http, emulator, "show", video_key=key)
    assert shown["video"]["status"] == "ready"
    assert shown["video"]["md5"] == hashlib.md5(data).hexdigest()
    stored = emulator.video_file(key)
    assert stored is not None and stored.read_bytes() == data


async def test_v1_a_refused_fetch_fails_the_video_with_the_reason(
    emulator: Emulator, http: aiohttp.ClientSession, origin: Origin
) -> None:
    status, doc = await call(http, emulator, "create", download_url=origin.url("missing.mp4"))
    assert status == 200, doc
    await emulator.wait_until(lambda: _fetched(emulator, 1))
    _, shown = await call(http, emulator, "show", video_key=doc["media"]["key"])
    assert shown["video"]["status"] == "failed"
    assert shown["video"]["error"]["message"] == "fetch failed: HTTP 404"


async def test_only_loopback_urls_are_fetched(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, doc = await call(http, emulator, "create", download_url="http://example.com/a.mp4")
    assert status == 400 and "loopback" in doc["message"], doc
    body = {"upload": {"method": "fetch", "download_url": "ftp://127.0.0.1/a"}, "metadata": {}}
    async with http.post(media_url(emulator), json=body, headers=auth(emulator.api_secret)) as r:
        assert r.status == 400 and "http(s)" in await r.text()
    assert emulator.videos() == [] and emulator.media() == []


async def test_v2_fetch_media_turns_ready_with_the_origins_bytes(
    emulator: Emulator, http: aiohttp.ClientSession, origin: Origin
) -> None:
    data = os.urandom(250_000)
    origin.add("b.mp4", data)
    body = {
        "upload": {"method": "fetch", "download_url": origin.url("b.mp4", query="sig=1")},
        "metadata": {"title": "b"},
    }
    async with http.post(media_url(emulator), json=body, headers=auth(emulator.api_secret)) as r:
        assert r.status == 201, await r.text()
        created = await r.json()
    assert "upload_id" not in created and "upload_link" not in created
    await emulator.wait_until(lambda: _fetched(emulator, 1))
    [media] = emulator.media()
    assert media.md5 == hashlib.md5(data).hexdigest() and media.size == len(data)
