"""The emulator's v2 uploads over loopback: part links shaped like pre-signed S3 URLs,
ETags, paging, S3's completion rules, direct uploads (docs/EMULATOR.md, "v2")."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
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
    put,
    quoted_md5,
)
from vidlift.testing.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fast_emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(data_dir=tmp_path, fsync=False)) as emu:
        yield emu


async def test_multipart_upload_end_to_end(
    fast_emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    emu = fast_emulator
    created = await create(http, emu, external_id="e2e")
    parts = await list_parts(http, emu, created, page_length=3)
    assert [p["id"] for p in parts] == [1, 2, 3]
    assert all("etag" not in p for p in parts)
    one, two = bytes(range(256)) * (5 * MIB // 256), b"tail" * 1000
    status, etag, _ = await put(http, parts[1]["upload_link"], two)  # any order
    assert (status, etag) == (200, quoted_md5(two))
    status, etag, _ = await put(http, parts[0]["upload_link"], one)
    assert (status, etag) == (200, quoted_md5(one))
    listed = await list_parts(http, emu, created, page_length=3)
    assert listed[0]["etag"] == hashlib.md5(one).hexdigest()  # unquoted in the listing
    assert "etag" not in listed[2]
    status, answer = await complete(http, emu, created)
    assert status == 200 and answer["media_id"] == created["id"]
    received = await inspect(http, emu, created["id"])
    assert received["size"] == len(one) + len(two)
    assert received["md5"] == hashlib.md5(one + two).hexdigest()
    path = emu.media_file(created["id"])
    assert path is not None and path.read_bytes() == one + two


async def test_complete_twice_is_409_and_changes_nothing(
    fast_emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    created = await create(http, fast_emulator)
    parts = await list_parts(http, fast_emulator, created)
    assert (await put(http, parts[0]["upload_link"], b"z" * 3000))[0] == 200
    assert (await complete(http, fast_emulator, created))[0] == 200
    status, answer = await complete(http, fast_emulator, created)
    assert status == 409 and answer["errors"][0]["code"] == "upload_already_completed"
    assert (await inspect(http, fast_emulator, created["id"]))["size"] == 3000
    url = f"{fast_emulator.endpoint}/v2/uploads/{created['upload_id']}/parts"
    async with http.get(url, headers=auth(created["upload_token"])) as response:
        assert response.status == 404
    assert (await put(http, parts[0]["upload_link"], b"late"))[0] == 404


async def test_small_non_last_part_makes_complete_fail(
    fast_emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    created = await create(http, fast_emulator)
    parts = await list_parts(http, fast_emulator, created)
    await put(http, parts[0]["upload_link"], b"a" * 1000)
    await put(http, parts[1]["upload_link"], b"b" * 1000)
    status, answer = await complete(http, fast_emulator, created)
    assert status == 400
    assert "EntityTooSmall" in answer["errors"][0]["description"]
    assert (await inspect(http, fast_emulator, created["id"]))["status"] == "created"
    # the part can be sent again, larger; then complete succeeds
    await put(http, parts[0]["upload_link"], b"a" * (5 * MIB))
    assert (await complete(http, fast_emulator, created))[0] == 200


async def test_missing_part_or_no_part_makes_complete_fail(
    fast_emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    created = await create(http, fast_emulator)
    status, answer = await complete(http, fast_emulator, created)
    assert status == 400 and "no part" in answer["errors"][0]["description"]
    parts = await list_parts(http, fast_emulator, created)
    await put(http, parts[1]["upload_link"], b"b" * 1000)
    status, answer = await complete(http, fast_emulator, created)
    assert status == 400 and "part 1 was not uploaded" in answer["errors"][0]["description"]


async def test_parts_listing_pages(fast_emulator: Emulator, http: aiohttp.ClientSession) -> None:
    created = await create(http, fast_emulator)
    page = await list_parts(http, fast_emulator, created, page=2, page_length=3)
    assert [p["id"] for p in page] == [4, 5, 6]
    last = await list_parts(http, fast_emulator, created, page=10, page_length=1000)
    assert last[-1]["id"] == 10_000 and len(last) == 1000
    url = f"{fast_emulator.endpoint}/v2/uploads/{created['upload_id']}/parts"
    for params in ({"page": "11", "page_length": "1000"}, {"page_length": "1001"}, {"page": "0"}):
        async with http.get(url, params=params, headers=auth(created["upload_token"])) as r:
            assert r.status == 400


async def test_upload_routes_take_the_upload_token_only(
    fast_emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    created = await create(http, fast_emulator)
    base = f"{fast_emulator.endpoint}/v2/uploads/{created['upload_id']}"
    async with http.get(base + "/parts", headers=auth(fast_emulator.api_secret)) as r:
        assert r.status == 401
    async with http.put(base + "/complete", headers=auth("nope")) as r:
        assert r.status == 401
    async with http.get(
        f"{fast_emulator.endpoint}/v2/uploads/unknown/parts", headers=auth("x")
    ) as r:
        assert r.status == 404


async def test_tampered_and_expired_links_are_403_xml(
    fast_emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    created = await create(http, fast_emulator)
    link = (await list_parts(http, fast_emulator, created))[0]["upload_link"]
    for tampered in (
        link.replace("partNumber=1", "partNumber=2"),
        link.replace("X-Amz-Expires=3600", "X-Amz-Expires=99999"),
        link[:-2] + ("00" if not link.endswith("00") else "11"),
    ):
        status, _, text = await put(http, tampered, b"x")
        assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in text
    fast_emulator.shift_clock(3601.0)
    status, _, text = await put(http, link, b"x")
    assert status == 403 and "<Code>AccessDenied</Code>" in text
    assert "Request has expired" in text
    fresh = (await list_parts(http, fast_emulator, created))[0]["upload_link"]
    assert (await put(http, fresh, b"x"))[0] == 200


async def test_direct_upload_one_put(fast_emulator: Emulator, http: aiohttp.ClientSession) -> None:
    created = await create(http, fast_emulator, method="direct")
    data = b"direct" * 1000
    status, etag, _ = await put(http, created["upload_link"], data)
    assert (status, etag) == (200, quoted_md5(data))
    received = await inspect(http, fast_emulator, created["id"])
    assert received["size"] == len(data)
    assert received["md5"] == hashlib.md5(data).hexdigest()
    assert received["status"] in ("processing", "ready")
    status, _, text = await put(http, created["upload_link"], data)
    assert status == 404 and "NoSuchUpload" in text


async def test_put_without_content_length_is_411(
    fast_emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    created = await create(http, fast_emulator, method="direct")

    async def body() -> AsyncIterator[bytes]:
        yield b"chunked"

    async with http.put(created["upload_link"], data=body()) as response:
        assert response.status == 411
        assert "MissingContentLength" in await response.text()


async def test_discard_mode_keeps_sizes_and_etags_not_bytes(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with Emulator(EmulatorConfig(data_dir=tmp_path, fsync=False, discard=True)) as emu:
        created = await create(http, emu)
        parts = await list_parts(http, emu, created)
        one, two = b"1" * (5 * MIB), b"2" * 10
        assert (await put(http, parts[0]["upload_link"], one))[1] == quoted_md5(one)
        assert (await put(http, parts[1]["upload_link"], two))[0] == 200
        assert (await complete(http, emu, created))[0] == 200
        received = await inspect(http, emu, created["id"])
        assert (received["size"], received["md5"]) == (len(one) + len(two), None)
        assert emu.media_file(created["id"]) is None
        assert not any((tmp_path / "v2" / "uploads").rglob("*.part"))
