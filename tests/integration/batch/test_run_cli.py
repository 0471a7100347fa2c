"""`vidlift run`, `status`, `report`, `retry` as real subprocesses against the emulator."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import random
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan
from vidlift.testing.library import write_sample_library

from .conftest import SECRET, KiB, cli_env, emulator_config, run_cli
from .test_run_v2 import MiB, assert_v2_migrated, v2_env

pytestmark = pytest.mark.anyio

SMALL_SIZES = (40 * KiB, 200 * KiB, 700 * KiB, 1500 * KiB)


def assert_migrated(emu: Emulator, manifest: Path, count: int) -> None:
    """Every job done once, every file byte-identical on the emulator."""
    videos = emu.videos()
    job_ids = [v.custom.get("vidlift_job_id") for v in videos]
    assert sorted(job_ids) == [f"legacy-{n:03d}" for n in range(1, count + 1)]  # one per job
    for video in videos:
        number = int(str(video.custom["vidlift_job_id"]).split("-")[1])
        source = manifest.parent / "videos" / f"clip-{number:03d}.mp4"
        stored = emu.video_file(video.key)
        assert stored is not None and stored.read_bytes() == source.read_bytes(), video.key
        assert video.status == "ready"


async def report_rows(journal: Path, env: dict[str, str]) -> list[dict[str, str]]:
    result = await run_cli(["report", "--journal", str(journal), "--format", "csv"], env)
    assert result.code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


async def test_run_migrates_a_library_and_report_maps_every_row(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 8, sizes=SMALL_SIZES)
    env = cli_env(emulator)
    result = await run_cli(["run", str(manifest), "--chunk-size", "256KiB"], env)
    assert result.code == 0, result.stderr
    assert "8 done, 0 failed" in result.stderr
    assert_migrated(emulator, manifest, 8)
    journal = manifest.with_name("library.csv.vidlift.sqlite")
    rows = await report_rows(journal, env)
    assert [r["state"] for r in rows] == ["done"] * 8
    keys = {v.custom["vidlift_job_id"]: v.key for v in emulator.videos()}
    assert all(r["video_key"] == keys[r["id"]] for r in rows)
    again = await run_cli(["run", str(manifest)], env)
    assert again.code == 0
    assert len(emulator.videos()) == 8
    status = await run_cli(["status", "--journal", str(journal)], env)
    assert status.code == 0 and "done       8" in status.stdout
    for output in (result.stdout, result.stderr, again.stderr, status.stdout):
        assert SECRET not in output


@pytest.mark.parametrize(
    ("loop", "md5"), [("uvloop", "--verify-md5"), ("uvloop", "--no-verify-md5")]
)
async def test_either_event_loop_with_or_without_md5(
    emulator: Emulator, tmp_path: Path, loop: str, md5: str
) -> None:
    # The other tests here run asyncio (the default) without --event-loop.
    manifest = write_sample_library(tmp_path / "lib", 4, sizes=SMALL_SIZES)
    args = ["run", str(manifest), "--event-loop", loop, md5, "--chunk-size", "256KiB"]
    result = await run_cli(args, cli_env(emulator))
    assert result.code == 0, result.stderr
    assert "4 done, 0 failed" in result.stderr
    assert_migrated(emulator, manifest, 4)


async def test_auto_concurrency_is_higher_for_small_files(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 6, sizes=SMALL_SIZES)
    env = cli_env(emulator)
    result = await run_cli(["run", str(manifest), "--log-format", "json"], env)
    assert result.code == 0, result.stderr
    summaries = [json.loads(line) for line in result.stdout.splitlines() if '"summary"' in line]
    assert summaries and summaries[-1]["concurrency"] == 64  # ~600 KiB files, 8 MiB segments
    other = write_sample_library(tmp_path / "lib2", 2, sizes=SMALL_SIZES)
    again = await run_cli(["run", str(other), "--log-format", "json", "--concurrency", "3"], env)
    assert again.code == 0, again.stderr
    last = [json.loads(line) for line in again.stdout.splitlines() if '"summary"' in line][-1]
    assert last["concurrency"] == 3


async def test_bad_rows_fail_alone_and_retry_requeues(emulator: Emulator, tmp_path: Path) -> None:
    manifest = write_sample_library(tmp_path / "lib", 3, sizes=SMALL_SIZES)
    (tmp_path / "lib" / "videos" / "empty.mp4").write_bytes(b"")
    with manifest.open("a", encoding="utf-8") as handle:
        handle.write("bad-1,videos/missing.mp4,Missing,,,\n")
        handle.write("bad-2,videos/empty.mp4,Empty,,,\n")
        handle.write("bad-3,videos/clip-001.mp4,Bad date,,not-a-date,\n")
    env = cli_env(emulator)
    result = await run_cli(["run", str(manifest)], env)
    assert result.code == 1, result.stderr
    assert "3 done, 3 failed" in result.stderr
    assert "library.csv:5" in result.stderr  # file:line of the first bad row
    rows = {
        r["id"]: r for r in await report_rows(manifest.with_name("library.csv.vidlift.sqlite"), env)
    }
    assert rows["bad-1"]["state"] == "failed" and "not found" in rows["bad-1"]["error"]
    assert "empty" in rows["bad-2"]["error"] or "0 bytes" in rows["bad-2"]["error"]
    assert "date" in rows["bad-3"]["error"]
    assert len(emulator.videos()) == 3


async def _kill_after_events(
    args: list[str], env: dict[str, str], events: int, rng: random.Random
) -> int:
    """Start a run, read its JSON event lines, kill -9 after ``events`` of them."""
    process: Process = await anyio.open_process([sys.executable, "-m", "vidlift", *args], env=env)
    assert process.stdout is not None
    seen = 0
    buffer = b""
    async for chunk in process.stdout:
        buffer += chunk
        seen += buffer.count(b"\n")
        buffer = buffer.rsplit(b"\n", 1)[-1]
        if seen >= events:
            await anyio.sleep(rng.random() * 0.05)  # a random instant, on purpose
            process.kill()
            break
    return await process.wait()


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_kill_9_at_random_moments_then_resume(tmp_path: Path, api: str) -> None:
    """kill -9 of `vidlift run` at random moments (segments, or parts in flight and completes
    pending), then a run to the end: one video per row, byte-identical, all done. The same
    scenario on both APIs; v2's journal keeps the upload id and token."""
    rng = random.Random(1234)
    count = 14 if api == "v1" else 6
    sizes = SMALL_SIZES if api == "v1" else (300 * KiB, 12 * MiB)
    manifest = write_sample_library(tmp_path / "lib", count, sizes=sizes)
    faults = FaultPlan(seed=3, latency_ms=3)
    if api == "v2":  # slow enough for kills to land among the parts in flight
        faults = FaultPlan(seed=2, latency_ms=5, bandwidth_bytes_per_s=60 * MiB)
    async with Emulator(emulator_config(tmp_path, faults, fsync=False)) as emu:
        env = cli_env(emu) if api == "v1" else v2_env(emu)
        chunk = "128KiB" if api == "v1" else "5MiB"
        args = ["run", str(manifest), "--log-format", "json", "--chunk-size", chunk]
        args += ["--concurrency", "4"]
        kills = 0
        for _ in range(4):
            code = await _kill_after_events(args, env, rng.randint(2, 7), rng)
            kills += code == -signal.SIGKILL
        final = await run_cli(args, env)
        assert final.code == 0, final.stderr
        assert kills >= 3  # most runs were really killed mid-way
        if api == "v1":
            assert_migrated(emu, manifest, count)
        else:
            assert_v2_migrated(emu, manifest, count)
        assert emu.api_secret not in final.stdout + final.stderr
        rows = await report_rows(manifest.with_name("library.csv.vidlift.sqlite"), env)
        assert len(rows) == count and {r["state"] for r in rows} == {"done"}


@pytest.mark.parametrize(
    ("signum", "twice"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["ctrl-c", "sigterm", "ctrl-c-twice"],
)
async def test_interrupt_exits_130_and_the_next_run_finishes(
    tmp_path: Path, signum: int, twice: bool
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 10, sizes=SMALL_SIZES)
    faults = FaultPlan(seed=5, latency_ms=20)
    async with Emulator(emulator_config(tmp_path, faults)) as emu:
        env = cli_env(emu)
        args = [
            "run",
            str(manifest),
            "--log-format",
            "json",
            "--chunk-size",
            "64KiB",
            "--concurrency",
            "2",
        ]
        process = await anyio.open_process([sys.executable, "-m", "vidlift", *args], env=env)
        assert process.stdout is not None and process.stderr is not None
        async for chunk in process.stdout:
            if b"job_done" in chunk:
                process.send_signal(signum)
                if twice:  # once the first is handled: same signals pending merge into one
                    async for line in process.stderr:
                        if b"finishing segments in flight" in line:
                            break
                    process.send_signal(signum)
                break
        with anyio.fail_after(30):
            async for _ in process.stdout:
                pass
            code = await process.wait()
            errors = b"".join([c async for c in process.stderr]).decode()
        assert code == 130, errors
        assert "interrupted" in errors
        assert ("stopping now" in errors) == twice
        final = await run_cli(args, env)
        assert final.code == 0, final.stderr
        assert_migrated(emu, manifest, 10)


async def test_status_reads_while_a_run_writes(tmp_path: Path) -> None:
    manifest = write_sample_library(tmp_path / "lib", 6, sizes=SMALL_SIZES)
    async with Emulator(emulator_config(tmp_path, FaultPlan(latency_ms=30))) as emu:
        env = cli_env(emu)
        journal = manifest.with_name("library.csv.vidlift.sqlite")
        args = [
            "run",
            str(manifest),
            "--log-format",
            "json",
            "--chunk-size",
            "64KiB",
            "--concurrency",
            "1",
        ]
        process = await anyio.open_process([sys.executable, "-m", "vidlift", *args], env=env)
        assert process.stdout is not None
        async for chunk in process.stdout:
            if b"job_done" in chunk:
                break
        status = await run_cli(["status", "--journal", str(journal)], env)
        assert status.code == 0, status.stderr
        assert "jobs: 6" in status.stdout
        done_line = next(
            line for line in status.stdout.splitlines() if line.strip().startswith("done")
        )
        assert 1 <= int(done_line.split()[-1]) < 6
        with anyio.fail_after(60):
            async for _ in process.stdout:
                pass
            assert await process.wait() == 0
        report = await run_cli(["report", "--journal", str(journal), "--format", "json"], env)
        assert [row["state"] for row in json.loads(report.stdout)] == ["done"] * 6


async def test_dry_run_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    manifest = write_sample_library(tmp_path / "lib", 3, sizes=SMALL_SIZES)
    result = await run_cli(["run", str(manifest), "--dry-run"], cli_env(emulator))
    assert result.code == 0, result.stderr
    assert "3 rows read, 3 new jobs, 0 bad rows" in result.stdout
    assert emulator.request_counts().get("api", 0) == 0


async def test_a_job_that_failed_mid_upload_goes_on_from_its_session_after_retry(
    tmp_path: Path,
) -> None:
    """A job given up while its upload session was open (every segment refused with
    503), then `vidlift retry --failed` and a run against the recovered server (same data,
    same address): the run goes on in that session and finishes. It used to stop the
    batch: the requeued job was `pending` and could not move to `verifying`."""
    given_up = await _give_up_holding_sessions(tmp_path)
    manifest, journal, args, env = given_up.manifest, given_up.journal, given_up.args, given_up.env
    async with Emulator(given_up.recovered) as emu:
        retried = await run_cli(["retry", "--failed", "--journal", str(journal)], env)
        assert retried.code == 0, retried.stderr
        final = await run_cli(args, env)
        assert final.code == 0, final.stderr
        assert "Traceback" not in final.stderr
        assert_migrated(emu, manifest, 2)  # the same two videos, byte-identical


async def test_a_journal_an_older_retry_left_pending_goes_on_in_the_same_session(
    tmp_path: Path,
) -> None:
    """A journal of schema 2 in which an older vidlift's `retry --failed` sent jobs that
    held an upload session back to `pending` (built as that vidlift left it: a run that
    gave the jobs up, then its requeue and its schema number in raw SQL). Every run of it
    stopped with IllegalTransition at `mark_verifying`; now it is migrated at open and
    the run finishes both jobs in their sessions: no second create, no new session."""
    given_up = await _give_up_holding_sessions(tmp_path)
    manifest, journal, args, env = given_up.manifest, given_up.journal, given_up.args, given_up.env
    with sqlite3.connect(journal) as db:
        sessions = dict(db.execute("SELECT job_id, session_id FROM jobs WHERE state = 'failed'"))
        assert len(sessions) == 2 and all(sessions.values())  # each gave up holding a session
        db.execute("UPDATE jobs SET state = 'pending', attempts = 0 WHERE state = 'failed'")
        # Back to schema 2: schema 3 changed no column, schema 4 added these two.
        db.execute("ALTER TABLE jobs DROP COLUMN in_manifest")
        db.execute("DROP TABLE meta")
        db.execute("UPDATE vidlift_schema SET version = 2")
    db.close()
    # Before any run: status, report and a dry run read it (a migrated copy in memory)
    # and leave the file as it is (they used to say "run `vidlift run` once" first).
    before = journal.read_bytes()
    status = await run_cli(["status", "--journal", str(journal), "--json"], env)
    assert status.code == 0 and "Traceback" not in status.stderr, status.stderr
    assert json.loads(status.stdout)["jobs"]["uploading"] == 2  # the repair, seen already
    report = await run_cli(["report", "--journal", str(journal)], env)
    assert report.code == 0 and report.stdout.count(",uploading,") == 2, report
    dry = await run_cli(["run", str(manifest), "--journal", str(journal), "--dry-run"], env)
    assert dry.code == 0 and "Traceback" not in dry.stderr, dry.stderr
    assert journal.read_bytes() == before
    async with Emulator(given_up.recovered) as emu:
        final = await run_cli(args, env)
        assert final.code == 0, final.stderr
        assert "Traceback" not in final.stderr and "IllegalTransition" not in final.stderr
        assert_migrated(emu, manifest, 2)  # the same two videos, verified, byte-identical
        counts = emu.request_counts()
        assert (counts.get("api_create", 0), counts.get("api_update", 0)) == (0, 0)
    with sqlite3.connect(journal) as db:
        rows = dict(db.execute("SELECT job_id, session_id FROM jobs WHERE state = 'done'"))
    db.close()
    assert rows == sessions


@dataclasses.dataclass(frozen=True)
class _GivenUp:
    manifest: Path
    journal: Path
    args: list[str]
    env: dict[str, str]
    recovered: EmulatorConfig  # the same server (data, address) without its fault


async def _give_up_holding_sessions(tmp_path: Path) -> _GivenUp:
    """A run whose 2 jobs give up while their upload sessions are open (every segment
    refused with 503): each holds a video and a session."""
    manifest = write_sample_library(tmp_path / "lib", 2, sizes=(200 * KiB,))
    busy = dataclasses.replace(
        emulator_config(tmp_path, FaultPlan(upload_503_p=1.0)), port=_free_port()
    )
    args = ["run", str(manifest), "--log-format", "json", "--chunk-size", "64KiB"]
    async with Emulator(busy) as emu:
        env = cli_env(emu) | {"VIDLIFT_MAX_ATTEMPTS": "2", "VIDLIFT_BACKOFF_MAX_S": "0.1"}
        first = await run_cli(args, env)
        assert first.code == 1, first.stderr
        assert len(emu.videos()) == 2  # created: each job held its session when it failed
    journal = manifest.with_name("library.csv.vidlift.sqlite")
    return _GivenUp(manifest, journal, args, env, dataclasses.replace(busy, faults=FaultPlan()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_a_report_that_fails_keeps_the_file_it_would_have_replaced(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 2, sizes=(20 * KiB,))
    env = cli_env(emulator)
    assert (await run_cli(["run", str(manifest)], env)).code == 0
    journal = manifest.with_name("library.csv.vidlift.sqlite")
    mapping = tmp_path / "mapping.csv"
    written = await run_cli(["report", "--journal", str(journal), "--output", str(mapping)], env)
    assert written.code == 0, written.stderr
    good = mapping.read_text()
    assert good.count("\n") == 3  # the header and 2 rows
    garbage = tmp_path / "garbage.sqlite"  # found, then refused once opened
    await anyio.Path(garbage).write_bytes(b"not a journal" * 100)
    failed = await run_cli(["report", "--journal", str(garbage), "--output", str(mapping)], env)
    assert failed.code == 2 and "Traceback" not in failed.stderr, failed.stderr
    assert mapping.read_text() == good  # not emptied
    assert not [name for name in os.listdir(tmp_path) if "partial" in name]  # none left
