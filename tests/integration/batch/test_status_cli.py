"""`vidlift status` from another process while `vidlift run` works, and after."""

from __future__ import annotations

import json
import signal
import socket
import sys
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator, FaultPlan
from vidlift.testing.library import write_sample_library

from .conftest import KiB, cli_env, emulator_config, run_cli

pytestmark = pytest.mark.anyio


async def test_status_shows_the_active_run_its_rate_and_failures(tmp_path: Path) -> None:
    # One job of 64 KiB, then one of 384 KiB at 64 KiB/s (6 s) to look at, then a failure.
    manifest = write_sample_library(tmp_path / "lib", 3, sizes=(64 * KiB,))
    (manifest.parent / "videos" / "clip-002.mp4").write_bytes(b"v" * 384 * KiB)
    (manifest.parent / "videos" / "clip-003.mp4").unlink()
    journal = manifest.with_name("library.csv.vidlift.sqlite")
    async with Emulator(emulator_config(tmp_path, FaultPlan())) as emu:
        env = cli_env(emu)
        args = ["run", str(manifest), "--log-format", "json", "--bwlimit", "64KiB"]
        # Sizes checked, no md5: the first job is done before the second is sent (with
        # the md5 it would wait for the second, to be verified in one listing call).
        args += ["--chunk-size", "64KiB", "--concurrency", "1", "--no-verify-md5"]
        process = await anyio.open_process([sys.executable, "-m", "vidlift", *args], env=env)
        assert process.stdout is not None
        async for chunk in process.stdout:
            if b"job_done" in chunk:
                break
        await anyio.sleep(1.0)  # the beacon's rate covers a second of sending at least
        result = await run_cli(["status", "--journal", str(journal), "--json"], env)
        assert result.code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["active"] is True, doc
        assert doc["run"]["pid"] == process.pid and doc["run"]["host"] == socket.gethostname()
        assert 16 * KiB < doc["rate_bytes_per_s"] < 256 * KiB, doc  # not files / 60 s
        assert doc["eta_s"] is not None and doc["eta_s"] > 0
        assert doc["in_flight"][0]["path"].endswith("clip-002.mp4"), doc
        assert doc["jobs"]["total"] == 3
        with anyio.fail_after(60):
            async for _ in process.stdout:
                pass
            assert await process.wait() == 1  # the missing file failed
    after = await run_cli(["status", "--journal", str(journal), "--json"], env)
    doc = json.loads(after.stdout)
    assert doc["active"] is False and doc["rate_bytes_per_s"] is None
    assert doc["run"]["ended_at"] is not None
    assert [(g["count"], [j["id"] for j in g["jobs"]]) for g in doc["failures"]] == [
        (1, ["legacy-003"])
    ]
    text = await run_cli(["status", "--journal", str(journal)], env)
    assert text.code == 0 and "run:     none active" in text.stdout
    assert "failures by reason:\n  1 x " in text.stdout and "legacy-003" in text.stdout


async def test_status_watch_refreshes_and_ctrl_c_exits_130(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 2, sizes=(40 * KiB,))
    env = cli_env(emulator)
    assert (await run_cli(["run", str(manifest)], env)).code == 0
    journal = manifest.with_name("library.csv.vidlift.sqlite")
    args = ["status", "--journal", str(journal), "--watch", "0.2", "--json"]
    process = await anyio.open_process([sys.executable, "-m", "vidlift", *args], env=env)
    assert process.stdout is not None and process.stderr is not None
    seen = b""
    with anyio.fail_after(30):
        async for chunk in process.stdout:
            seen += chunk
            if seen.count(b"\n") >= 2:
                break
        process.send_signal(signal.SIGINT)
        code = await process.wait()
        errors = b"".join([c async for c in process.stderr]).decode()
    docs = [json.loads(line) for line in seen.decode().splitlines()]
    assert len(docs) >= 2 and all(d["jobs"]["done"] == 2 for d in docs)
    assert code == 130 and "Traceback" not in errors, errors


async def test_status_without_a_journal_exits_2(tmp_path: Path) -> None:
    result = await run_cli(["status"], {"PATH": "/usr/bin"}, cwd=tmp_path)
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "pass --journal PATH" in result.stderr
