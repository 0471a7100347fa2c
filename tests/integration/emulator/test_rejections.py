"""Every refusal of the upload route: its status (or a dropped connection), and that
nothing of the refused segment is counted."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.integration.emulator.wire import Upload, create, raw, raw_segment_head, send
from vidlift.testing.emulator import Emulator, EmulatorConfig

pytestmark = pytest.mark.anyio

TEN = b"0123456789"


async def _nothing_counted(http: aiohttp.ClientSession, emu: Emulator, up: Upload) -> str:
    """The ranges a 1-byte probe reports now (of a 10-byte file)."""
    return (await send(http, up, TEN, 9, 9)).text


async def test_missing_session_id_is_a_json_parameter_missing(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    reply = await raw(emulator.port, raw_segment_head(up, length=10, omit=("X-Session-ID",)), TEN)
    assert reply is not None and reply.status == 400
    assert reply.json() == {
        "status": "error",
        "code": "ParameterMissing",
        "title": "Parameter Missing",
        "message": "X-Session-ID header is missing",
    }
    assert await _nothing_counted(http, emulator, up) == "9-9/10"


@pytest.mark.parametrize("session_id", ["", "../etc.x", "a b", "x" * 129])
async def test_invalid_session_id_drops_the_connection(
    emulator: Emulator, http: aiohttp.ClientSession, session_id: str
) -> None:
    up = await create(http, emulator)
    head = raw_segment_head(
        up, length=10, omit=("X-Session-ID",), extra=f"X-Session-ID: {session_id}"
    )
    assert await raw(emulator.port, head, TEN) is None
    assert emulator.request_counts()["dropped"] == 1


@pytest.mark.parametrize(
    "content_range",
    ["bytes 5-4/10", "bytes 0-10/10", "bytes 10-10/10", "0-9/10", "bytes 0-9", "bytes a-b/10"],
)
async def test_bad_range_drops_the_connection_and_stores_nothing(
    emulator: Emulator, http: aiohttp.ClientSession, content_range: str
) -> None:
    up = await create(http, emulator)
    head = raw_segment_head(up, length=10, content_range=content_range)
    assert await raw(emulator.port, head, TEN) is None
    assert await _nothing_counted(http, emulator, up) == "9-9/10"


@pytest.mark.parametrize(
    ("omit", "extra", "status"),
    [
        (("Content-Disposition",), "", 415),
        (("Content-Type",), "", 400),
        (("Content-Type",), "Content-Type: multipart/form-data; boundary=x", 415),
    ],
)
async def test_missing_or_wrong_body_headers(
    emulator: Emulator, http: aiohttp.ClientSession, omit: tuple[str, ...], extra: str, status: int
) -> None:
    up = await create(http, emulator)
    reply = await raw(emulator.port, raw_segment_head(up, length=10, omit=omit, extra=extra), TEN)
    assert reply is not None and reply.status == status
    assert reply.headers["content-type"] == "text/html"
    assert await _nothing_counted(http, emulator, up) == "9-9/10"


async def test_missing_content_range_is_refused(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    head = raw_segment_head(up, length=10, omit=("X-Content-Range",))
    reply = await raw(emulator.port, head, TEN)
    assert reply is not None and reply.status == 400
    assert reply.json()["code"] == "ParameterMissing"


@pytest.mark.parametrize("length", [5, 20])
async def test_content_length_other_than_the_range_is_416(
    emulator: Emulator, http: aiohttp.ClientSession, length: int
) -> None:
    up = await create(http, emulator)
    reply = await raw(emulator.port, raw_segment_head(up, length=length), b"y" * length)
    assert reply is not None and reply.status == 416
    assert await _nothing_counted(http, emulator, up) == "9-9/10"


async def test_chunked_body_is_416(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    up = await create(http, emulator)
    head = raw_segment_head(up, length=None, extra="Transfer-Encoding: chunked")
    reply = await raw(emulator.port, head, b"a\r\n0123456789\r\n0\r\n\r\n")
    assert reply is not None and reply.status == 416


async def test_oversized_segment_is_413_before_any_byte_is_read(tmp_path: object) -> None:
    config = EmulatorConfig(data_dir=None, max_segment_bytes=1000)
    async with Emulator(config) as emu, aiohttp.ClientSession() as http:
        up = await create(http, emu)
        head = raw_segment_head(up, length=1001, content_range="bytes 0-1000/5000")
        reply = await raw(emu.port, head, b"")  # the body is never needed for the answer
        assert reply is not None and reply.status == 413
        assert emu.request_counts().get("bytes_received", 0) == 0
        ok = await send(http, up, bytes(5000), 0, 999)
        assert ok.status == 201


async def test_total_other_than_the_sessions_is_400(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    await send(http, up, bytes(100), 0, 9)
    reply = await send(http, up, bytes(200), 10, 19, 200)
    assert (reply.status, reply.json()["code"]) == (400, "ParameterInvalid")
    assert (await send(http, up, bytes(100), 0, 0)).text == "0-9/100"


async def test_unknown_session_and_wrong_key(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    other = await create(http, emulator)
    unknown = Upload(up.video_key, up.url, "A" * 40, up.upload_key)
    reply = await send(http, unknown, TEN, 0, 9)
    assert (reply.status, reply.json()["code"]) == (404, "NotFound")
    crossed = Upload(up.video_key, other.url, up.session_id, other.upload_key)
    reply = await send(http, crossed, TEN, 0, 9)
    assert (reply.status, reply.json()["code"]) == (403, "PermissionDenied")
    keyless = Upload(up.video_key, up.url.split("?")[0] + "?api_format=json", up.session_id, "")
    reply = await send(http, keyless, TEN, 0, 9)
    assert (reply.status, reply.json()["code"]) == (400, "ParameterMissing")
    assert await _nothing_counted(http, emulator, up) == "9-9/10"


async def test_errors_follow_the_api_format(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    unknown = Upload(up.video_key, up.url + "&api_format=xml", "B" * 40, up.upload_key)
    reply = await send(http, unknown, TEN, 0, 9)
    assert reply.status == 404
    assert "<code>NotFound</code>" in reply.text


async def test_get_on_the_upload_url_is_405(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    async with http.get(up.url) as r:
        assert r.status == 405


async def test_overlapping_segments_in_flight_are_409(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    # A segment whose body stays half-sent keeps bytes 0-99 in flight.
    reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
    head = raw_segment_head(up, length=100, content_range="bytes 0-99/1000")
    writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + bytes(50))
    await writer.drain()
    await emulator.wait_until(lambda: emulator.request_counts().get("bytes_received", 0) >= 50)
    clash = await send(http, up, bytes(1000), 50, 149)
    assert (clash.status, clash.json()["code"]) == (409, "Conflict")
    beside = await send(http, up, bytes(1000), 100, 199)
    assert beside.status == 201
    writer.write(bytes(50))
    await writer.drain()
    answer = await reader.readuntil(b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 201")
    writer.close()
    await writer.wait_closed()


async def test_more_simultaneous_segments_than_allowed_is_503(tmp_path: object) -> None:
    config = EmulatorConfig(max_concurrent_segments_per_session=2)
    async with Emulator(config) as emu, aiohttp.ClientSession() as http:
        up = await create(http, emu)
        writers = []
        for i in range(2):
            _, writer = await asyncio.open_connection("127.0.0.1", emu.port)
            rng = f"bytes {i * 100}-{i * 100 + 99}/1000"
            writer.write(
                raw_segment_head(up, length=100, content_range=rng).replace("\n", "\r\n").encode()
                + b"\r\n"
                + bytes(10)
            )
            await writer.drain()
            writers.append(writer)
        await emu.wait_until(lambda: emu.request_counts().get("bytes_received", 0) >= 20)
        busy = await send(http, up, bytes(1000), 500, 599)
        assert busy.status == 503
        assert busy.headers["retry-after"] == "1"
        for writer in writers:
            writer.close()
            await writer.wait_closed()


async def test_interrupted_segment_is_never_counted(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    up = await create(http, emulator)
    _, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
    head = raw_segment_head(up, length=100, content_range="bytes 0-99/100")
    writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + bytes(60))
    await writer.drain()
    await emulator.wait_until(lambda: emulator.request_counts().get("bytes_received", 0) >= 60)
    writer.close()
    await writer.wait_closed()
    await emulator.wait_until(lambda: emulator.request_counts().get("segment_interrupted", 0) == 1)
    assert (await send(http, up, bytes(100), 99, 99)).text == "99-99/100"
