"""HttpSource over loopback against the local origin: ranges, identity, faults."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest

from vidlift.config import HttpSourceSettings, Timeouts
from vidlift.errors import (
    ConnectionDropped,
    RequestTimeout,
    SourceChanged,
    SourceError,
    SourceUnavailable,
)
from vidlift.protocol.ranges import ByteRange
from vidlift.sources.http import HttpReader, HttpSource
from vidlift.testing.origin import Origin, OriginFault

pytestmark = pytest.mark.anyio

KiB = 1024
PIECE = 16 * KiB
SIGNATURE = "Signature=secret-sig-4a7b"


async def inspect(
    session: aiohttp.ClientSession,
    url: str,
    settings: HttpSourceSettings | None = None,
    notices: list[str] | None = None,
) -> HttpSource:
    return await HttpSource.inspect(
        url,
        session=session,
        settings=settings or HttpSourceSettings(),
        on_notice=notices.append if notices is not None else None,
    )


async def read(reader: HttpReader, start: int, end: int) -> bytes:
    pieces = [piece async for piece in reader.iter_range(ByteRange(start, end))]
    assert all(0 < len(piece) <= PIECE for piece in pieces)
    return b"".join(pieces)


def chunks(size: int, step: int = 64 * KiB) -> list[tuple[int, int]]:
    return [(start, min(start + step, size) - 1) for start in range(0, size, step)]


async def test_inspect_records_size_identity_and_a_name_without_query(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    origin.add("dir/talk one.mp4", payload)
    source = await inspect(session, origin.url("dir/talk one.mp4", query=SIGNATURE))
    assert source.size_bytes == len(payload)
    assert source.identity.startswith('etag:"') and source.identity.endswith('-v1"')
    assert source.name == f"{origin.base_url}/dir/talk%20one.mp4"
    assert source.filename == "talk one.mp4"
    assert SIGNATURE not in repr(source)
    assert origin.requests[-1].range == "bytes=0-0"


async def test_ranges_stream_in_pieces_with_the_md5_in_order(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    source = await inspect(session, origin.add("a.mp4", payload))
    async with source.open(PIECE) as reader:
        got = b"".join([await read(reader, s, e) for s, e in chunks(len(payload))])
        assert got == payload
        assert await reader.md5_hexdigest() == hashlib.md5(payload).hexdigest()
        assert reader.bytes_read == len(payload)  # nothing read twice
        assert not reader.can_zero_copy
    gets = [r for r in origin.requests if r.range and r.range != "bytes=0-0"]
    assert [r.status for r in gets] == [206] * len(chunks(len(payload)))


async def test_a_resumed_range_reads_the_unhashed_gap_in_the_same_request(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    source = await inspect(session, origin.add("a.mp4", payload))
    async with source.open(PIECE) as reader:
        # A resumed upload: the first range asked for starts at 100 KiB.
        assert await read(reader, 100 * KiB, len(payload) - 1) == payload[100 * KiB :]
        assert await reader.md5_hexdigest() == hashlib.md5(payload).hexdigest()
        assert reader.bytes_read == len(payload)  # every byte read once
    assert origin.requests[-1].range == f"bytes=0-{len(payload) - 1}"
    async with source.open(PIECE, hash_md5=False) as reader:
        assert await read(reader, 100 * KiB, len(payload) - 1) == payload[100 * KiB :]
        assert reader.bytes_read == len(payload) - 100 * KiB  # no md5: only the range


async def test_a_drop_mid_body_is_a_transport_error_and_the_range_reads_again(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    source = await inspect(session, origin.add("a.mp4", payload))
    origin.fault("a.mp4", OriginFault(drop_after_bytes=40 * KiB, times=1))
    async with source.open(PIECE) as reader:
        with pytest.raises(ConnectionDropped) as caught:
            await read(reader, 0, 64 * KiB - 1)
        assert str(caught.value).startswith(source.name)
        assert await read(reader, 0, 64 * KiB - 1) == payload[: 64 * KiB]
        assert await reader.md5_hexdigest() == hashlib.md5(payload).hexdigest()
        # The 32 KiB of whole pieces before the drop were read twice.
        assert reader.bytes_read == len(payload) + 32 * KiB


async def test_an_origin_ignoring_range_is_one_stream_and_said_once(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    origin.add("a.mp4", payload)
    origin.fault("a.mp4", OriginFault(ignore_range=True))
    notices: list[str] = []
    source = await inspect(session, origin.url("a.mp4", query=SIGNATURE), notices=notices)
    assert source.size_bytes == len(payload) and source.ranges_ignored
    async with source.open(PIECE) as reader:
        got = b"".join([await read(reader, s, e) for s, e in chunks(len(payload))])
        assert got == payload
        assert reader.bytes_read == len(payload)  # one stream, read once
        assert await reader.md5_hexdigest() == hashlib.md5(payload).hexdigest()
        # A range before the stream's position restarts it from byte 0.
        assert await read(reader, 64 * KiB, 70 * KiB - 1) == payload[64 * KiB : 70 * KiB]
        assert reader.bytes_read == len(payload) + 70 * KiB
    assert len(notices) == 1 and "ignores Range" in notices[0]
    assert SIGNATURE not in notices[0]
    assert sum(1 for r in origin.requests if r.status == 200) == 3  # inspect + 2 streams


async def test_ignored_range_resumes_after_a_drop_from_the_first_missing_byte(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    origin.add("a.mp4", payload)
    origin.fault("a.mp4", OriginFault(ignore_range=True))
    source = await inspect(session, origin.url("a.mp4"))
    origin.fault("a.mp4", OriginFault(ignore_range=True, drop_after_bytes=100 * KiB, times=1))
    async with source.open(PIECE) as reader:
        assert await read(reader, 0, 64 * KiB - 1) == payload[: 64 * KiB]
        with pytest.raises(ConnectionDropped):
            await read(reader, 64 * KiB, 128 * KiB - 1)
        origin.fault("a.mp4", OriginFault(ignore_range=True))
        assert await read(reader, 64 * KiB, len(payload) - 1) == payload[64 * KiB :]
        assert await reader.md5_hexdigest() == hashlib.md5(payload).hexdigest()


async def test_a_source_changing_mid_way_raises_source_changed(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    origin.add("a.mp4", payload)
    origin.fault("a.mp4", OriginFault(change_after_requests=2))
    source = await inspect(session, origin.url("a.mp4", query=SIGNATURE))
    async with source.open(PIECE) as reader:
        assert await read(reader, 0, 64 * KiB - 1) == payload[: 64 * KiB]
        with pytest.raises(SourceChanged) as caught:
            await read(reader, 64 * KiB, 128 * KiB - 1)
    message = str(caught.value)
    assert "changed since it was first read" in message and SIGNATURE not in message
    assert isinstance(caught.value, SourceError)
    with pytest.raises(SourceChanged):
        await source.check_unchanged()


async def test_a_change_without_if_range_support_is_caught_by_the_etag(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    origin.add("a.mp4", payload)
    origin.fault("a.mp4", OriginFault(ignore_range=True, change_after_requests=1))
    source = await inspect(session, origin.url("a.mp4"))
    async with source.open(PIECE) as reader:
        with pytest.raises(SourceChanged, match="identity"):
            await read(reader, 0, 10)


async def test_a_size_change_is_caught_without_validators(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    origin.add("a.mp4", payload)
    origin.fault(
        "a.mp4",
        OriginFault(validators=False, change_after_requests=1, changed_data=payload[:-1]),
    )
    source = await inspect(session, origin.url("a.mp4"))
    assert source.identity == f"size:{len(payload)}"
    async with source.open(PIECE) as reader:
        with pytest.raises(SourceChanged, match="size"):
            await read(reader, 0, 10)


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (404, SourceError, "not found"),
        (410, SourceError, "not found"),
        (403, SourceError, "refuses access"),
        (500, SourceUnavailable, "HTTP 500"),
        (503, SourceUnavailable, "HTTP 503"),
    ],
)
async def test_refusals_name_host_and_path_never_the_query(
    origin: Origin,
    session: aiohttp.ClientSession,
    payload: bytes,
    status: int,
    error: type[Exception],
    words: str,
) -> None:
    origin.add("a.mp4", payload)
    origin.fault("a.mp4", OriginFault(status=status))
    with pytest.raises(error) as caught:
        await inspect(session, origin.url("a.mp4", query=SIGNATURE))
    message = str(caught.value)
    assert words in message and f"{origin.base_url}/a.mp4" in message
    assert SIGNATURE not in message and "?" not in message
    assert type(caught.value) is error


async def test_a_5xx_mid_migration_is_retryable_and_then_reads(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    source = await inspect(session, origin.add("a.mp4", payload))
    origin.fault("a.mp4", OriginFault(status=500, times=1))
    async with source.open(PIECE) as reader:
        with pytest.raises(SourceUnavailable):
            await read(reader, 0, 10)
        assert await read(reader, 0, 10) == payload[:11]


async def test_a_slow_origin_times_out(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    settings = HttpSourceSettings(timeouts=Timeouts(connect_s=1.0, read_s=0.2))
    source = await inspect(session, origin.add("a.mp4", payload), settings)
    origin.fault("a.mp4", OriginFault(delay_s=1.0, times=1))
    async with source.open(PIECE) as reader:
        with pytest.raises(RequestTimeout):
            await read(reader, 0, 10)


async def test_redirects_are_followed_and_bounded(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    origin.add("a.mp4", payload)
    source = await inspect(session, origin.url("a.mp4", redirects=3, query=SIGNATURE))
    assert source.size_bytes == len(payload)
    async with source.open(PIECE) as reader:
        assert await read(reader, 0, 99) == payload[:100]
    settings = HttpSourceSettings(max_redirects=2)
    with pytest.raises(SourceError, match="more than 2 redirects") as caught:
        await inspect(session, origin.url("a.mp4", redirects=3, query=SIGNATURE), settings)
    assert SIGNATURE not in str(caught.value)


async def test_private_origins_get_the_configured_headers_and_cookies(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    origin.add("a.mp4", payload)
    token = "Bearer private-token-99"
    origin.fault(
        "a.mp4", OriginFault(require_headers={"Authorization": token, "Cookie": "sid=c00k1e"})
    )
    with pytest.raises(SourceError, match=r"\[sources.http\]"):
        await inspect(session, origin.url("a.mp4"))
    settings = HttpSourceSettings(headers={"Authorization": token}, cookies={"sid": "c00k1e"})
    source = await inspect(session, origin.url("a.mp4"), settings)
    async with source.open(PIECE) as reader:
        assert await read(reader, 0, 99) == payload[:100]
    for text in (repr(settings), repr(source)):
        assert "private-token" not in text and "c00k1e" not in text


async def test_headers_are_not_sent_to_hosts_not_listed(
    origin: Origin, session: aiohttp.ClientSession, payload: bytes
) -> None:
    origin.add("a.mp4", payload)
    origin.fault("a.mp4", OriginFault(require_headers={"Authorization": "t"}))
    settings = HttpSourceSettings(headers={"Authorization": "t"}, hosts=("cdn.example",))
    with pytest.raises(SourceError, match="refuses access"):
        await inspect(session, origin.url("a.mp4"), settings)


async def test_an_empty_file_and_a_missing_file_are_source_errors(
    origin: Origin, session: aiohttp.ClientSession
) -> None:
    origin.add("empty.mp4", b"")
    with pytest.raises(SourceError, match="empty"):
        await inspect(session, origin.url("empty.mp4"))
    with pytest.raises(SourceError, match="not found"):
        await inspect(session, origin.url("nothing.mp4"))
