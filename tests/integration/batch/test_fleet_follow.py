"""Fleet mode (issue 14): `vidlift worker --follow` waits for jobs queued later and
stops cleanly on SIGTERM; `vidlift status` shows a stuck lease. Real PostgreSQL (a schema
of its own), real emulator, real `vidlift` subprocesses; every wait bounded."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import anyio
import asyncpg
import pytest

from tests.postgres import POSTGRES_URL, pg_url
from vidlift.journal.postgres import PostgresJournal
from vidlift.testing.emulator import Emulator
from vidlift.testing.journal_conformance import sample_entry
from vidlift.testing.library import write_sample_library

from .conftest import SECRET, KiB, cli_env, run_cli
from .test_fleet_cli import FLEET_ENV, _drain, _until
from .test_run_cli import assert_migrated

__all__ = ["pg_url"]

pytestmark = pytest.mark.anyio


@pytest.mark.timeout(120)
async def test_a_following_worker_takes_jobs_queued_later_then_stops_on_sigterm(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 3, sizes=(40 * KiB, 70 * KiB))
    rows = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(rows[:2]))  # the header and the first row
    env = cli_env(emulator) | FLEET_ENV
    assert (await run_cli(["enqueue", str(manifest), "--journal", pg_url], env)).code == 0
    schema = pg_url.rsplit("schema=", 1)[1]
    db = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})

    async def done() -> int:
        return int(await db.fetchval("SELECT COUNT(*) FROM jobs WHERE state = 'done'"))

    args = [sys.executable, "-m", "vidlift", "worker", "--journal", pg_url, "--follow"]
    worker = await anyio.open_process([*args, "--log-format", "json"], env=env)
    log: list[bytes] = []
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_drain, worker, log)
            await _until(lambda: _at_least(done, 1), "the first job was never done")
            manifest.write_text("".join(rows))  # two more rows, queued while it waits
            queued = await run_cli(["enqueue", str(manifest), "--journal", pg_url], env)
            assert queued.code == 0 and "2 new jobs" in queued.stdout, queued.stderr
            await _until(lambda: _at_least(done, 3), "the worker did not take the new jobs")
            assert worker.returncode is None  # --follow: it waits for more
            worker.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                code = await worker.wait()
    finally:
        if worker.returncode is None:
            worker.kill()
        await db.close()
    text = b"".join(log).decode()
    assert code == 130, text  # interrupted: `vidlift worker` again goes on
    assert "3 done, 0 failed, 0 left, of 3 jobs" in text, text
    assert "Traceback" not in text and SECRET not in text
    assert_migrated(emulator, manifest, 3)


async def _at_least(count: object, n: int) -> bool:
    return await count() >= n  # type: ignore[operator, no-any-return]


@pytest.mark.timeout(60)
async def test_status_shows_a_stuck_lease(emulator: Emulator, pg_url: str) -> None:
    """A worker that stopped renewing (paused, cut off) leaves an expired lease that
    nobody took over yet: `vidlift status` counts it."""
    env = cli_env(emulator)
    async with await PostgresJournal.open(pg_url) as journal:
        await journal.add_entries([sample_entry(1), sample_entry(2)])
        assert len(await journal.claim("gone-host:1:abc", 1, 0.05)) == 1
        await anyio.sleep(0.2)  # waits for time itself: the lease runs out
        status = await run_cli(["status", "--journal", pg_url], env)
        as_json = await run_cli(["status", "--journal", pg_url, "--json"], env)
    assert status.code == 0, status.stderr
    assert "stuck leases: 1 jobs whose worker stopped renewing" in status.stdout, status.stdout
    assert as_json.code == 0 and json.loads(as_json.stdout)["stuck_leases"] == 1
