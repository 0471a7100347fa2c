"""`vidlift run --api v2` as a real subprocess against the emulator's v2 half: every file
once, byte-identical, parts in flight; a faulty run; a run again creates nothing; errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vidlift.testing.emulator import Emulator, FaultPlan
from vidlift.testing.library import write_sample_library

from .conftest import KiB, cli_env, emulator_config, run_cli

pytestmark = pytest.mark.anyio
MiB = 1024 * KiB


def assert_v2_migrated(emu: Emulator, manifest: Path, count: int) -> None:
    media = emu.media()
    ids = sorted(m.external_id or "" for m in media)
    assert ids == [f"legacy-{n:03d}" for n in range(1, count + 1)]  # one media per job
    for record in media:
        number = int((record.external_id or "").split("-")[1])
        source = manifest.parent / "videos" / f"clip-{number:03d}.mp4"
        assert record.md5 == hashlib.md5(source.read_bytes()).hexdigest(), record.media_id


def v2_env(emu: Emulator) -> dict[str, str]:
    env = cli_env(emu)
    del env["VIDLIFT_API_KEY"]  # v2 needs the secret and a site id only
    env.update(VIDLIFT_API="v2", VIDLIFT_SITE_ID=emu.site_id)
    return env


async def test_run_v2_migrates_with_parts_and_direct_uploads(tmp_path: Path) -> None:
    faults = FaultPlan(part_503_p=0.2, part_drop_p=0.1, v2_complete_lost_answer_p=0.3, seed=5)
    async with Emulator(emulator_config(tmp_path, faults, fsync=False)) as emu:
        sizes = (200 * KiB, 11 * MiB, 6 * MiB)  # direct, 3 parts, 2 parts (5 MiB floor)
        manifest = write_sample_library(tmp_path / "lib", 5, sizes=sizes)
        env = v2_env(emu)
        args = ["run", str(manifest), "--chunk-size", "5MiB", "--parts-in-flight", "2"]
        result = await run_cli(args, env)
        assert result.code == 0, result.stderr
        assert "5 done, 0 failed" in result.stderr
        assert_v2_migrated(emu, manifest, 5)
        assert emu.api_secret not in result.stdout + result.stderr
        again = await run_cli(["run", str(manifest)], env)
        assert again.code == 0, again.stderr
        assert len(emu.media()) == 5


async def test_run_v2_without_a_site_id_is_a_usage_error(tmp_path: Path) -> None:
    async with Emulator(emulator_config(tmp_path)) as emu:
        manifest = write_sample_library(tmp_path / "lib", 1, sizes=(100 * KiB,))
        env = v2_env(emu)
        del env["VIDLIFT_SITE_ID"]
        result = await run_cli(["run", str(manifest)], env)
        assert result.code == 2
        assert "VIDLIFT_SITE_ID" in result.stderr and "Traceback" not in result.stderr
        assert emu.media() == []


async def test_run_v2_counts_parts_in_flight_once(tmp_path: Path) -> None:
    """Parts of one file acknowledged one by one while others are in flight: the progress
    (and so the summary's bytes sent and re-sent) counts each byte once."""
    async with Emulator(emulator_config(tmp_path, fsync=False)) as emu:
        manifest = write_sample_library(tmp_path / "lib", 2, sizes=(12 * MiB,))
        args = ["run", str(manifest), "--chunk-size", "5MiB", "--parts-in-flight", "3"]
        result = await run_cli([*args, "--log-format", "text"], v2_env(emu))
        assert result.code == 0, result.stderr
        summary = [line for line in result.stdout.splitlines() if " summary " in line][-1]
        assert f"bytes_sent={2 * 12 * MiB} bytes_resent=0" in summary, summary
        assert emu.request_counts().get("bytes_received") == 2 * 12 * MiB


async def test_run_v2_with_a_bandwidth_limit(tmp_path: Path) -> None:
    """--bwlimit reaches v2's parts through `vidlift run` (its effect: fake-clock tests in
    test_run_bwlimit.py); before, a v2 run ignored it."""
    async with Emulator(emulator_config(tmp_path, fsync=False)) as emu:
        manifest = write_sample_library(tmp_path / "lib", 3, sizes=(200 * KiB, 6 * MiB))
        args = ["run", str(manifest), "--chunk-size", "5MiB", "--bwlimit", "64M"]
        result = await run_cli(args, v2_env(emu))
        assert result.code == 0, result.stderr
        assert "3 done, 0 failed" in result.stderr
        assert_v2_migrated(emu, manifest, 3)
