"""`vidlift enqueue` then `vidlift worker` on one SQLite journal: two processes, one
file. The worker tags the videos with the library's tag the enqueue kept, so a journal
lost afterwards creates nothing twice (`vidlift run` surveys the platform by that tag);
a row removed from the manifest is not uploaded. Real emulator, real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import CliResult, KiB, cli_env, run_cli
from .test_run_cli import assert_migrated

pytestmark = pytest.mark.anyio

COUNT = 4


async def _vidlift(args: list[str], env: dict[str, str]) -> CliResult:
    with anyio.fail_after(90):
        result = await run_cli(args, env)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code == 0, result.stderr
    return result


@pytest.mark.timeout(180)
async def test_a_worker_after_enqueue_tags_its_videos_so_a_lost_journal_creates_nothing_twice(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", COUNT, sizes=(100 * KiB, 150 * KiB))
    journal = tmp_path / "queue.sqlite"
    env = cli_env(emulator)
    await _vidlift(["enqueue", str(manifest), "--journal", str(journal)], env)
    await _vidlift(["worker", "--journal", str(journal)], env)
    assert_migrated(emulator, manifest, COUNT)
    assert {video.custom.get("vidlift_library") for video in emulator.videos()} != {None}
    creates = emulator.request_counts().get("api_create", 0)

    journal.unlink()  # lost: a new journal, the same manifest
    again = await _vidlift(["run", str(manifest), "--journal", str(tmp_path / "new.sqlite")], env)
    assert emulator.request_counts().get("api_create", 0) == creates, again.stderr
    assert_migrated(emulator, manifest, COUNT)  # still one video per row


@pytest.mark.timeout(180)
async def test_a_row_removed_before_the_worker_starts_is_not_uploaded(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", COUNT, sizes=(100 * KiB,))
    journal = tmp_path / "queue.sqlite"
    env = cli_env(emulator)
    await _vidlift(["enqueue", str(manifest), "--journal", str(journal)], env)
    rows = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(rows[:-1]))  # the last row leaves the manifest
    queued = await _vidlift(["enqueue", str(manifest), "--journal", str(journal)], env)
    assert "1 job of the journal no longer in" in queued.stdout + queued.stderr  # kept
    await _vidlift(["worker", "--journal", str(journal)], env)
    uploaded = sorted(str(video.custom["vidlift_job_id"]) for video in emulator.videos())
    assert uploaded == [f"legacy-{n:03d}" for n in range(1, COUNT)]
    # `status` and `report` (other processes, read-only) read what enqueue noted.
    status = await _vidlift(["status", "--journal", str(journal), "--json"], env)
    assert json.loads(status.stdout)["not_in_manifest"] == 1
    report = await _vidlift(["report", "--journal", str(journal), "--format", "json"], env)
    marks = {row["id"]: row["in_manifest"] for row in json.loads(report.stdout)}
    assert marks == {f"legacy-{n:03d}": "yes" for n in range(1, COUNT)} | {
        f"legacy-{COUNT:03d}": "no"
    }
