"""The v2 platform against the real emulator over loopback: multipart with parts in
flight, direct uploads, exactly-once creation, resume from ETags, expired links, lost
answers (docs/PLATFORMS.md)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from tests.integration.platforms.conftest import (
    MIB,
    SECRET,
    AnswerLosingTransport,
    drive,
    emulator_config,
    make_file,
    md5_of,
    settings_for,
)
from vidlift.client.source import SourceFile
from vidlift.client.transport import AiohttpTransport
from vidlift.errors import (
    AuthError,
    ConnectionDropped,
    PartLinkRefused,
    RateLimited,
    SegmentRejected,
    UploadGone,
    VideoMissing,
)
from vidlift.platforms.base import LibraryPage
from vidlift.platforms.v2 import V2Platform, V2Settings
from vidlift.platforms.v2.transfer import V2DirectTransfer, V2Transfer
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.ranges import RangeSet
from vidlift.testing.emulator import Emulator

pytestmark = pytest.mark.anyio


async def _received(emu: Emulator, media_id: str) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{emu.endpoint}/_emulator/media/{media_id}") as response,
    ):
        document: dict[str, object] = await response.json()
        return document


async def test_multipart_upload_with_parts_in_flight(
    emulator: Emulator, transport: AiohttpTransport, tmp_path: Path
) -> None:
    path = make_file(tmp_path / "big.mp4", 12 * MIB + 321)
    platform = V2Platform(transport, settings_for(emulator))
    meta = VideoMetadata(title="Big", tags=("x",), custom={"a": "b"})
    handle = await platform.create(meta, marker="job-1", tag="batch", size_bytes=12 * MIB + 321)
    assert handle.upload_id.startswith("multipart/5242880/")
    transfer = platform.transfer(handle, 12 * MIB + 321, None)
    assert isinstance(transfer, V2Transfer) and transfer.in_flight == 3
    acked: list[int] = []

    async def keep(ranges: RangeSet) -> None:
        acked.append(ranges.byte_count)

    source = await SourceFile.inspect(path)
    async with source.open() as reader:
        await transfer.run(reader, on_acked=keep)
    assert (transfer.plan.count, transfer.etags_checked, transfer.requests_sent) == (3, 3, 3)
    assert acked[-1] == 12 * MIB + 321
    received = await _received(emulator, handle.video_key)
    assert received["md5"] == md5_of(path) and received["size"] == 12 * MIB + 321
    found = await platform.find("job-1", "batch")
    assert found is not None and found.key == handle.video_key and found.marker == "job-1"
    assert found.tag == "batch" and found.holds(12 * MIB + 321)
    assert await platform.find("job-1", "another-source") is None
    assert emulator.request_counts()["part_ok"] == 3
    assert emulator.request_counts()["v2_complete"] == 1


async def test_direct_upload_for_a_file_of_one_part(
    emulator: Emulator, transport: AiohttpTransport, tmp_path: Path
) -> None:
    path = make_file(tmp_path / "small.mp4", 300_000)
    platform = V2Platform(transport, settings_for(emulator))
    handle = await platform.create(
        VideoMetadata(title="s"), marker="job-2", tag=None, size_bytes=300_000
    )
    assert handle.upload_id == "direct"
    transfer = platform.transfer(handle, 300_000, RangeSet())
    assert isinstance(transfer, V2DirectTransfer)
    await drive(transfer, await SourceFile.inspect(path))
    assert transfer.etags_checked == 1
    assert (await _received(emulator, handle.video_key))["md5"] == md5_of(path)
    assert transfer.acked.byte_count == 300_000


async def test_resume_after_a_crash_from_the_platforms_etags(
    tmp_path: Path, transport: AiohttpTransport
) -> None:
    """Every run is a new process (nothing acked in the journal): parts already on the
    platform are recognised by their ETag and never sent twice."""
    size = 16 * MIB
    path = make_file(tmp_path / "f.mp4", size)
    source = await SourceFile.inspect(path)
    async with Emulator(emulator_config(tmp_path, part_503_p=0.4, part_drop_p=0.2, seed=3)) as emu:
        platform = V2Platform(transport, settings_for(emu, parts_in_flight=2))
        handle = await platform.create(VideoMetadata(), marker="j", tag=None, size_bytes=size)
        failures = 0
        for _ in range(40):
            transfer = platform.transfer(handle, size, RangeSet())  # a "new process"
            async with source.open() as reader:
                try:
                    await transfer.run(reader)
                    break
                except (UploadGone, AuthError):
                    raise
                except Exception:
                    failures += 1
        assert failures > 0
        received = await _received(emu, handle.video_key)
        assert received["md5"] == md5_of(path)
        counts = emu.request_counts()
        assert counts["part_ok"] == 4  # each part stored once, however often runs failed
        assert counts["v2_complete"] == 1


async def test_a_part_with_other_bytes_is_sent_again(
    emulator: Emulator, transport: AiohttpTransport, tmp_path: Path
) -> None:
    size = 11 * MIB
    path = make_file(tmp_path / "f.mp4", size)
    platform = V2Platform(transport, settings_for(emulator))
    handle = await platform.create(VideoMetadata(), marker="m", tag=None, size_bytes=size)
    upload_id = handle.upload_id.rsplit("/", 1)[1]
    async with aiohttp.ClientSession() as http:
        url = f"{emulator.endpoint}/v2/uploads/{upload_id}/parts"
        headers = {"Authorization": f"Bearer {handle.upload_secret}"}
        async with http.get(url, headers=headers) as response:
            link = (await response.json())["parts"][0]["upload_link"]
        async with http.put(link, data=b"wrong bytes") as response:
            assert response.status == 200
    transfer = platform.transfer(handle, size, RangeSet())
    await drive(transfer, await SourceFile.inspect(path))
    assert (await _received(emulator, handle.video_key))["md5"] == md5_of(path)


async def test_an_expired_link_is_listed_again(tmp_path: Path, transport: AiohttpTransport) -> None:
    size = 6 * MIB
    path = make_file(tmp_path / "f.mp4", size)
    async with Emulator(emulator_config(tmp_path, part_expired_p=0.5, seed=1)) as emu:
        platform = V2Platform(transport, settings_for(emu))
        handle = await platform.create(VideoMetadata(), marker="e", tag=None, size_bytes=size)
        seen: list[Exception] = []
        await drive(
            platform.transfer(handle, size, RangeSet()),
            await SourceFile.inspect(path),
            on_failure=seen.append,
        )
        assert any(isinstance(e, PartLinkRefused) for e in seen)
        assert all("X-Amz-Signature" not in str(e) for e in seen)
        assert (await _received(emu, handle.video_key))["md5"] == md5_of(path)


async def test_a_lost_complete_answer_is_reconciled_through_the_status(
    emulator: Emulator, tmp_path: Path
) -> None:
    size = 6 * MIB
    path = make_file(tmp_path / "f.mp4", size)
    losing = AnswerLosingTransport("/complete")
    try:
        platform = V2Platform(losing, settings_for(emulator))
        handle = await platform.create(VideoMetadata(), marker="c", tag=None, size_bytes=size)
        transfer = platform.transfer(handle, size, RangeSet())
        source = await SourceFile.inspect(path)
        async with source.open() as reader:
            with pytest.raises(ConnectionDropped):
                await transfer.run(reader)
        await drive(transfer, source)
    finally:
        await losing.aclose()
    assert isinstance(transfer, V2Transfer) and transfer.plan.count == 2
    counts = emulator.request_counts()
    assert counts["v2_complete"] == 1 and counts.get("v2_error", 0) == 0  # complete once


async def test_a_lost_create_answer_is_found_by_external_id(
    emulator: Emulator,
) -> None:
    losing = AnswerLosingTransport("/media/")
    try:
        platform = V2Platform(losing, settings_for(emulator))
        with pytest.raises(ConnectionDropped):
            await platform.create(
                VideoMetadata(title="t"), marker="row-9", tag=None, size_bytes=100
            )
        found = await platform.find("row-9", None)
    finally:
        await losing.aclose()
    assert found is not None and found.status == "created"
    assert len(emulator.media()) == 1


async def test_a_direct_upload_whose_answer_was_lost_is_not_sent_twice(
    tmp_path: Path, transport: AiohttpTransport
) -> None:
    path = make_file(tmp_path / "f.mp4", 200_000)
    async with Emulator(emulator_config(tmp_path, part_lost_answer_p=1.0)) as emu:
        platform = V2Platform(transport, settings_for(emu))
        handle = await platform.create(VideoMetadata(), marker="d", tag=None, size_bytes=200_000)
        transfer = platform.transfer(handle, 200_000, RangeSet())
        await drive(transfer, await SourceFile.inspect(path))
        assert transfer.etags_checked == 0  # settled through the status
        assert len(emu.media()) == 1
        assert (await _received(emu, handle.video_key))["md5"] == md5_of(path)


async def test_an_expired_direct_link_reopens_the_same_media(
    emulator: Emulator, transport: AiohttpTransport, tmp_path: Path
) -> None:
    path = make_file(tmp_path / "f.mp4", 200_000)
    platform = V2Platform(transport, settings_for(emulator))
    handle = await platform.create(VideoMetadata(), marker="x", tag=None, size_bytes=200_000)
    emulator.shift_clock(7200)
    source = await SourceFile.inspect(path)
    with pytest.raises(SegmentRejected) as caught:  # the job loop renews after a 410
        await drive(platform.transfer(handle, 200_000, RangeSet()), source)
    assert caught.value.http_status == 410
    again = await platform.reopen(handle.video_key, size_bytes=200_000)
    assert again.video_key == handle.video_key
    await drive(platform.transfer(again, 200_000, RangeSet()), source)
    assert len(emulator.media()) == 1
    assert (await _received(emulator, handle.video_key))["md5"] == md5_of(path)


async def test_errors_map_to_vidlift_classes(
    emulator: Emulator, transport: AiohttpTransport
) -> None:
    wrong = V2Platform(
        transport,
        V2Settings(site_id=emulator.site_id, api_secret="nope", endpoint=emulator.endpoint),
    )
    platform = V2Platform(transport, settings_for(emulator))
    assert await platform.list_library(offset=0, limit=10) == LibraryPage((), 0)  # no tag
    with pytest.raises(AuthError) as caught:
        await wrong.find("x", None)
    assert "nope" not in str(caught.value)
    with pytest.raises(VideoMissing):
        await platform.show("NOSUCHID")


async def test_rate_limit_is_raised_with_the_reset_time(
    tmp_path: Path, transport: AiohttpTransport
) -> None:
    async with Emulator(emulator_config(tmp_path, v2_api_429_p=1.0)) as emu:
        platform = V2Platform(transport, settings_for(emu))
        with pytest.raises(RateLimited) as caught:
            await platform.find("x", None)
        assert caught.value.reset_at is not None and caught.value.reset_at > 0


async def test_secrets_stay_out_of_reprs(emulator: Emulator, transport: AiohttpTransport) -> None:
    settings = settings_for(emulator)
    platform = V2Platform(transport, settings)
    handle = await platform.create(VideoMetadata(), marker="r", tag=None, size_bytes=20 * MIB)
    direct = await platform.create(VideoMetadata(), marker="s", tag=None, size_bytes=2000)
    texts = [repr(settings), repr(platform), repr(handle), repr(direct)]
    texts += [repr(platform.transfer(h, 20 * MIB, RangeSet())) for h in (handle,)]
    texts.append(repr(platform.transfer(direct, 2000, RangeSet())))
    for text in texts:
        assert SECRET not in text and handle.upload_secret not in text
        assert "X-Amz-Signature" not in text


async def test_without_md5_parts_are_not_hashed_but_the_file_arrives(
    emulator: Emulator, transport: AiohttpTransport, tmp_path: Path
) -> None:
    size = 11 * MIB
    path = make_file(tmp_path / "f.mp4", size)
    platform = V2Platform(transport, settings_for(emulator, verify_md5=False))
    handle = await platform.create(VideoMetadata(), marker="n", tag=None, size_bytes=size)
    transfer = platform.transfer(handle, size, RangeSet())
    await drive(transfer, await SourceFile.inspect(path))
    assert isinstance(transfer, V2Transfer) and transfer.etags_checked == 0
    assert (await _received(emulator, handle.video_key))["md5"] == md5_of(path)


async def test_the_library_is_listed_by_its_tag_page_by_page(
    emulator: Emulator, transport: AiohttpTransport
) -> None:
    """v2 survey (issue 12 point 4): media created for a library carry its tag; listing
    finds those and only those, pages of ``limit``, with the marker, source and size."""
    mine = V2Platform(transport, replace(settings_for(emulator), library="lib-a"))
    other = V2Platform(transport, replace(settings_for(emulator), library="lib-b"))
    for n in range(5):
        await mine.create(VideoMetadata(title=f"A{n}"), marker=f"a-{n}", tag="t", size_bytes=900)
    await other.create(VideoMetadata(title="B"), marker="b-0", tag="t", size_bytes=900)
    pages = [await mine.list_library(offset=offset, limit=2) for offset in (0, 2, 4)]
    assert [len(page.videos) for page in pages] == [2, 2, 1]
    assert {page.total for page in pages} == {5}
    listed = [video for page in pages for video in page.videos]
    assert [video.marker for video in listed] == [f"a-{n}" for n in range(5)]
    assert {(video.tag, video.size_bytes, video.status) for video in listed} == {
        ("t", 900, "created")
    }
    # A metadata update keeps the library's tag: the media is still listed afterwards.
    await mine.update_metadata(listed[0].key, VideoMetadata(title="Renamed"))
    again = await mine.list_library(offset=0, limit=10)
    assert listed[0].key in {video.key for video in again.videos} and again.total == 5
