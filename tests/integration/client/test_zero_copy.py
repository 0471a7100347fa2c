"""Zero-copy (sendfile) segment bodies: used only when nothing needs the bytes, and exact."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from vidlift import Client, UploadResult, UploadSettings
from vidlift.client.fileslice import FileSlice, loop_can_sendfile
from vidlift.client.transport import AiohttpTransport, HttpRequest, HttpResponse
from vidlift.client.uploader import HASH_BESIDE_MIN_BYTES
from vidlift.testing.emulator import Emulator, FaultPlan

from .conftest import faulty_config, make_file

pytestmark = pytest.mark.anyio


class CountingTransport(AiohttpTransport):
    """The real transport, counting which kind of body each segment had."""

    def __init__(self) -> None:
        super().__init__()
        self.slices = 0
        self.streams = 0

    async def send(self, request: HttpRequest, *, timeout_s: float | None = None) -> HttpResponse:
        if "X-Content-Range" in request.headers:
            if isinstance(request.body, FileSlice):
                self.slices += 1
            else:
                self.streams += 1
        return await super().send(request, timeout_s=timeout_s)


async def upload_result(
    emu: Emulator, settings: UploadSettings, source: Path
) -> tuple[CountingTransport, UploadResult]:
    transport = CountingTransport()
    async with Client(
        endpoint=emu.endpoint,
        api_key=emu.api_key,
        api_secret=emu.api_secret,
        settings=settings,
        transport=transport,
    ) as client:
        result = await client.upload(source)
    assert result.video_key is not None
    assert_identical(emu, result.video_key, source)
    return transport, result


async def upload(emu: Emulator, settings: UploadSettings, source: Path) -> CountingTransport:
    return (await upload_result(emu, settings, source))[0]


def assert_identical(emu: Emulator, key: str, source: Path) -> None:
    stored = emu.video_file(key)
    assert stored is not None and stored.read_bytes() == source.read_bytes()


async def test_sendfile_is_used_without_md5_and_bytes_are_exact(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "z.mp4", 500_000)
    transport = await upload(emulator, replace(fast_settings, verify_md5=False), source)
    assert transport.slices == 8 and transport.streams == 0  # 500000 / 65536 rounded up


async def test_with_md5_small_segments_stream_through_python(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "z.mp4", 200_000)
    transport = await upload(emulator, fast_settings, source)
    assert transport.slices == 0 and transport.streams == 4


async def test_with_md5_large_segments_go_zero_copy_and_are_hashed_beside(
    tmp_path: Path, fast_settings: UploadSettings
) -> None:
    # 2 MiB segments (the threshold) go zero-copy, the short last one streams; drops make
    # segments go twice. The md5 must still be the whole file's, once, in order.
    size = 2 * HASH_BESIDE_MIN_BYTES + 300_000
    source = make_file(tmp_path / "z.mp4", size)
    settings = replace(
        fast_settings,
        chunk_size_bytes=HASH_BESIDE_MIN_BYTES,
        retry=replace(fast_settings.retry, max_attempts=20),
    )
    faults = FaultPlan(seed=2, drop_mid_segment_p=0.3)
    async with Emulator(faulty_config(tmp_path, faults)) as emu:
        transport, result = await upload_result(emu, settings, source)
        video = emu.video(result.video_key or "")
        assert emu.fault_counts().get("drop_mid_segment", 0) > 0
    expected = hashlib.md5(source.read_bytes(), usedforsecurity=False).hexdigest()
    assert result.md5 == expected
    assert video is not None and video.md5 == expected  # the platform's: verified equal
    assert transport.slices >= 2 and transport.streams >= 1


async def test_sendfile_survives_dropped_connections(
    tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "z.mp4", 700_000)
    settings = replace(
        fast_settings, verify_md5=False, retry=replace(fast_settings.retry, max_attempts=20)
    )
    faults = FaultPlan(seed=4, drop_mid_segment_p=0.3, lost_ack_p=0.1)
    async with Emulator(faulty_config(tmp_path, faults)) as emu:
        transport = await upload(emu, settings, source)
        assert emu.fault_counts().get("drop_mid_segment", 0) > 0
    assert transport.slices > 11


@pytest.mark.parametrize("anyio_backend", [("asyncio", {"use_uvloop": True})], ids=["uvloop"])
async def test_event_loops_without_sendfile_fall_back_to_copying(
    tmp_path: Path, fast_settings: UploadSettings, anyio_backend: object
) -> None:
    pytest.importorskip("uvloop")
    source = make_file(tmp_path / "z.mp4", 300_000)
    async with Emulator(faulty_config(tmp_path, FaultPlan())) as emu:
        transport = await upload(emu, replace(fast_settings, verify_md5=False), source)
    assert transport.slices == 5  # still FileSlice bodies, sent by copying


@pytest.mark.parametrize(
    ("anyio_backend", "sendfile"),
    [("asyncio", True), (("asyncio", {"use_uvloop": True}), False)],
    ids=["asyncio", "uvloop"],
)
async def test_a_hashing_reader_streams_on_loops_without_sendfile(
    tmp_path: Path, fast_settings: UploadSettings, anyio_backend: object, sendfile: bool
) -> None:
    pytest.importorskip("uvloop")
    assert loop_can_sendfile() is sendfile
    source = make_file(tmp_path / "z.mp4", HASH_BESIDE_MIN_BYTES)
    settings = replace(fast_settings, chunk_size_bytes=HASH_BESIDE_MIN_BYTES)
    async with Emulator(faulty_config(tmp_path, FaultPlan())) as emu:
        transport = await upload(emu, settings, source)  # md5 on
    assert (transport.slices, transport.streams) == ((1, 0) if sendfile else (0, 1))


async def test_without_md5_the_final_answer_size_is_enough(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "z.mp4", 100_000)
    await upload(emulator, replace(fast_settings, verify_md5=False), source)
    assert emulator.request_counts().get("api_show", 0) == 0
    await upload(emulator, fast_settings, source)
    assert emulator.request_counts().get("api_show", 0) == 1
