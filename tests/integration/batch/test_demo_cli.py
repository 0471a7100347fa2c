"""`vidlift demo` (what `make demo` runs) as a real subprocess: migrate, report, run again."""

from __future__ import annotations

import os
import re
import sys

import anyio
import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("api", "last_line"),
    [
        ("v1", "second run sent 0 segments; the emulator holds 6 videos"),
        ("v2", "second run sent 0 parts; the emulator holds 6 media"),
    ],
)
async def test_demo_migrates_the_sample_library_and_the_second_run_sends_nothing(
    api: str, last_line: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    result = await anyio.run_process(
        [sys.executable, "-m", "vidlift", "demo", "--files", "6", "--api", api],
        env=env,
        check=False,
    )
    out = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, out
    assert f"speaking JW's {api} API" in out
    assert len(re.findall(r"6 of 6 files on the platform", out)) == 2, out  # both runs
    assert last_line in out
    # `vidlift run`'s defaults: concurrency auto, 16 for these ~4 MiB files; the second
    # run has nothing left to send
    assert re.findall(r"concurrency=(\d+)", out) == ["16", "8"], out
