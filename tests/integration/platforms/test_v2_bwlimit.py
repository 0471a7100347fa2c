"""``--bwlimit`` on v2 (and v1's s3 PUT): every byte of every part and direct PUT passes
through the process's bandwidth throttle. Real emulator over loopback; the throttle runs
on a fake clock, so the test measures how much it was asked to let through, not time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.platforms.conftest import MIB, make_file, md5_of, settings_for
from vidlift.client.source import SourceFile
from vidlift.client.throttle import Throttle
from vidlift.client.transport import AiohttpTransport
from vidlift.platforms.v2 import V2Platform
from vidlift.protocol.metadata import VideoMetadata
from vidlift.testing.emulator import Emulator

pytestmark = pytest.mark.anyio

RATE = 1 * MIB  # bytes per fake second
BURST = 64 * 1024


class FakeTime:
    """A clock that moves only when the throttle sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("size", "zero_copy"),
    [(12 * MIB + 321, True), (12 * MIB + 321, False), (300 * 1024, True)],
    ids=["parts-sendfile-allowed", "parts-streamed", "direct"],
)
async def test_every_part_byte_goes_through_the_throttle(
    emulator: Emulator, transport: AiohttpTransport, tmp_path: Path, size: int, zero_copy: bool
) -> None:
    fake = FakeTime()
    throttle = Throttle(RATE, burst_bytes=BURST, clock=fake.clock, sleep=fake.sleep)
    settings = settings_for(emulator, zero_copy=zero_copy)
    platform = V2Platform(transport, settings, throttle=throttle)
    path = make_file(tmp_path / "clip.mp4", size)
    handle = await platform.create(VideoMetadata(title="t"), marker="j", tag=None, size_bytes=size)
    transfer = platform.transfer(handle, size, None)
    source = await SourceFile.inspect(path)
    async with source.open() as reader:
        await transfer.run(reader)
    [media] = emulator.media()
    assert media.md5 == md5_of(path)
    # Each byte drew on the bucket once, which starts empty: size / RATE fake seconds.
    assert fake.now == pytest.approx(size / RATE, rel=1e-9)
    assert emulator.request_counts()["bytes_received"] == size
