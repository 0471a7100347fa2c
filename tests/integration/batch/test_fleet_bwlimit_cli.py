"""`vidlift worker --bwlimit-total`: a worker takes its share of the fleet's limit and
says so; a bad value is refused with the setting named, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.postgres import pg_url
from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import KiB, cli_env, run_cli
from .test_fleet_cli import FLEET_ENV
from .test_run_cli import assert_migrated

__all__ = ["pg_url"]

pytestmark = pytest.mark.anyio


async def test_a_worker_runs_at_its_share_of_the_fleet_limit(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 3, sizes=(40 * KiB, 90 * KiB))
    env = cli_env(emulator) | FLEET_ENV
    queued = await run_cli(["enqueue", str(manifest), "--journal", pg_url], env)
    assert queued.code == 0, queued.stderr
    args = ["worker", "--journal", pg_url, "--bwlimit-total", "2MiB", "--log-format", "text"]
    result = await run_cli(args, env)
    assert result.code == 0, result.stderr
    # alone in the fleet: all of it (the notice comes before any job is claimed)
    assert "bandwidth: 2.0 MiB/s, this worker's share of 2.0 MiB/s for 1 worker" in result.stderr
    assert_migrated(emulator, manifest, 3)
    capped = await run_cli([*args, "--bwlimit", "512KiB"], env)  # nothing left: it just ends
    assert capped.code == 0, capped.stderr
    assert "bandwidth: 512.0 KiB/s, this worker's share of 2.0 MiB/s" in capped.stderr


async def test_a_bad_fleet_limit_is_refused_by_name(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    env = cli_env(emulator) | FLEET_ENV
    for args, name in (
        (["--bwlimit-total", "10"], "flag --bwlimit-total"),
        (["--bwlimit-total", "lots"], "flag --bwlimit-total"),
    ):
        result = await run_cli(["worker", "--journal", pg_url, *args], env)
        assert result.code == 2, result.stderr
        assert name in result.stderr or "--bwlimit-total" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    bad_env = env | {"VIDLIFT_BWLIMIT_TOTAL": "1"}
    result = await run_cli(["worker", "--journal", pg_url], bad_env)
    assert result.code == 2 and "VIDLIFT_BWLIMIT_TOTAL" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
