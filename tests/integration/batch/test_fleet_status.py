"""`vidlift status` on a PostgreSQL journal tells live workers from ended and silent ones
(issues 14/15): workers that finished their queue are listed as ended, not active, and a
worker's jobs held show from its first claim, not from its first heartbeat."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest

from tests.postgres import POSTGRES_URL, pg_url
from vidlift.journal.leases import WorkerInfo
from vidlift.journal.postgres import PostgresJournal
from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import CliResult, KiB, cli_env, run_cli
from .test_run_cli import assert_migrated

__all__ = ["pg_url"]

pytestmark = pytest.mark.anyio

# A lease of 60 s: the first heartbeat comes 20 s after a worker starts, long after it
# claimed its first job, so `jobs held` while uploading comes from the claim itself.
# 100 KB/s a worker: each sends for ~10 s, time for `status` to start and read.
FLEET_ENV = {"VIDLIFT_LEASE_S": "60", "VIDLIFT_POLL_S": "0.2"}


async def _cli(args: Sequence[str], env: dict[str, str]) -> CliResult:
    with anyio.fail_after(60):
        return await run_cli(args, env)


async def _status_json(url: str, env: dict[str, str]) -> dict[str, Any]:
    result = await _cli(["status", "--journal", url, "--json"], env)
    assert result.code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


async def _uploading(db: asyncpg.Connection) -> str | None:
    """The lease owner of a job being uploaded now, if any."""
    owner: str | None = await db.fetchval(
        "SELECT lease_owner FROM jobs WHERE state = 'uploading' "
        "AND lease_owner IS NOT NULL ORDER BY seq LIMIT 1"
    )
    return owner


@pytest.mark.timeout(180)
async def test_workers_that_finished_are_listed_as_ended_not_active(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 4, sizes=(500 * KiB, 600 * KiB))
    env = cli_env(emulator) | FLEET_ENV
    queued = await _cli(["enqueue", str(manifest), "--journal", pg_url], env)
    assert queued.code == 0, queued.stderr
    schema = pg_url.rsplit("schema=", 1)[1]
    db = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})
    args = ["worker", "--journal", pg_url, "--concurrency", "1", "--bwlimit", "100K"]
    workers = [
        await anyio.open_process(
            [sys.executable, "-m", "vidlift", *args], env=env, stdout=None, stderr=None
        )
        for _ in range(2)
    ]
    try:
        with anyio.fail_after(60):
            while (owner := await _uploading(db)) is None:  # noqa: ASYNC110
                await anyio.sleep(0.05)
        during = await _status_json(pg_url, env)
        with anyio.fail_after(120):
            codes = [await process.wait() for process in workers]
    finally:
        for process in workers:
            if process.returncode is None:
                process.kill()
        await db.close()
    assert codes == [0, 0]
    assert_migrated(emulator, manifest, 4)
    uploader = {w["id"]: w for w in during["workers"]}[owner]
    assert uploader["jobs_held"] >= 1 and uploader["ended_s_ago"] is None
    assert during["active"] is True

    after = await _status_json(pg_url, env)
    assert after["active"] is False and len(after["workers"]) == 2
    assert all(w["ended_s_ago"] is not None and w["ended_s_ago"] >= 0 for w in after["workers"])
    assert all(w["jobs_held"] == 0 for w in after["workers"])
    text = await _cli(["status", "--journal", pg_url], env)
    assert text.code == 0 and "Traceback" not in text.stderr, text.stderr
    print(text.stdout)
    assert "run:     none active (2 workers: 2 ended)" in text.stdout
    assert text.stdout.count(" s ago  ") == 2 and text.stdout.count("  ended ") == 2
    assert "heartbeating" not in text.stdout


async def test_status_counts_live_ended_and_silent_workers_apart(
    tmp_path: Path, pg_url: str
) -> None:
    journal = await PostgresJournal.open(pg_url)
    try:
        for name in ("live", "ended", "silent"):
            await journal.register_worker(WorkerInfo(name, "host-a", 100, 0.0, 0.0))
        await journal.retire_worker("ended")
    finally:
        await journal.close()
    schema = pg_url.rsplit("schema=", 1)[1]
    db = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})
    try:  # killed with -9 a while ago: it never said it ended, its heartbeat is old
        await db.execute(
            "UPDATE workers SET heartbeat_at = heartbeat_at - 600 WHERE worker_id = 'silent'"
        )
    finally:
        await db.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    doc = await _status_json(pg_url, env)
    by_id = {w["id"]: w for w in doc["workers"]}
    assert doc["active"] is True
    assert by_id["live"]["ended_s_ago"] is None and by_id["silent"]["ended_s_ago"] is None
    assert by_id["ended"]["ended_s_ago"] is not None
    assert by_id["silent"]["heartbeat_s_ago"] >= 590
    text = await _cli(["status", "--journal", pg_url], env)
    assert text.code == 0, text.stderr
    assert "run:     1 of 3 workers heartbeating (1 ended, 1 silent)" in text.stdout
    lines = {line.split()[0]: line for line in text.stdout.splitlines() if "host-a" in line}
    assert "  ended " in lines["ended"] and "  heartbeat " in lines["live"]
    assert "  heartbeat " in lines["silent"]


@pytest.mark.timeout(120)
async def test_a_worker_stopped_by_sigterm_mid_upload_is_listed_as_ended(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 1, sizes=(2048 * KiB,))
    env = cli_env(emulator) | FLEET_ENV
    queued = await _cli(["enqueue", str(manifest), "--journal", pg_url], env)
    assert queued.code == 0, queued.stderr
    schema = pg_url.rsplit("schema=", 1)[1]
    db = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})
    args = ["worker", "--journal", pg_url, "--bwlimit", "100K"]
    worker = await anyio.open_process(
        [sys.executable, "-m", "vidlift", *args], env=env, stdout=None, stderr=None
    )
    try:
        with anyio.fail_after(60):
            while await _uploading(db) is None:  # noqa: ASYNC110
                await anyio.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            code = await worker.wait()
    finally:
        if worker.returncode is None:
            worker.kill()
        await db.close()
    assert code == 130
    doc = await _status_json(pg_url, env)
    assert doc["active"] is False and doc["workers"][0]["ended_s_ago"] is not None
    assert doc["jobs"]["done"] == 0  # stopped mid-upload: the job is left for the next
    text = await _cli(["status", "--journal", pg_url], env)
    assert "run:     none active (1 worker: 1 ended)" in text.stdout, text.stdout
