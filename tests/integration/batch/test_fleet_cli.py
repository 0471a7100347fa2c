"""Fleet mode end to end: `vidlift enqueue` and three `vidlift worker` processes on one
PostgreSQL queue against the real emulator. One worker is killed with SIGKILL mid-upload,
another is paused (SIGSTOP) past its lease, then resumed (SIGCONT): every job is done
once, every file is byte-identical on the platform, no video is created twice, and the
paused worker's late write is refused (it lets the job go)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.abc
import asyncpg
import pytest
from anyio.abc import Process

from tests.postgres import POSTGRES_URL, pg_url
from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import SECRET, CliResult, KiB, cli_env, emulator_config, run_cli
from .test_run_cli import assert_migrated
from .test_run_v2 import assert_v2_migrated, v2_env

__all__ = ["pg_url"]

pytestmark = pytest.mark.anyio

COUNT = 9
FLEET_ENV = {
    "VIDLIFT_LEASE_S": "2",  # a paused worker loses its jobs after 2 s
    "VIDLIFT_POLL_S": "0.2",
    "VIDLIFT_API_CALLS_PER_MINUTE": "6000",
}


async def _drain(process: Process, sink: list[bytes]) -> None:
    """Keep both pipes flowing (events go to stdout, messages to stderr)."""
    assert process.stdout is not None and process.stderr is not None

    async def pump(stream: anyio.abc.ByteReceiveStream) -> None:
        async for chunk in stream:
            sink.append(chunk)

    async with anyio.create_task_group() as group:
        group.start_soon(pump, process.stdout)
        group.start_soon(pump, process.stderr)


async def _until(probe: Callable[[], object], what: str, timeout_s: float = 60.0) -> object:
    """Poll the shared journal (its rows change in other processes) until probe is truthy."""
    with anyio.fail_after(timeout_s, shield=False):
        while not (found := await probe()):  # type: ignore[misc]  # noqa: ASYNC110
            await anyio.sleep(0.05)
    assert found, what
    return found


@pytest.mark.timeout(120)
async def test_three_workers_one_killed_one_paused(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    sizes = (500 * KiB, 700 * KiB, 900 * KiB)
    manifest = write_sample_library(tmp_path / "lib", COUNT, sizes=sizes)
    env = cli_env(emulator) | FLEET_ENV
    queued = await run_cli(["enqueue", str(manifest), "--journal", pg_url], env)
    assert queued.code == 0, queued.stderr
    assert f"{COUNT} new jobs" in queued.stdout
    schema = pg_url.rsplit("schema=", 1)[1]
    db = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})
    args = ["worker", "--journal", pg_url, "--concurrency", "1", "--bwlimit", "300K"]
    args += ["--chunk-size", "64KiB", "--log-format", "json"]
    workers = [
        await anyio.open_process([sys.executable, "-m", "vidlift", *args], env=env)
        for _ in range(3)
    ]
    logs: list[list[bytes]] = [[], [], []]
    victim, sleeper, _ = workers

    async def held_mid_upload(process: Process) -> str | None:
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT job_id FROM jobs WHERE lease_owner LIKE $1 AND acked_bytes > 0 "
            "AND state = 'uploading' ORDER BY seq LIMIT 1",
            f"%:{process.pid}:%",
        )

    try:
        async with anyio.create_task_group() as group:
            for process, sink in zip(workers, logs, strict=True):
                group.start_soon(_drain, process, sink)
            await _until(lambda: held_mid_upload(victim), "the victim never uploaded")
            victim.send_signal(signal.SIGKILL)
            stolen = str(await _until(lambda: held_mid_upload(sleeper), "sleeper idle"))
            sleeper.send_signal(signal.SIGSTOP)
            owner = "SELECT lease_owner FROM jobs WHERE job_id = $1"
            await _until(lambda: _taken_over(db, owner, stolen, sleeper.pid), "nobody took it over")
            sleeper.send_signal(signal.SIGCONT)
            with anyio.fail_after(90):
                codes = [await process.wait() for process in workers]
    finally:
        for process in workers:
            if process.returncode is None:
                process.kill()
        rows = await db.fetch("SELECT job_id, state, lease_generation FROM jobs ORDER BY seq")
        await db.close()
    assert codes[0] == -signal.SIGKILL and codes[1:] == [0, 0], [b"".join(x) for x in logs]
    assert [row["state"] for row in rows] == ["done"] * COUNT
    assert_migrated(emulator, manifest, COUNT)  # once each, byte-identical
    assert max(row["lease_generation"] for row in rows) >= 2  # taken over
    api_calls = emulator.request_counts().get("api", 0)
    print(f"API calls per file with a kill and a take-over: {api_calls / COUNT:.2f}")
    # Bytes re-sent on take-over: what the platform received beyond the library's size.
    # Each take-over resumes from the platform's ranges, so at most the segment each
    # stopped worker had in flight is sent twice (64 KiB segments, one file each).
    library = sum(path.stat().st_size for path in (manifest.parent / "videos").iterdir())
    resent = emulator.request_counts()["bytes_received"] - library
    status = await run_cli(["status", "--journal", pg_url], env)
    print(f"bytes re-sent on take-over: {resent} of {library}; vidlift status says:")
    print(status.stdout)
    assert 0 <= resent <= 2 * 64 * KiB
    assert status.code == 0 and "workers: 3" in status.stdout, status.stderr
    assert "by the workers (re-sent bytes count again" in status.stdout
    sleeper_log = b"".join(logs[1]).decode()
    events = [json.loads(line) for line in sleeper_log.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "job_interrupted" and e.get("job_id") == stolen for e in events), (
        sleeper_log
    )
    for log in logs:
        text = b"".join(log).decode()
        assert "Traceback" not in text and SECRET not in text


async def _taken_over(db: asyncpg.Connection, query: str, job_id: str, pid: int) -> bool:
    owner = await db.fetchval(query, job_id)
    return owner is None or f":{pid}:" not in str(owner)


async def test_run_on_postgres_is_enqueue_plus_one_worker(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 3, sizes=(40 * KiB, 90 * KiB))
    env = cli_env(emulator) | FLEET_ENV
    result = await run_cli(["run", str(manifest), "--journal", pg_url], env)
    assert result.code == 0, result.stderr
    assert "3 done, 0 failed" in result.stderr
    assert_migrated(emulator, manifest, 3)
    api_calls = emulator.request_counts().get("api", 0)
    print(f"API calls per file (create + show for the md5): {api_calls / 3:.2f}")
    assert api_calls <= 2 * 3  # docs/SCALE.md counts on it
    status = await run_cli(["status", "--journal", pg_url], env)
    assert status.code == 0, status.stderr
    assert "done       3" in status.stdout and "workers: 1" in status.stdout
    assert "0 jobs held" in status.stdout
    report = await run_cli(["report", "--journal", pg_url, "--format", "json"], env)
    assert report.code == 0 and [row["state"] for row in json.loads(report.stdout)] == ["done"] * 3


async def test_retry_on_a_shared_journal_points_to_its_workers(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 1, sizes=(40 * KiB,))
    env = cli_env(emulator)
    schema = pg_url.rsplit("schema=", 1)[1]
    queued = await run_cli(["enqueue", str(manifest), "--journal", pg_url], env)
    assert queued.code == 0, queued.stderr
    assert f"/test?schema={schema} holds 1 job" in queued.stdout, queued.stdout  # named
    retried = await run_cli(["retry", "--failed", "--journal", pg_url], env)
    assert retried.code == 0, retried.stderr
    assert (
        f"`vidlift worker --journal postgresql://postgres@127.0.0.1:5432/test?schema={schema}`"
        in retried.stdout
    ), retried.stdout


async def test_fleet_commands_fail_cleanly(emulator: Emulator, tmp_path: Path) -> None:
    manifest = write_sample_library(tmp_path / "lib", 1, sizes=(40 * KiB,))
    env = cli_env(emulator)
    unreachable = "postgresql://postgres:pw-in-url-93@127.0.0.1:1/test"
    for args in (
        ["enqueue", str(manifest), "--journal", unreachable],
        ["worker", "--journal", unreachable],
        ["status", "--journal", unreachable],
        ["retry", "--failed", "--journal", unreachable],
    ):
        result = await run_cli(args, env)
        assert result.code == 2, (args, result.stderr)
        assert "cannot reach PostgreSQL" in result.stderr, result.stderr
        assert "postgresql://postgres@127.0.0.1:1/test" in result.stderr
        assert "pw-in-url-93" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr
    missing = await run_cli(["enqueue", str(tmp_path / "nope.csv"), "--journal", unreachable], env)
    assert missing.code == 2 and "nope.csv: manifest not found" in missing.stderr
    usage = await run_cli(["worker"], env)
    assert usage.code == 2 and "--journal" in usage.stderr


async def test_workers_on_v2_take_the_site_id_from_flag_or_environment(
    tmp_path: Path, pg_url: str
) -> None:
    """`vidlift worker --api v2 --site-id ID` (and VIDLIFT_API / VIDLIFT_SITE_ID): two
    workers share the queue on JW's v2 API, one media per row, byte-identical."""
    async with Emulator(emulator_config(tmp_path)) as emu:
        manifest = write_sample_library(tmp_path / "lib", 4, sizes=(60 * KiB, 130 * KiB))
        env = v2_env(emu) | FLEET_ENV
        queued = await run_cli(["enqueue", str(manifest), "--journal", pg_url], env)
        assert queued.code == 0, queued.stderr
        by_flag = {k: v for k, v in env.items() if k not in ("VIDLIFT_API", "VIDLIFT_SITE_ID")}
        args = ["worker", "--journal", pg_url, "--concurrency", "1"]
        results: list[CliResult] = []

        async def work(args: list[str], env: dict[str, str]) -> None:
            results.append(await run_cli(args, env))

        async with anyio.create_task_group() as group:
            group.start_soon(work, [*args, "--api", "v2", "--site-id", emu.site_id], by_flag)
            group.start_soon(work, args, env)
        for result in results:
            assert result.code == 0, result.stderr
            assert "Traceback" not in result.stderr and emu.api_secret not in result.stderr
        assert_v2_migrated(emu, manifest, 4)
        assert emu.request_counts().get("api", 0) == 0  # nothing went to the v1 API
        usage = await run_cli([*args, "--api", "v2"], by_flag)
        assert usage.code == 2 and "VIDLIFT_SITE_ID" in usage.stderr, usage.stderr


def _hiding(folder: Path) -> list[str] | None:
    """A command prefix that runs a program with ``folder`` hidden (an empty tmpfs
    mounted over it in a mount namespace of its own): a host that does not have it."""
    for prefix in (["unshare", "--mount"], ["unshare", "--mount", "--map-root-user"]):
        probe = [*prefix, "sh", "-c", 'mount -t tmpfs none "$0"', str(folder)]
        if shutil.which("unshare") and subprocess.run(probe, check=False).returncode == 0:
            return [*prefix, "sh", "-c", 'mount -t tmpfs none "$0" && exec "$@"']
    return None


async def test_a_worker_that_cannot_read_a_file_leaves_it_to_another(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    """Worker A runs where one source file is not mounted: it gives that job back, says
    so, does the others and ends (exit 0, nothing failed); worker B, which can read the
    file, does that job. Every file once, byte-identical."""
    manifest = write_sample_library(tmp_path / "lib", 3, sizes=(50 * KiB, 80 * KiB))
    videos = manifest.parent / "videos"
    elsewhere = manifest.parent / "only-on-b"  # clip-001 is reached through a symbolic link
    elsewhere.mkdir()
    (videos / "clip-001.mp4").rename(elsewhere / "clip-001.mp4")
    (videos / "clip-001.mp4").symlink_to(elsewhere / "clip-001.mp4")
    hide = _hiding(elsewhere)
    if hide is None:
        pytest.skip("needs mount namespaces (unshare --mount) to hide a folder from one worker")
    env = cli_env(emulator) | FLEET_ENV
    assert (await run_cli(["enqueue", str(manifest), "--journal", pg_url], env)).code == 0
    args = ["-m", "vidlift", "worker", "--journal", pg_url, "--concurrency", "2"]
    a = await anyio.run_process(
        [*hide, str(elsewhere), sys.executable, *args], env=env, check=False
    )
    a_err = a.stderr.decode()
    assert a.returncode == 0, a_err
    assert f"job legacy-001: cannot read {videos / 'clip-001.mp4'} on this host" in a_err
    assert "left for another worker" in a_err and "this worker left 1 job" in a_err
    assert "2 done, 0 failed" in a_err and "Traceback" not in a_err
    schema = pg_url.rsplit("schema=", 1)[1]
    db = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})
    try:
        row = await db.fetchrow("SELECT state, attempts, lease_owner FROM jobs WHERE seq = 1")
        assert dict(row) == {"state": "pending", "attempts": 0, "lease_owner": None}
        b = await run_cli(["worker", "--journal", pg_url], env)
        assert b.code == 0 and "3 done, 0 failed, 0 left" in b.stderr, b.stderr
        states = await db.fetch("SELECT state FROM jobs ORDER BY seq")
    finally:
        await db.close()
    assert [r["state"] for r in states] == ["done"] * 3
    assert_migrated(emulator, manifest, 3)
