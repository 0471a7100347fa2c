"""Exactly once when a fleet journal is new (issue 14): the platform is the truth, the
journal a cache. A library migrated (partly) by `vidlift run` on SQLite, then enqueued
into a new PostgreSQL journal, and a PostgreSQL journal lost (its schema dropped) then
enqueued again: the workers survey the platform by the library tag the first enqueue
stored, create no video twice and re-send no byte. Real PostgreSQL (a schema of its
own), real emulator, real `vidlift` subprocesses, each bounded by a timeout."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import anyio
import asyncpg
import pytest

from tests.postgres import POSTGRES_URL, fresh_schema, pg_url
from vidlift.journal.postgres import PostgresJournal
from vidlift.journal.sqlite import SqliteJournal
from vidlift.journal.state import JobState
from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import CliResult, KiB, cli_env, run_cli
from .test_fleet_cli import FLEET_ENV, _drain, _until
from .test_run_cli import assert_migrated
from .test_run_v2 import assert_v2_migrated, v2_env

__all__ = ["pg_url"]

pytestmark = pytest.mark.anyio

COUNT = 6
SIZES = (200 * KiB, 300 * KiB)


async def _vidlift(args: list[str], env: dict[str, str], cwd: Path | None = None) -> CliResult:
    with anyio.fail_after(90):  # a worker that never ends fails here
        result = await run_cli(args, env, cwd=cwd)
    assert "Traceback" not in result.stderr, result.stderr
    return result


async def _pg_keys(url: str) -> dict[str, str | None]:
    journal = await PostgresJournal.open(url)
    try:
        records = [record async for record in journal.iter_jobs()]
    finally:
        await journal.close()
    assert all(record.state is JobState.DONE for record in records), records
    return {record.job_id: record.video_key for record in records}


async def _sqlite_keys(path: Path) -> dict[str, str | None]:
    journal = await SqliteJournal.open(path)
    try:
        return {record.job_id: record.video_key async for record in journal.iter_jobs()}
    finally:
        await journal.close()


def _surveyed(stdout: str) -> list[int]:
    """The videos each survey found, from a worker's JSON event log."""
    found = []
    for line in stdout.splitlines():
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("event") == "library_surveyed":
            found.append(int(event["videos_found"]))
    return found


async def _enqueue_and_work(manifest: Path, url: str, env: dict[str, str]) -> CliResult:
    queued = await _vidlift(["enqueue", str(manifest), "--journal", url], env)
    assert queued.code == 0, queued.stderr
    worker = await _vidlift(["worker", "--journal", url, "--log-format", "json"], env)
    assert worker.code == 0, worker.stderr
    return worker


@pytest.mark.timeout(240)
async def test_a_run_on_sqlite_moved_to_a_new_fleet_journal_creates_nothing_twice(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", COUNT, sizes=SIZES)
    rows = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(rows[:5]))  # the header and 4 of the 6 rows
    env = cli_env(emulator) | FLEET_ENV
    first = await _vidlift(["run", str(manifest)], env)
    assert first.code == 0, first.stderr
    migrated = await _sqlite_keys(manifest.with_name(manifest.name + ".vidlift.sqlite"))
    assert len(migrated) == 4 and all(migrated.values())
    before = emulator.request_counts()

    manifest.write_text("".join(rows))  # the whole library, now run by the fleet
    worker = await _enqueue_and_work(manifest, pg_url, env)

    after = emulator.request_counts()
    assert_migrated(emulator, manifest, COUNT)  # one video per job, every file identical
    assert after.get("api_create", 0) - before.get("api_create", 0) == 2  # the 2 new rows
    keys = await _pg_keys(pg_url)
    assert {job: keys[job] for job in migrated} == migrated  # the same videos adopted
    assert _surveyed(worker.stdout) == [4]
    assert "vidlift: 6 done, 0 failed, 0 left, of 6 jobs" in worker.stderr, worker.stderr

    # Enqueued again, and worked again: nothing to create, so no survey either.
    again = await _enqueue_and_work(manifest, pg_url, env)
    assert _surveyed(again.stdout) == []
    assert emulator.request_counts().get("api_create", 0) == after.get("api_create", 0)


@pytest.mark.timeout(240)
async def test_on_v2_a_run_moved_to_a_new_fleet_journal_creates_no_media_twice(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 4, sizes=SIZES)
    env = v2_env(emulator) | FLEET_ENV
    first = await _vidlift(["run", str(manifest)], env)
    assert first.code == 0, first.stderr
    before = emulator.request_counts()
    assert before.get("v2_create", 0) == 4 and before.get("part", 0) >= 4  # counted

    worker = await _enqueue_and_work(manifest, pg_url, env)

    after = emulator.request_counts()
    assert_v2_migrated(emulator, manifest, 4)  # one media per job, every md5 the file's
    assert after.get("v2_create", 0) == before.get("v2_create", 0)  # 0 new media
    assert after.get("part", 0) == before.get("part", 0)  # 0 bytes re-sent
    assert _surveyed(worker.stdout) == [4]


@pytest.mark.timeout(240)
async def test_a_lost_fleet_journal_enqueued_again_duplicates_and_resends_nothing(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", COUNT, sizes=SIZES)
    env = cli_env(emulator) | FLEET_ENV
    await _enqueue_and_work(manifest, pg_url, env)
    assert_migrated(emulator, manifest, COUNT)
    first_keys = await _pg_keys(pg_url)
    before = emulator.request_counts()
    assert before.get("api_create", 0) == COUNT and before.get("segment", 0) >= COUNT

    async with fresh_schema() as lost:  # the journal lost: a new schema, the same manifest
        worker = await _enqueue_and_work(manifest, lost, env)
        keys = await _pg_keys(lost)

    after = emulator.request_counts()
    assert_migrated(emulator, manifest, COUNT)  # still one video per job
    assert keys == first_keys
    assert after.get("api_create", 0) == before.get("api_create", 0)  # 0 new videos
    assert after.get("segment", 0) == before.get("segment", 0)  # 0 bytes re-sent
    assert _surveyed(worker.stdout) == [COUNT]
    # The worker's whole cost: its survey (one listing call for the library's 6 videos),
    # each adopted file checked against what the listing carried (its md5): no other call.
    assert after.get("api", 0) - before.get("api", 0) == 1, after


@pytest.mark.timeout(120)
async def test_an_enqueue_by_another_path_keeps_the_first_library_tag(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 2, sizes=SIZES)
    (tmp_path / "alias").symlink_to(tmp_path / "lib")  # the same library, another path
    env = cli_env(emulator) | FLEET_ENV
    first = await _vidlift(["enqueue", str(manifest), "--journal", pg_url], env)
    assert first.code == 0 and "first enqueued from another path" not in first.stderr
    other = tmp_path / "alias" / manifest.name
    second = await _vidlift(["enqueue", str(other), "--journal", pg_url], env)
    assert second.code == 0, second.stderr
    assert f"{other}: this journal was first enqueued from another path" in second.stderr
    worker = await _vidlift(["worker", "--journal", pg_url], env)
    assert worker.code == 0, worker.stderr
    tags = {video.custom.get("vidlift_library") for video in emulator.videos()}
    journal = await PostgresJournal.open(pg_url)
    try:
        kept = await journal.library()
    finally:
        await journal.close()
    assert kept is not None and tags == {kept}  # every video carries the first tag


@pytest.mark.timeout(180)
async def test_a_following_worker_started_before_the_first_enqueue_adopts_too(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    """Workers started with --follow on an empty journal, then the manifest of a finished
    `vidlift run` enqueued: they wait for its library tag, survey, create nothing."""
    manifest = write_sample_library(tmp_path / "lib", COUNT, sizes=SIZES)
    env = cli_env(emulator) | FLEET_ENV
    assert (await _vidlift(["run", str(manifest)], env)).code == 0
    created = emulator.request_counts().get("api_create", 0)
    async with await PostgresJournal.open(pg_url):
        pass  # the schema exists, empty, before the worker starts
    schema = pg_url.rsplit("schema=", 1)[1]
    db = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})

    async def all_done() -> bool:
        done = await db.fetchval("SELECT COUNT(*) FROM jobs WHERE state = 'done'")
        return int(done) == COUNT

    args = [sys.executable, "-m", "vidlift", "worker", "--journal", pg_url, "--follow"]
    worker = await anyio.open_process([*args, "--log-format", "json"], env=env)
    log: list[bytes] = []
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_drain, worker, log)
            queued = await _vidlift(["enqueue", str(manifest), "--journal", pg_url], env)
            assert queued.code == 0, queued.stderr
            await _until(all_done, "the worker did not finish the queued jobs")
            worker.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                code = await worker.wait()
    finally:
        if worker.returncode is None:
            worker.kill()
        await db.close()
    text = b"".join(log).decode()
    assert code == 130 and "Traceback" not in text, text
    assert _surveyed(text) == [COUNT], text
    assert emulator.request_counts().get("api_create", 0) == created  # 0 new videos
    assert_migrated(emulator, manifest, COUNT)
