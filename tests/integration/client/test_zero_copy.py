"""Zero-copy (sendfile) segment bodies: used only when nothing needs the bytes, and exact."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from vidlift import Client, UploadSettings
from vidlift.client.fileslice import FileSlice
from vidlift.client.transport import AiohttpTransport, HttpRequest, HttpResponse
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


async def upload(emu: Emulator, settings: UploadSettings, source: Path) -> CountingTransport:
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
    return transport


def assert_identical(emu: Emulator, key: str, source: Path) -> None:
    stored = emu.video_file(key)
    assert stored is not None and stored.read_bytes() == source.read_bytes()


async def test_sendfile_is_used_without_md5_and_bytes_are_exact(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "z.mp4", 500_000)
    transport = await upload(emulator, replace(fast_settings, verify_md5=False), source)
    assert transport.slices == 8 and transport.streams == 0  # 500000 / 65536 rounded up


async def test_md5_verification_streams_through_python(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "z.mp4", 200_000)
    transport = await upload(emulator, fast_settings, source)
    assert transport.slices == 0 and transport.streams == 4


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


async def test_without_md5_the_final_answer_size_is_enough(
    emulator: Emulator, tmp_path: Path, fast_settings: UploadSettings
) -> None:
    source = make_file(tmp_path / "z.mp4", 100_000)
    await upload(emulator, replace(fast_settings, verify_md5=False), source)
    assert emulator.request_counts().get("api_show", 0) == 0
    await upload(emulator, fast_settings, source)
    assert emulator.request_counts().get("api_show", 0) == 1
