"""`vidlift run --metrics-port`: Prometheus metrics scraped while the run goes on."""

from __future__ import annotations

import re
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator, FaultPlan
from vidlift.testing.library import write_sample_library

from .conftest import KiB, cli_env, emulator_config, run_cli

pytestmark = pytest.mark.anyio


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[str, float] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def test_metrics_are_served_during_the_run(tmp_path: Path) -> None:
    manifest = write_sample_library(tmp_path / "lib", 4, sizes=(256 * KiB,))
    port = free_port()
    faults = FaultPlan(seed=3, drop_mid_segment_p=0.15)
    async with Emulator(emulator_config(tmp_path, faults, api_calls_per_minute=600)) as emu:
        env = cli_env(emu)
        args = ["run", str(manifest), "--log-format", "json", "--metrics-port", str(port)]
        args += ["--bwlimit", "512KiB", "--chunk-size", "64KiB", "--concurrency", "2"]
        process = await anyio.open_process([sys.executable, "-m", "vidlift", *args], env=env)
        seen: list[dict[str, float]] = []
        with anyio.fail_after(60):
            while process.returncode is None:
                samples = await anyio.to_thread.run_sync(scrape, port)
                if samples is not None:
                    seen.append(samples)
                await anyio.sleep(0.2)
            assert await process.wait() == 0
    mid = [s for s in seen if 0 < s["vidlift_bytes_acknowledged_total"] < 1024 * KiB]
    assert mid, seen[-1:] or "no scrape answered"
    last = seen[-1]
    assert last["vidlift_bytes_acknowledged_total"] >= 3 * 256 * KiB
    assert last["vidlift_segment_seconds_count"] >= 12  # 4 files x 4 segments of 64 KiB
    assert last["vidlift_api_calls_total"] >= 4
    assert 0 < last["vidlift_api_quota_remaining"] < last["vidlift_api_quota_limit"] == 600
    assert any(s['vidlift_jobs{state="in_flight"}'] >= 1 for s in mid)
    assert any(s["vidlift_rate_bytes_per_second"] > 0 for s in mid)
    retries = sum(v for k, v in last.items() if k.startswith("vidlift_retries_total{"))
    resent = last["vidlift_bytes_resent_total"]
    assert retries >= 1 and resent > 0  # drops at 15 % of 16+ segments, seed 3
    assert any(re.match(r'vidlift_retries_total\{reason="\w+"\}', k) for k in last)


async def test_a_busy_metrics_port_is_a_usage_error(emulator: Emulator, tmp_path: Path) -> None:
    manifest = write_sample_library(tmp_path / "lib", 1, sizes=(40 * KiB,))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = await run_cli(
            ["run", str(manifest), "--metrics-port", str(port)], cli_env(emulator)
        )
    assert result.code == 2 and "Traceback" not in result.stderr
    assert f"metrics_port {port}: cannot listen" in result.stderr
