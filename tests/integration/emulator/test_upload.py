"""The upload route, request by request: ranges, probes, completion, restart, concurrency."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import aiohttp
import pytest

from tests.integration.emulator.wire import call, create, on_port, raw, raw_segment_head, send
from vidlift.testing.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.anyio


async def test_three_segments_give_nginx_ranges_and_an_identical_file(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(30_000)
    up = await create(http, emulator, title="three")
    first = await send(http, up, data, 0, 9_999)
    second = await send(http, up, data, 10_000, 19_999)
    assert (first.status, first.headers["range"], first.text) == (
        201,
        "0-9999/30000",
        "0-9999/30000",
    )
    assert "content-type" not in first.headers  # nginx sends none with a 201
    assert second.headers["range"] == "0-19999/30000"
    last = await send(http, up, data, 20_000, 29_999)
    assert last.status == 200
    assert last.headers["content-type"].startswith("application/json")
    assert await asyncio.to_thread(_read, emulator.video_file(up.video_key)) == data
    video = emulator.videos()[0]
    assert (video.status, video.size, video.md5) == ("ready", 30_000, hashlib.md5(data).hexdigest())
    assert video.sha256 == hashlib.sha256(data).hexdigest()


def _read(path: Path | None) -> bytes:
    assert path is not None
    return path.read_bytes()


async def test_final_answer_json_and_xml_shapes(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    data = b"x" * 100
    up = await create(http, emulator)
    redirect = "&redirect_address=http://example.com/path&redirect_query.p1=v1&key_in_path=True"
    reply = await send(http, up, data, 0, 99, query="&api_format=xml" + redirect)
    assert reply.status == 200
    assert (
        f'<video key="{up.video_key}"><size>100</size></video><redirect_link>'
        f"<address>http://example.com/path/{up.video_key}</address><query><p1>v1</p1></query>"
        "</redirect_link>" in reply.text
    )
    again = await send(http, up, data, 0, 99, query="&redirect_address=http://e.com/p")
    doc = again.json()
    assert doc == {
        "status": "ok",
        "media": {"type": "video", "key": up.video_key},
        "file": {"size": 100},
        "redirect_link": {"address": "http://e.com/p", "query": {"video_key": up.video_key}},
    }


async def test_out_of_order_segments_report_every_range_with_its_total(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(40)
    up = await create(http, emulator)
    assert (await send(http, up, data, 20, 29)).text == "20-29/40"
    gap = await send(http, up, data, 0, 9)
    assert (gap.status, gap.headers["range"], gap.text) == (
        201,
        "0-9/40,20-29/40",
        "0-9/40,20-29/40",
    )
    assert (await send(http, up, data, 30, 39)).text == "0-9/40,20-39/40"
    assert (await send(http, up, data, 10, 19)).status == 200
    assert await asyncio.to_thread(_read, emulator.video_file(up.video_key)) == data


async def test_resent_bytes_are_discarded_and_ranges_merged(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(100)
    up = await create(http, emulator)
    await send(http, up, data, 0, 49)
    again = await send(http, up, data, 0, 29)
    assert (again.status, again.text) == (201, "0-49/100")
    overlapping = await send(http, up, data, 40, 59)
    assert overlapping.text == "0-59/100"
    assert emulator.request_counts()["segment_201"] == 3


async def test_one_byte_probe_answers_the_ranges_so_far(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(1000)
    up = await create(http, emulator)
    probe = await send(http, up, data, 0, 0)
    assert (probe.status, probe.text) == (201, "0-0/1000")
    await send(http, up, data, 0, 499)
    assert (await send(http, up, data, 0, 0)).text == "0-499/1000"
    assert emulator.request_counts()["probe"] == 2


async def test_one_byte_file_completes_at_once(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    reply = await send(http, up, b"z", 0, 0)
    assert reply.status == 200
    assert emulator.videos()[0].size == 1


async def test_segment_after_completion_gets_the_final_answer_again(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(64)
    up = await create(http, emulator)
    await send(http, up, data, 0, 63)
    again = await send(http, up, data, 0, 31)
    assert again.status == 200
    assert again.json()["file"] == {"size": 64}
    assert emulator.request_counts()["files_completed"] == 1


async def test_alias_headers_are_accepted(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    up = await create(http, emulator)
    headers = {
        "Content-Range": "bytes 0-9/20",
        "Session-ID": up.session_id,
        "Content-Disposition": "attachment, filename=x.bin",
        "Content-Type": "video/mp4",
    }
    async with http.post(up.url, data=b"0123456789", headers=headers) as r:
        assert (r.status, r.headers["Range"]) == (201, "0-9/20")


async def test_show_reports_created_then_ready_with_md5(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(500)
    up = await create(http, emulator, title="Show me", **{"custom.legacy_id": "L-1"})
    status, doc = await call(http, emulator, "show", video_key=up.video_key)
    assert status == 200
    video = doc["video"]
    assert isinstance(video, dict)
    assert (video["status"], video["md5"], video["custom"]) == (
        "created",
        None,
        {"legacy_id": "L-1"},
    )
    await send(http, up, data, 0, 499)
    _, doc = await call(http, emulator, "show", video_key=up.video_key)
    video = doc["video"]
    assert isinstance(video, dict)
    assert (video["status"], video["size"]) == ("ready", "500")
    assert video["md5"] == hashlib.md5(data).hexdigest()
    assert video["upload_session_id"] == up.session_id


async def test_restart_in_the_middle_of_an_upload(tmp_path: Path) -> None:
    data = os.urandom(3000)
    config = EmulatorConfig(data_dir=tmp_path / "data")
    async with aiohttp.ClientSession() as http:
        async with Emulator(config) as first:
            up = await create(http, first, title="survivor")
            assert (await send(http, up, data, 0, 999)).text == "0-999/3000"
            assert (await send(http, up, data, 2000, 2999)).status == 201
        async with Emulator(config) as second:
            moved = on_port(up, second.port)
            probe = await send(http, moved, data, 0, 0)
            assert probe.text == "0-999/3000,2000-2999/3000"
            assert (await send(http, moved, data, 1000, 1999)).status == 200
            assert second.videos()[0].md5 == hashlib.md5(data).hexdigest()
        async with Emulator(config) as third:
            assert third.videos()[0].status == "ready"
            assert await asyncio.to_thread(_read, third.video_file(up.video_key)) == data


async def test_filename_never_decides_where_bytes_go(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    hostile = {"Content-Disposition": 'attachment; filename="../../../../etc/passwd"'}
    reply = await send(http, up, b"0123456789", 0, 4, 10, headers=hostile)
    assert reply.status == 201
    names = sorted(p.name for p in emulator.data_dir.rglob("*") if p.is_file())
    assert f"{up.session_id}.part" in names
    assert "passwd" not in names
    assert not (emulator.data_dir.parent / "etc").exists()


async def test_non_overlapping_segments_of_one_session_in_parallel(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    data = os.urandom(4 * 50_000)
    up = await create(http, emulator)
    pieces = [(i * 50_000, i * 50_000 + 49_999) for i in range(3)]
    replies = await asyncio.gather(*(send(http, up, data, a, b) for a, b in pieces))
    assert sorted(r.status for r in replies) == [201, 201, 201]
    assert (await send(http, up, data, 150_000, 199_999)).status == 200
    assert emulator.videos()[0].md5 == hashlib.md5(data).hexdigest()


async def test_a_hundred_sessions_at_once(tmp_path: Path) -> None:
    config = EmulatorConfig(data_dir=tmp_path / "data", fsync=False)
    connector = aiohttp.TCPConnector(limit=0)
    async with Emulator(config) as emu, aiohttp.ClientSession(connector=connector) as http:
        files = [os.urandom(2048 + i) for i in range(100)]

        async def one(data: bytes) -> str:
            up = await create(http, emu, title=f"n{len(data)}")
            await send(http, up, data, 0, 1023)
            final = await send(http, up, data, 1024, len(data) - 1)
            assert final.status == 200
            return up.video_key

        keys = await asyncio.gather(*(one(data) for data in files))
        assert len(set(keys)) == 100
        by_key = {v.key: v for v in emu.videos()}
        for key, data in zip(keys, files, strict=True):
            assert by_key[key].md5 == hashlib.md5(data).hexdigest()
        assert emu.request_counts()["segment_final"] == 100


async def test_update_issues_a_new_session_and_replaces_the_file(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    old_data, new_data = os.urandom(200), os.urandom(300)
    up = await create(http, emulator)
    await send(http, up, old_data, 0, 199)
    status, doc = await call(
        http, emulator, "update", video_key=up.video_key, upload_method="multipart", title="v2"
    )
    assert status == 200
    assert doc["media"] == {"type": "video", "key": up.video_key}
    new_session = str(doc["session_id"])
    assert new_session != up.session_id
    assert emulator.videos()[0].status == "updating"
    stale = await send(http, up, old_data, 0, 9)
    assert stale.status == 404
    link = doc["link"]
    assert isinstance(link, dict)
    fresh = type(up)(
        up.video_key,
        up.url.replace(up.upload_key, link["query"]["key"]),
        new_session,
        link["query"]["key"],
    )
    assert (await send(http, fresh, new_data, 0, 299)).status == 200
    video = emulator.videos()[0]
    assert (video.status, video.size, video.title) == ("ready", 300, "v2")
    assert await asyncio.to_thread(_read, emulator.video_file(up.video_key)) == new_data


async def test_get_on_stats_lists_videos_and_counts(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator, **{"custom.k": "v"})
    await send(http, up, b"abc", 0, 2)
    async with http.get(f"{emulator.endpoint}/_emulator/stats") as r:
        stats = await r.json()
    assert stats["requests"]["segment_final"] == 1
    assert stats["requests"]["bytes_received"] == 3
    assert stats["videos"][0]["custom"] == {"k": "v"}
    assert stats["videos"][0]["md5"] == hashlib.md5(b"abc").hexdigest()
    assert stats["faults"] == {}


async def test_expect_100_continue_and_http_1_0(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
    head = raw_segment_head(
        up, length=5, content_range="bytes 0-4/10", extra="Expect: 100-continue"
    )
    writer.write(head.replace("\n", "\r\n").encode() + b"\r\n")
    await writer.drain()
    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"01234")
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 201 Created\r\n")
    writer.close()
    await writer.wait_closed()
    old = raw_segment_head(up, length=5, content_range="bytes 5-9/10")
    reply = await raw(emulator.port, old.replace("HTTP/1.1", "HTTP/1.0"), b"56789")
    assert reply is not None and reply.status == 200
