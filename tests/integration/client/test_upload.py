"""The real client against the real emulator over loopback."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from vidlift import (
    Client,
    RangesShrank,
    SourceError,
    UploadError,
    UploadSettings,
    VerificationError,
)
from vidlift.client.transport import AiohttpTransport, HttpRequest, HttpResponse
from vidlift.errors import ConnectionDropped
from vidlift.testing.emulator import Emulator, FaultPlan

from .conftest import faulty_config, make_file

pytestmark = pytest.mark.anyio


def client_for(emu: Emulator, settings: UploadSettings, **kwargs: object) -> Client:
    return Client(
        endpoint=emu.endpoint,
        api_key=emu.api_key,
        api_secret=emu.api_secret,
        settings=settings,
        **kwargs,  # type: ignore[arg-type]
    )


def stored_bytes(emu: Emulator, key: str) -> bytes:
    path = emu.video_file(key)
    assert path is not None, f"emulator has no file for {key}"
    return path.read_bytes()


async def test_multi_segment_upload_is_byte_identical(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "talk.mp4", 300_000)
    seen: list[int] = []
    async with client_for(emulator, fast_settings) as client:
        result = await client.upload(
            source, title="Talk", custom={"legacy_id": "42"}, on_progress=seen.append
        )
    assert result.video_key is not None
    assert stored_bytes(emulator, result.video_key) == source.read_bytes()
    assert result.md5 == hashlib.md5(source.read_bytes()).hexdigest()
    assert result.segments_sent == 5  # 300000 / 65536 rounded up
    assert seen[-1] == 300_000
    (video,) = emulator.videos()
    assert video.title == "Talk"
    assert video.custom["legacy_id"] == "42"
    assert video.status == "ready"


async def test_dropped_connections_resume_and_stay_identical(
    tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "big.mov", 1_000_000)
    faults = FaultPlan(seed=7, drop_mid_segment_p=0.3)
    patient = replace(fast_settings, retry=replace(fast_settings.retry, max_attempts=20))
    async with Emulator(faulty_config(tmp_path, faults)) as emu:
        async with client_for(emu, patient) as client:
            result = await client.upload(source)
        assert result.video_key is not None
        assert stored_bytes(emu, result.video_key) == source.read_bytes()
        assert emu.fault_counts().get("drop_mid_segment", 0) > 0
    assert result.failures > 0


async def _session_with_gaps(emu: Emulator, client: Client, total: int) -> tuple[str, str]:
    """Create a video and store bytes 0-9 and 20-29 by hand (not with vidlift's sender)."""
    from vidlift.protocol.metadata import VideoMetadata
    from vidlift.protocol.urls import build_upload_url

    created = await client.api.create_video(VideoMetadata(title="gaps"))
    url = build_upload_url(created.link, api_format="json")
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for start in (0, 20):
            headers = {
                "Content-Disposition": 'attachment; filename="gaps.bin"',
                "Content-Type": "application/octet-stream",
                "X-Content-Range": f"bytes {start}-{start + 9}/{total}",
                "X-Session-ID": created.session_id,
            }
            data = GAP_FILE[start : start + 10]
            async with http.post(url, data=data, headers=headers) as resp:
                assert resp.status == 201
    return url, created.session_id


GAP_FILE = os.urandom(40)


async def test_gap_answer_sends_only_the_gap_and_the_tail(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = tmp_path / "gaps.bin"
    source.write_bytes(GAP_FILE)
    settings = UploadSettings(chunk_size_bytes=10, retry=fast_settings.retry)
    async with client_for(emulator, settings) as client:
        url, session_id = await _session_with_gaps(emulator, client, 40)
        result = await client.upload_to_url(source, upload_url=url, session_id=session_id)
    # One probe byte, then bytes 10-19 and 30-39: nothing already held is sent again.
    assert result.bytes_sent == 1 + 10 + 10
    (video,) = emulator.videos()
    assert stored_bytes(emulator, video.key) == GAP_FILE


class LoseFinalAnswer(AiohttpTransport):
    """Delivers every request, but drops the answer to the segment that ends the file."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    async def send(self, request: HttpRequest, *, timeout_s: float | None = None) -> HttpResponse:
        response = await super().send(request, timeout_s=timeout_s)
        content_range = request.headers.get("X-Content-Range", "")
        if content_range and self.dropped == 0:
            span, _, total = content_range.removeprefix("bytes ").partition("/")
            if int(span.split("-")[1]) == int(total) - 1:
                self.dropped += 1
                raise ConnectionDropped("answer lost (test)")
        return response


@pytest.mark.parametrize("forget", [False, True], ids=["server-remembers", "server-forgets"])
async def test_lost_final_answer_causes_no_second_upload(
    tmp_path: Path, fast_settings: UploadSettings, forget: bool
) -> None:
    source = make_file(tmp_path / "final.mp4", 200_000)
    faults = FaultPlan(forget_completed=1.0 if forget else 0.0)
    transport = LoseFinalAnswer()
    async with Emulator(faulty_config(tmp_path, faults)) as emu:
        async with client_for(emu, fast_settings, transport=transport) as client:
            result = await client.upload(source)
        assert transport.dropped == 1
        assert result.video_key is not None
        assert stored_bytes(emu, result.video_key) == source.read_bytes()
        assert len(emu.videos()) == 1
    # The file went once, plus at most a 1-byte probe.
    assert result.bytes_sent <= 200_000 + 1


async def test_lost_final_answer_without_api_is_a_clear_error(
    tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "final.mp4", 100_000)
    async with Emulator(faulty_config(tmp_path, FaultPlan(forget_completed=1.0))) as emu:
        async with client_for(emu, fast_settings) as client:
            from vidlift.protocol.metadata import VideoMetadata
            from vidlift.protocol.urls import build_upload_url

            created = await client.api.create_video(VideoMetadata(title="x"))
            url = build_upload_url(created.link, api_format="json")
        bare = Client(settings=fast_settings, transport=LoseFinalAnswer())
        async with bare:
            with pytest.raises(RangesShrank) as info:
                await bare.upload_to_url(source, upload_url=url, session_id=created.session_id)
    message = str(info.value)
    assert str(source) in message and created.session_id in message
    assert "check the video" in message


@pytest.mark.parametrize(
    ("name", "prepare", "reason"),
    [
        ("empty.mp4", lambda p: p.write_bytes(b""), "empty"),
        ("missing.mp4", lambda p: None, "not found"),
        ("folder", lambda p: p.mkdir(), "not a regular file"),
    ],
)
async def test_bad_files_fail_before_any_request(
    emulator: Emulator,
    tmp_path: Path,
    fast_settings: UploadSettings,
    name: str,
    prepare: object,
    reason: str,
) -> None:
    path = tmp_path / name
    prepare(path)  # type: ignore[operator]
    async with client_for(emulator, fast_settings) as client:
        with pytest.raises(SourceError, match=reason) as info:
            await client.upload(path)
    assert str(path) in str(info.value)
    assert emulator.videos() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
async def test_unreadable_file_fails_clearly(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    path = make_file(tmp_path / "secret.mp4", 10)
    path.chmod(0)
    async with client_for(emulator, fast_settings) as client:
        with pytest.raises(SourceError, match="permission"):
            await client.upload(path)


async def test_file_changed_during_upload_fails_clearly(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "growing.mp4", 300_000)

    def grow(done: int) -> None:
        if done >= 100_000 and source.stat().st_size == 300_000:
            with source.open("ab") as handle:
                handle.write(b"more")

    async with client_for(emulator, fast_settings) as client:
        with pytest.raises(SourceError, match="changed since it was queued"):
            await client.upload(source, on_progress=grow)


async def test_refused_session_is_not_retried_forever(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "x.mp4", 1000)
    url = f"{emulator.endpoint}/v1/videos/upload/resumable?api_format=json&key=nokey123"
    async with Client(settings=fast_settings) as client:
        with pytest.raises(UploadError) as info:
            await client.upload_to_url(source, upload_url=url, session_id="unknownSession1")
    message = str(info.value)
    assert str(source) in message and "unknownSession1" in message
    assert emulator.request_counts().get("segment", 0) <= fast_settings.retry.max_attempts


@pytest.mark.parametrize("verify_md5", [True, False])
async def test_a_server_that_loses_bytes_is_caught_by_the_md5(
    tmp_path: Path, fast_settings: UploadSettings, verify_md5: bool
) -> None:
    """PROTOCOL.md: a server may report ranges whose bytes it lost; only the md5 tells."""
    source = make_file(tmp_path / "lost.mp4", 300_000)
    faults = FaultPlan(seed=1, lose_segment_p=1.0)
    settings = replace(fast_settings, verify_md5=verify_md5)
    async with Emulator(faulty_config(tmp_path, faults)) as emu:
        async with client_for(emu, settings) as client:
            if verify_md5:
                with pytest.raises(VerificationError, match="md5") as info:
                    await client.upload(source)
                assert str(source) in str(info.value)
            else:
                result = await client.upload(source)  # the size alone cannot tell
                assert result.md5 is None
        assert emu.fault_counts().get("lose_segment", 0) > 0
