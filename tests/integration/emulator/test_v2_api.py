"""The emulator's v2 API over loopback: Bearer auth, rate limit, create, show, list by
external_id, update, reupload, processing status, durability (docs/EMULATOR.md, "v2")."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.integration.emulator.v2kit import (
    MIB,
    auth,
    complete,
    create,
    inspect,
    list_parts,
    media_url,
    put,
)
from vidlift.testing.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.anyio


async def test_missing_or_wrong_bearer_is_401_json(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    for headers in ({}, auth("wrong-secret"), {"Authorization": "Basic abc"}):
        async with http.get(media_url(emulator), headers=headers) as response:
            assert response.status == 401
            body = await response.json()
            assert body["errors"][0]["code"] == "unauthorized"
            assert emulator.api_secret not in await response.text()


async def test_unknown_site_is_404(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    url = f"{emulator.endpoint}/v2/sites/othersite/media/"
    async with http.get(url, headers=auth(emulator.api_secret)) as response:
        assert response.status == 404
        assert (await response.json())["errors"][0]["code"] == "not_found"


async def test_the_real_platforms_rate_headers_state_no_reset(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    config = EmulatorConfig(data_dir=tmp_path, api_calls_per_minute=5, v2_reset_header=False)
    async with (
        Emulator(config) as emu,
        http.get(media_url(emu), headers=auth(emu.api_secret)) as response,
    ):
        assert response.headers["JW-Request-Limit"] == "5"
        assert response.headers["JW-Request-Remaining"] == "4"
        assert not any(name.lower().startswith("x-ratelimit") for name in response.headers)


async def test_rate_limit_headers_and_429(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    config = EmulatorConfig(data_dir=tmp_path, api_calls_per_minute=2)
    async with Emulator(config) as emu:
        created = await create(http, emu)  # the secret's first call
        async with http.get(media_url(emu), headers=auth(emu.api_secret)) as response:
            assert response.status == 200
            assert response.headers["X-RateLimit-Limit"] == "2"
            assert response.headers["X-RateLimit-Remaining"] == "0"
            assert int(response.headers["X-RateLimit-Reset"]) > 0
            assert response.headers["JW-Request-Limit"] == "2"
            assert response.headers["JW-Request-Remaining"] == "0"
        async with http.get(media_url(emu), headers=auth(emu.api_secret)) as response:
            assert response.status == 429
            assert response.headers["X-RateLimit-Remaining"] == "0"
            assert response.headers["JW-Request-Remaining"] == "0"
            assert (await response.json())["errors"][0]["code"] == "too_many_requests"
        # the upload token has a window of its own
        await list_parts(http, emu, created)
        await list_parts(http, emu, created)
        url = f"{emu.endpoint}/v2/uploads/{created['upload_id']}/parts"
        async with http.get(url, headers=auth(created["upload_token"])) as response:
            assert response.status == 429


async def test_create_multipart_and_direct(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    multipart = await create(http, emulator, external_id="job-1", tags=["a", "b"])
    assert multipart["status"] == "created"
    assert len(multipart["id"]) == 8 and multipart["upload_id"] and multipart["upload_token"]
    assert "upload_link" not in multipart
    assert multipart["metadata"]["external_id"] == "job-1"
    assert multipart["metadata"]["tags"] == ["a", "b"]
    direct = await create(http, emulator, method="direct")
    assert direct["upload_link"].startswith(f"{emulator.endpoint}/s3/jw-uploads/")
    assert "X-Amz-Signature=" in direct["upload_link"] and "X-Amz-Expires=" in direct["upload_link"]
    assert "upload_token" not in direct


@pytest.mark.parametrize(
    "body",
    [
        {"metadata": {"title": "x"}},
        {"upload": {"method": "fetch"}},
        {"upload": {"method": "ftp"}},
        {"upload": {"method": "direct"}, "metadata": {"tags": "notalist"}},
        {"upload": {"method": "direct"}, "metadata": {"custom_params": {"a": 1}}},
        {"upload": {"method": "direct"}, "metadata": {"colour": "red"}},
        {"upload": {"method": "direct"}, "extra": 1},
        ["not", "an", "object"],
    ],
)
async def test_create_refuses_bad_bodies(
    emulator: Emulator, http: aiohttp.ClientSession, body: object
) -> None:
    async with http.post(media_url(emulator), json=body, headers=auth(emulator.api_secret)) as r:
        assert r.status == 400
        assert (await r.json())["errors"][0]["code"] == "invalid_body"
    assert emulator.media() == []


async def test_show_list_by_external_id_and_patch(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    first = await create(http, emulator, external_id="row-7", custom_params={"k": "v"})
    await create(http, emulator, external_id="row-8")
    url = media_url(emulator)
    async with http.get(
        url, params={"q": "external_id:row-7"}, headers=auth(emulator.api_secret)
    ) as r:
        listing = await r.json()
    assert [m["id"] for m in listing["media"]] == [first["id"]]
    assert listing["total"] == 1
    async with http.get(url, params={"q": "title:x"}, headers=auth(emulator.api_secret)) as r:
        assert r.status == 400
    patch = {"metadata": {"title": "renamed", "description": "d"}}
    item = media_url(emulator, first["id"])
    async with http.patch(item, json=patch, headers=auth(emulator.api_secret)) as r:
        assert r.status == 200
    async with http.get(item, headers=auth(emulator.api_secret)) as r:
        shown = await r.json()
    assert shown["metadata"]["title"] == "renamed"
    assert shown["metadata"]["custom_params"] == {"k": "v"}
    assert shown["metadata"]["external_id"] == "row-7"
    async with http.get(media_url(emulator, "nosuchid"), headers=auth(emulator.api_secret)) as r:
        assert r.status == 404


async def test_status_created_processing_ready(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    config = EmulatorConfig(data_dir=tmp_path, processing_s=60.0, fsync=False)
    async with Emulator(config) as emu:
        created = await create(http, emu, method="direct")
        item = media_url(emu, created["id"])
        status, etag, _ = await put(http, created["upload_link"], b"v" * 4096)
        assert status == 200 and etag
        async with http.get(item, headers=auth(emu.api_secret)) as r:
            assert (await r.json())["status"] == "processing"
        emu.shift_clock(61.0)
        async with http.get(item, headers=auth(emu.api_secret)) as r:
            shown = await r.json()
        assert shown["status"] == "ready" and shown["error_message"] is None


async def test_short_media_fails_processing(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    created = await create(http, emulator, method="direct")
    status, _, _ = await put(http, created["upload_link"], b"tiny")
    assert status == 200
    emulator.shift_clock(1.0)
    async with http.get(media_url(emulator, created["id"]), headers=auth(emulator.api_secret)) as r:
        shown = await r.json()
    assert shown["status"] == "failed"
    assert "shorter than the 2 seconds" in shown["error_message"]


async def test_reupload_replaces_the_open_upload(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    created = await create(http, emulator)
    old_link = (await list_parts(http, emulator, created))[0]["upload_link"]
    url = media_url(emulator, created["id"]) + "reupload/"
    body = {"upload": {"method": "direct"}}
    async with http.put(url, json=body, headers=auth(emulator.api_secret)) as r:
        assert r.status == 200
        again = await r.json()
    assert again["id"] == created["id"] and "upload_link" in again
    status, _, text = await put(http, old_link, b"x" * 2048)
    assert status == 404 and "<Code>NoSuchUpload</Code>" in text
    assert (await put(http, again["upload_link"], b"y" * 2048))[0] == 200
    assert len(emulator.media()) == 1


async def test_state_survives_a_restart(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    config = EmulatorConfig(data_dir=tmp_path / "data", fsync=True)
    first_part = b"a" * (5 * MIB)
    async with Emulator(config) as emu:
        created = await create(http, emu, external_id="durable")
        parts = await list_parts(http, emu, created)
        assert (await put(http, parts[0]["upload_link"], first_part))[0] == 200
    async with Emulator(config) as emu:
        parts = await list_parts(http, emu, created)
        assert parts[0]["etag"] and "etag" not in parts[1]
        assert (await put(http, parts[1]["upload_link"], b"b" * 100))[0] == 200
        status, _ = await complete(http, emu, created)
        assert status == 200
        received = await inspect(http, emu, created["id"])
        assert received["size"] == 5 * MIB + 100
        async with http.get(
            media_url(emu), params={"q": "external_id:durable"}, headers=auth(emu.api_secret)
        ) as r:
            assert (await r.json())["total"] == 1


async def test_media_listing_sorts_and_pages(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    ids = []
    for _ in range(3):
        ids.append((await create(http, emulator, custom_params={"b": "one"}))["id"])
        emulator.shift_clock(1.0)  # distinct creation times
    await create(http, emulator, custom_params={"b": "two"})
    headers = auth(emulator.api_secret)

    async def listed(**params: str) -> list[str]:
        query = {"q": 'custom_params.b:"one"', **params}
        async with http.get(media_url(emulator), params=query, headers=headers) as r:
            assert r.status == 200, await r.text()
            return [m["id"] for m in (await r.json())["media"]]

    assert await listed(sort="created:asc", page_length="1000") == ids
    assert await listed(sort="created:dsc", page_length="1000") == ids[::-1]
    assert await listed(sort="created:dsc", page_length="2", page="2") == ids[:1]
    for bad in ("title:asc", "created:up"):
        query = {"sort": bad}
        async with http.get(media_url(emulator), params=query, headers=headers) as r:
            assert r.status == 400
            assert (await r.json())["errors"][0]["code"] == "invalid_sort_param"
