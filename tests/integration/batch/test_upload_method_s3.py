"""v1 ``--upload-method s3`` (issue 12 point 3): videos/create answers one signed PUT link
per file; not resumable, so a failed PUT sends the whole file again; the same exactly-once
guarantee (a lost create answer is looked up by the video's marker); an expired link gets
a new one on the same video (videos/update)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from vidlift import BatchSettings, SqliteJournal
from vidlift.testing.emulator import Emulator, FaultPlan
from vidlift.testing.library import write_sample_library

from .conftest import KiB, cli_env, emulator_config, run_cli
from .test_library_batch import batch, one_identical_video_per_job, settings

pytestmark = pytest.mark.anyio


def s3_settings(concurrency: int = 4, attempts: int = 12) -> BatchSettings:
    """The fast test settings, each file in one signed PUT."""
    fast = settings(concurrency, attempts)
    return replace(fast, upload=replace(fast.upload, upload_method="s3"))


async def test_s3_uploads_survive_drops_lost_answers_and_expired_links(tmp_path: Path) -> None:
    faults = FaultPlan(
        part_drop_p=0.2,  # a PUT cut mid-body: the whole file again
        part_lost_answer_p=0.2,  # stored, answer lost: PUT again (S3 overwrites)
        part_503_p=0.1,
        part_expired_p=0.25,  # 403: a new link on the same video
        truncated_answer_p=0.1,  # API answers cut (creates among them): look-up by marker
        seed=3,
    )  # one file at a time: the faults are drawn in the same order on every run
    async with Emulator(emulator_config(tmp_path, faults, fsync=False)) as emu:
        count = 12
        manifest = write_sample_library(tmp_path / "lib", count, sizes=(30 * KiB, 200 * KiB))
        journal = await SqliteJournal.open(tmp_path / "j.sqlite")
        try:
            outcome = await batch(emu, manifest, journal, settings=s3_settings(1, attempts=20))
        finally:
            await journal.close()
        assert (outcome.done, outcome.failed) == (count, 0), outcome
        one_identical_video_per_job(emu, manifest, count)  # one video per row, identical
        counts, injected = emu.request_counts(), emu.fault_counts()
        assert counts.get("segment", 0) == 0  # no resumable segment: PUTs only
        assert counts.get("s3_put", 0) > count  # some files went up more than once
        assert injected.get("part_expired", 0) >= 1 and counts.get("api_update", 0) >= 1
        assert injected.get("part_lost_answer", 0) >= 1


async def test_s3_link_is_signed_and_refused_once_expired(tmp_path: Path) -> None:
    """The emulator's side: a tampered or expired link is 403 (S3 XML), nothing stored."""
    async with Emulator(emulator_config(tmp_path, fsync=False)) as emu:
        manifest = write_sample_library(tmp_path / "lib", 1, sizes=(30 * KiB,))
        journal = await SqliteJournal.open(tmp_path / "j.sqlite")
        try:
            await batch(emu, manifest, journal, settings=s3_settings())
            record = await journal.get("legacy-001")
        finally:
            await journal.close()
        assert record is not None and record.session_id == "s3" and record.upload_url
        link = record.upload_url
        async with aiohttp.ClientSession() as http:
            tampered = link.replace("X-Amz-Expires=", "X-Amz-Expires=9")
            async with http.put(tampered, data=b"x") as answer:
                assert answer.status == 403 and b"SignatureDoesNotMatch" in await answer.read()
            emu.shift_clock(2 * 3600)
            async with http.put(link, data=b"x") as answer:
                assert answer.status == 403 and b"AccessDenied" in await answer.read()
        [video] = emu.videos()
        source = manifest.parent / "videos" / "clip-001.mp4"
        assert video.md5 == hashlib.md5(source.read_bytes()).hexdigest()


async def test_cli_run_and_upload_with_upload_method_s3(tmp_path: Path) -> None:
    async with Emulator(emulator_config(tmp_path, fsync=False)) as emu:
        manifest = write_sample_library(tmp_path / "lib", 3, sizes=(40 * KiB,))
        env = cli_env(emu) | {"XDG_STATE_HOME": str(tmp_path / "state")}
        result = await run_cli(["run", str(manifest), "--upload-method", "s3"], env)
        assert result.code == 0, result.stderr
        assert "3 done, 0 failed" in result.stderr
        one_identical_video_per_job(emu, manifest, 3)
        extra = tmp_path / "talk.mp4"
        extra.write_bytes(b"\x01" * 70_000)
        args = ["upload", str(extra), "--upload-method", "s3", "--json"]
        uploaded = await run_cli(args, env)
        assert uploaded.code == 0, uploaded.stderr
        document = json.loads(uploaded.stdout)
        assert document["md5"] == hashlib.md5(extra.read_bytes()).hexdigest()
        assert document["segments_sent"] == 1
        assert emu.api_secret not in result.stdout + result.stderr + uploaded.stdout
        refused = await run_cli(
            [
                "run",
                str(manifest),
                "--upload-method",
                "s3",
                "--api",
                "v2",
                "--site-id",
                emu.site_id,
            ],
            env,
        )
        assert refused.code == 2 and "v1's" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
