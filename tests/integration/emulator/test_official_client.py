"""The public official client (jwplatform 2.2.2, v1) works against the emulator."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import aiohttp
import anyio
import pytest
from jwplatform.v1.client import Client

from tests.integration.emulator.wire import Upload, call, send
from vidlift.testing.emulator import Emulator

pytestmark = pytest.mark.anyio


async def test_official_client_creates_a_usable_upload(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    client = Client(
        emulator.api_key, emulator.api_secret, scheme="http", host="127.0.0.1", port=emulator.port
    )

    def create() -> dict[str, Any]:
        answer: dict[str, Any] = client.videos.create(
            upload_method="multipart", title="Official é client", **{"custom.legacy_id": "J-9"}
        )
        return answer

    doc = await anyio.to_thread.run_sync(create)
    assert doc["status"] == "ok"
    link = doc["link"]
    upload = Upload(
        doc["media"]["key"],
        f"{link['protocol']}://{link['address']}{link['path']}?api_format=json&key={link['query']['key']}",
        doc["session_id"],
        link["query"]["key"],
    )
    data = os.urandom(5000)
    assert (await send(http, upload, data, 0, 2499)).status == 201
    assert (await send(http, upload, data, 2500, 4999)).status == 200
    status, shown = await call(http, emulator, "show", video_key=upload.video_key)
    assert status == 200
    video = shown["video"]
    assert (video["title"], video["custom"]) == ("Official é client", {"legacy_id": "J-9"})
    assert video["md5"] == hashlib.md5(data).hexdigest()

    listed = await anyio.to_thread.run_sync(
        lambda: client.videos.list(**{"search:custom.legacy_id": "J-9"})
    )
    assert [v["key"] for v in listed["videos"]] == [upload.video_key]
    posted = await anyio.to_thread.run_sync(
        lambda: client.videos.show(http_method="POST", video_key=upload.video_key)
    )
    assert posted["video"]["status"] == "ready"
