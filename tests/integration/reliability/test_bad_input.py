"""Bad input at the batch level: every bad manifest row or source file gets its clear
message, and the rest of the batch still reaches the platform byte-identical.

Row parsing itself is tested in tests/unit/manifest and tests/integration/manifest; here
the same cases go through `vidlift run` (a real subprocess) or `run_batch`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from vidlift import BatchSettings, SqliteJournal, run_batch
from vidlift.config import Limits, RetrySettings, UploadSettings
from vidlift.jobs.ingest import ingest_manifest
from vidlift.journal.state import JobState
from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan

pytestmark = pytest.mark.anyio

SECRET = "bad-input-secret-91c2"
MARKER = "vidlift_job_id"


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET)) as emu:
        yield emu


def env_for(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    env.update(
        VIDLIFT_ENDPOINT=emu.endpoint,
        VIDLIFT_API_KEY=emu.api_key,
        VIDLIFT_API_SECRET=emu.api_secret,
        VIDLIFT_BACKOFF_BASE_S="0.01",
        VIDLIFT_BACKOFF_MAX_S="0.05",
    )
    return env


async def vidlift(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = await anyio.run_process([sys.executable, "-m", "vidlift", *args], env=env, check=False)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


async def report(env: dict[str, str], journal: Path) -> dict[str, dict[str, Any]]:
    code, out, err = await vidlift(env, "report", "--journal", str(journal), "--format", "json")
    assert code == 0, err
    return {row["id"]: row for row in json.loads(out)}


def assert_on_platform(emu: Emulator, folder: Path, jobs: dict[str, str]) -> None:
    """Exactly the videos of ``jobs`` (id -> file name), each byte-identical."""
    videos = {v.custom.get(MARKER): v for v in emu.videos()}
    assert sorted(videos) == sorted(jobs), sorted(videos)  # type: ignore[type-var]
    for job, name in jobs.items():
        stored = emu.video_file(videos[job].key)
        assert stored is not None and stored.read_bytes() == (folder / name).read_bytes(), job


async def test_bad_rows_and_odd_files_fail_alone_with_their_reasons(
    emulator: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    for name, size in (("good.mp4", 70_000), ("lines.mp4", 30_000), ("big-cell.mp4", 1000)):
        (folder / name).write_bytes(os.urandom(size))
    (folder / "a-folder.mp4").mkdir()
    (folder / "loop1.mp4").symlink_to(folder / "loop2.mp4")
    (folder / "loop2.mp4").symlink_to(folder / "loop1.mp4")
    os.mkfifo(folder / "pipe.mp4")  # opening it would block the batch: it must never be
    big_cell = "x" * (10 * 1024 * 1024)
    rows = [
        "id,path,title,description,download_url",
        "good,good.mp4,Good,plain,",
        'lines,lines.mp4,"two\r\nlines","three\r\nmore\r\nlines",',
        f'big-cell,big-cell.mp4,Big cell,"{big_cell}",',
        "folder,a-folder.mp4,Folder,,",
        "loop,loop1.mp4,Loop,,",
        "fifo,pipe.mp4,Pipe,,",
        "good,lines.mp4,Same id again,,",
        f"remote,,Remote,,{emulator.endpoint}/no-such-video.mp4?sig=s3cr3t",
    ]
    manifest = folder / "library.csv"
    manifest.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")  # BOM, CRLF
    env = env_for(emulator)
    code, _, err = await vidlift(env, "run", str(manifest), "--log-format", "json")
    assert code == 1, err
    assert "2 done, 6 failed, 0 left, of 8 jobs" in err, err
    rows_by_id = await report(env, manifest.with_name("library.csv.vidlift.sqlite"))
    failed = {job: row["error"] for job, row in rows_by_id.items() if row["state"] == "failed"}
    by_location = {row["location"]: row["error"] for row in rows_by_id.values()}
    assert failed["folder"] == "not a regular file: it is a directory"
    assert failed["loop"] == "symbolic link loop (too many levels of symbolic links)"
    assert failed["fifo"] == "not a regular file: it is a named pipe (FIFO)"
    assert "/no-such-video.mp4" in failed["remote"] and "s3cr3t" not in failed["remote"]
    assert "duplicate" in by_location["library.csv:11"]  # quoted line breaks counted
    assert failed["big-cell"].startswith("videos/create: 413"), failed["big-cell"]
    assert_on_platform(emulator, folder, {"good": "good.mp4", "lines": "lines.mp4"})
    lines_video = next(v for v in emulator.videos() if v.custom.get(MARKER) == "lines")
    assert lines_video.title == "two\r\nlines"
    assert lines_video.description == "three\r\nmore\r\nlines"


def settings() -> BatchSettings:
    upload = UploadSettings(
        chunk_size_bytes=64 * 1024,
        retry=RetrySettings(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05),
    )
    return BatchSettings(limits=Limits(files_in_flight=2), upload=upload)


@pytest.mark.parametrize("when", ["at-ingest", "after-queued"])
async def test_a_file_without_read_permission_fails_alone(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """We run as root, who reads anything: os.access plays a file's missing permission."""
    (tmp_path / "ok.mp4").write_bytes(os.urandom(50_000))
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(os.urandom(50_000))
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,path\nok,ok.mp4\nsecret,secret.mp4\n")
    real_access = os.access

    def access(path: os.PathLike[str] | str, mode: int, **kwargs: object) -> bool:
        if Path(path) == secret:
            return False
        return real_access(path, mode, **kwargs)  # type: ignore[arg-type]

    journal = await SqliteJournal.open(tmp_path / "j.sqlite")
    try:
        if when == "after-queued":
            await ingest_manifest(journal, manifest)
        monkeypatch.setattr(os, "access", access)
        await run_batch(
            manifest if when == "at-ingest" else None,
            journal=journal,
            endpoint=emulator.endpoint,
            api_key=emulator.api_key,
            api_secret=emulator.api_secret,
            settings=settings(),
        )
        records = {r.job_id: r async for r in journal.iter_jobs()}
    finally:
        await journal.close()
    assert records["ok"].state is JobState.DONE
    assert records["secret"].state is JobState.FAILED
    expected = {
        "at-ingest": "no read permission",
        "after-queued": f"{secret}: no permission to read the file",
    }[when]
    assert records["secret"].last_error == expected
    assert_on_platform(emulator, tmp_path, {"ok": "ok.mp4"})


async def test_files_that_disappear_or_change_after_a_dry_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    """`vidlift run` reads the manifest again: a job not started yet takes the file as it
    is now; a file gone is a failed row that `retry --failed` + run picks up again."""
    folder = tmp_path / "lib"
    folder.mkdir()
    for name in ("same.mp4", "gone.mp4", "changed.mp4"):
        (folder / name).write_bytes(os.urandom(80_000))
    manifest = folder / "library.csv"
    manifest.write_text("id,path\nsame,same.mp4\ngone,gone.mp4\nchanged,changed.mp4\n")
    journal = manifest.with_name("library.csv.vidlift.sqlite")
    env = env_for(emulator)
    code, out, err = await vidlift(env, "run", str(manifest), "--dry-run")
    assert code == 0 and "3 new jobs" in out, (out, err)
    kept = (folder / "gone.mp4").read_bytes()
    (folder / "gone.mp4").unlink()
    with (folder / "changed.mp4").open("ab") as handle:
        handle.write(b"an edit after the dry run")

    code, _, err = await vidlift(env, "run", str(manifest), "--log-format", "json")
    assert code == 1, err
    assert "library.csv:3" in err and "file not found" in err
    rows = await report(env, journal)
    assert (rows["gone"]["state"], rows["gone"]["error"]) == ("failed", "file not found")
    assert (rows["changed"]["state"], rows["changed"]["size"]) == ("done", 80_025)
    assert_on_platform(emulator, folder, {"same": "same.mp4", "changed": "changed.mp4"})

    (folder / "gone.mp4").write_bytes(kept)  # a bad row: fixed by running again
    code, _, err = await vidlift(env, "run", str(manifest), "--log-format", "json")
    assert code == 0, err
    assert_on_platform(
        emulator, folder, {"same": "same.mp4", "gone": "gone.mp4", "changed": "changed.mp4"}
    )


async def test_files_that_disappear_or_change_while_queued_in_a_run(tmp_path: Path) -> None:
    """Queued by this run, then deleted or edited before their turn: each fails with its
    reason and advice (never uploading a file other than the one queued); following the
    advice finishes the batch."""
    folder = tmp_path / "lib"
    folder.mkdir()
    sizes = {"first": 400_000, "gone": 80_000, "changed": 80_000, "last": 80_000}
    for job, size in sizes.items():
        (folder / f"{job}.mp4").write_bytes(os.urandom(size))
    manifest = folder / "library.csv"
    manifest.write_text("id,path\n" + "".join(f"{job},{job}.mp4\n" for job in sizes))
    journal = manifest.with_name("library.csv.vidlift.sqlite")
    faults = FaultPlan(latency_ms=40)  # "first" takes a while: time to edit the others
    config = EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET, faults=faults)
    async with Emulator(config) as emu:
        env = env_for(emu)
        command = [sys.executable, "-m", "vidlift", "run", str(manifest), "--log-format", "json",
                   "--concurrency", "1", "--chunk-size", "64KiB"]  # fmt: skip
        kept = (folder / "gone.mp4").read_bytes()
        original = (folder / "changed.mp4").read_bytes()
        async with await anyio.open_process(command, env=env) as process:
            assert process.stdout is not None
            output = b""
            async for chunk in process.stdout:
                output += chunk
                if b'"job_started", "job_id": "first"' in output:
                    break
            (folder / "gone.mp4").unlink()
            with (folder / "changed.mp4").open("ab") as handle:
                handle.write(b"edited while queued")
            async for _ in process.stdout:
                pass
            assert await process.wait() == 1
        rows = await report(env, journal)
        assert [rows[job]["state"] for job in sizes] == ["done", "failed", "failed", "done"]
        assert rows["gone"]["error"] == f"{folder / 'gone.mp4'}: file not found"
        assert rows["changed"]["error"] == (
            f"{folder / 'changed.mp4'}: the file changed since it was queued (size 80000 -> "
            "80019, or its modification time); the next `vidlift run` uploads the new version"
        )
        assert_on_platform(emu, folder, {"first": "first.mp4", "last": "last.mp4"})

        # The advice works: restore the missing file, retry the failed jobs, run again:
        # the edited file's new version is uploaded (issue 11, point 7: one rule).
        (folder / "gone.mp4").write_bytes(kept)
        assert (folder / "changed.mp4").read_bytes() == original + b"edited while queued"
        code, out, err = await vidlift(env, "retry", "--failed", "--journal", str(journal))
        assert code == 0 and out.startswith("2 failed jobs queued again"), (out, err)
        code, _, err = await vidlift(env, "run", str(manifest), "--log-format", "json")
        assert code == 0, err
        assert_on_platform(emu, folder, {job: f"{job}.mp4" for job in sizes})
