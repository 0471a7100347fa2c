"""``--bwlimit`` in a run: v2 parts and direct PUTs, and v1's s3 PUTs, draw on the run's
one throttle like v1 segments (before, only v1 segments did). The throttle runs on a fake
clock: the test checks how many bytes it let through, not how long anything took."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from vidlift import MemoryJournal
from vidlift.client.throttle import Throttle
from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import KiB, emulator_config
from .test_library_batch import batch, settings

pytestmark = pytest.mark.anyio
MiB = 1024 * KiB
RATE = 4 * MiB  # bytes per fake second
BURST = 64 * KiB


class FakeTime:
    """A clock that moves only when the throttle sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("api", ["v2", "v1-s3"])
async def test_the_bandwidth_limit_covers_every_uploaded_byte(tmp_path: Path, api: str) -> None:
    sizes = (200 * KiB, 11 * MiB) if api == "v2" else (200 * KiB, 600 * KiB)
    manifest = write_sample_library(tmp_path / "lib", 4, sizes=sizes)
    total = sum(path.stat().st_size for path in (manifest.parent / "videos").iterdir())
    fake = FakeTime()
    throttle = Throttle(RATE, burst_bytes=BURST, clock=fake.clock, sleep=fake.sleep)
    fast = settings(concurrency=2)
    if api == "v1-s3":
        fast = replace(fast, upload=replace(fast.upload, upload_method="s3"))
    async with Emulator(emulator_config(tmp_path, fsync=False)) as emu:
        site_id = emu.site_id if api == "v2" else None
        outcome = await batch(
            emu, manifest, MemoryJournal(), settings=fast, throttle=throttle, site_id=site_id
        )
        assert outcome.done == 4 and outcome.failed == 0, outcome
        assert emu.request_counts()["bytes_received"] == total  # each byte sent once
    assert fake.now == pytest.approx(total / RATE, rel=1e-9)
