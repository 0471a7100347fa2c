"""`vidlift run` in a pipe: summary lines carry the real rate and ETA (issue 11 point 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import KiB, cli_env, run_cli

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_mid_run_summaries_show_rate_and_eta(
    emulator: Emulator, tmp_path: Path, log_format: str
) -> None:
    # 4 x 256 KiB at 512 KiB/s: about 2 s, a summary every 0.3 s.
    manifest = write_sample_library(tmp_path / "lib", 4, sizes=(256 * KiB,))
    env = cli_env(emulator) | {"VIDLIFT_LOG_INTERVAL_S": "0.3"}
    args = ["run", str(manifest), "--log-format", log_format, "--bwlimit", "512KiB"]
    args += ["--chunk-size", "64KiB", "--concurrency", "2"]
    result = await run_cli(args, env)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    if log_format == "json":
        records = [json.loads(line) for line in lines]  # one object per line
        summaries = [r for r in records if r["event"] == "summary"]
        mid = [s for s in summaries[:-1] if 0 < s["bytes_done"] < s["bytes_total"]]
        assert mid, summaries
        assert all(s["rate_bytes_per_s"] > 0 and s["eta_s"] is not None for s in mid), mid
        assert all(100 * KiB < s["rate_bytes_per_s"] < 2048 * KiB for s in mid[1:]), mid
        assert summaries[-1]["files_done"] == 4 and summaries[-1]["eta_s"] == 0
    else:
        summaries = [line for line in lines if " summary " in line]
        mid = [line for line in summaries[:-1] if " rate_bytes_per_s=0 " not in line]
        assert len(mid) >= 2, summaries
        assert all(" eta_s=null" not in line for line in mid), mid
        started = [line for line in lines if " job_started " in line]
        assert all('path="' in line for line in started), started
