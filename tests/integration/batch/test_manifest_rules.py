"""What a run does with the manifest as it is now (issue 11): a dry run writes nothing,
one file under several rows is uploaded once unless asked, and a row removed from the
manifest is not part of the run. Real `vidlift` subprocesses against the emulator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vidlift.manifest.ids import derive_job_id
from vidlift.testing.emulator import Emulator

from .conftest import cli_env, run_cli

pytestmark = pytest.mark.anyio


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {
        str(path.relative_to(folder)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


async def report(env: dict[str, str], folder: Path) -> dict[str, dict[str, object]]:
    result = await run_cli(["report", "--format", "json"], env, cwd=folder)
    assert result.code == 0, result.stderr
    return {str(row["id"]): row for row in json.loads(result.stdout)}


async def test_a_dry_run_writes_nothing_and_says_what_the_run_would_do(
    emulator: Emulator, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("a", "b", "c", "d"):
        (lib / f"{name}.mp4").write_bytes(os.urandom(30_000))
    manifest = lib / "m.csv"
    manifest.write_text("id,path,title\na,a.mp4,A\nb,b.mp4,B\nc,c.mp4,C\nd,gone.mp4,D\n")
    env = cli_env(emulator)

    before = listing(lib)  # no journal yet: none is created
    dry = await run_cli(["run", str(manifest), "--dry-run"], env)
    assert dry.code == 0 and "Traceback" not in dry.stderr, dry.stderr
    assert "dry run: 4 rows read, 3 new jobs, 1 bad row; nothing written" in dry.stdout
    assert "bad row: m.csv:5: file not found" in dry.stdout
    assert listing(lib) == before
    assert emulator.request_counts().get("api", 0) == 0

    first = await run_cli(["run", str(manifest), "--log-format", "json"], env)
    assert first.code == 1, first.stderr  # the bad row
    # Now: a new row, a changed title, a file changed under the failed row, a removed row.
    (lib / "gone.mp4").write_bytes(os.urandom(10_000))
    (lib / "e.mp4").write_bytes(os.urandom(20_000))
    manifest.write_text("id,path,title\na,a.mp4,A2\nb,b.mp4,B\nd,gone.mp4,D\ne,e.mp4,E\n")
    journal = lib / "m.csv.vidlift.sqlite"
    before, journal_bytes = listing(lib), journal.read_bytes()

    dry = await run_cli(["run", str(manifest), "--dry-run"], env)
    assert dry.code == 0, dry.stderr
    out = dry.stdout
    assert "dry run: 4 rows read, 2 new jobs, 0 bad rows; nothing written" in out, out
    assert "metadata to update on the platform: 1 video" in out and "a (" in out
    assert "already in the journal, done: 2" in out
    assert "no longer in the manifest (not part of the run): 1 (c)" in out
    assert "bytes to send: 29.3 KiB" in out  # gone.mp4 (now a good row) and e.mp4
    assert listing(lib) == before and journal.read_bytes() == journal_bytes
    assert not journal.with_name(journal.name + "-wal").exists()

    second = await run_cli(["run", str(manifest), "--log-format", "json"], env)
    assert second.code == 0, second.stderr
    assert "metadata of 1 done video updated" in second.stderr


async def test_one_file_under_several_rows_is_uploaded_once_unless_asked(
    emulator: Emulator, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.mp4").write_bytes(os.urandom(40_000))
    (lib / "link.mp4").symlink_to("a.mp4")
    manifest = lib / "m.csv"
    manifest.write_text(f"path,title\na.mp4,A\n./a.mp4,A again\n{lib / 'a.mp4'},abs\nlink.mp4,L\n")
    env = cli_env(emulator)

    for _ in range(2):  # and again: still no failure
        result = await run_cli(["run", str(manifest), "--log-format", "json"], env)
        assert result.code == 0, result.stderr
        for line in (3, 4, 5):
            assert f"vidlift: warning: m.csv:{line}: the same file as row m.csv:2" in result.stderr
        assert "skipped" in result.stderr and "Traceback" not in result.stderr
    assert len(emulator.videos()) == 1
    assert list(await report(env, lib)) == [derive_job_id("a.mp4")]

    # Asked for: distinct ids (both rows), or --allow-duplicate-files.
    ids = lib / "ids.csv"
    ids.write_text("id,path,title\nx,a.mp4,X\ny,link.mp4,Y\n")
    result = await run_cli(["run", str(ids), "--log-format", "json"], env)
    assert result.code == 0, result.stderr
    assert "ids.csv:3: the same file as row ids.csv:2: uploaded once per row, as asked" in (
        result.stderr
    )
    assert len(emulator.videos()) == 3
    flag = ["run", str(manifest), "--allow-duplicate-files", "--log-format", "json"]
    result = await run_cli(flag, env)
    assert result.code == 0, result.stderr
    assert "(--allow-duplicate-files)" in result.stderr
    assert len(emulator.videos()) == 5  # the absolute path and the link; ./a.mp4 is a.mp4


async def test_a_row_removed_from_the_manifest_is_not_part_of_the_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("a", "b", "c"):
        (lib / f"{name}.mp4").write_bytes(os.urandom(30_000))
    manifest = lib / "m.csv"
    manifest.write_text("id,path\na,a.mp4\nb,b.mp4\nc,c.mp4\nd,gone.mp4\n")
    env = cli_env(emulator)
    down = env | {"VIDLIFT_UNREACHABLE_S": "0.2", "VIDLIFT_ENDPOINT": "http://127.0.0.1:9"}
    stopped = await run_cli(["run", str(manifest), "--log-format", "json"], down)
    assert stopped.code == 2, stopped.stderr  # the platform down: jobs left as they were
    assert emulator.videos() == []

    manifest.write_text("id,path\na,a.mp4\nb,b.mp4\n")  # c (queued) and d (failed) removed
    result = await run_cli(["run", str(manifest), "--log-format", "json"], env)
    assert result.code == 0, result.stderr  # d's failure is not this manifest's
    said = "2 jobs of the journal no longer in m.csv (e.g. {}): not part of this run"
    assert any(said.format(ids) in result.stderr for ids in ("c, d", "d, c")), result.stderr
    assert "vidlift: 2 done, 0 failed, 0 left, of 2 jobs" in result.stderr
    assert sorted(v.custom.get("vidlift_job_id", "") for v in emulator.videos()) == ["a", "b"]

    rows = await report(env, lib)
    assert {job: (row["state"], row["in_manifest"]) for job, row in rows.items()} == {
        "a": ("done", "yes"),
        "b": ("done", "yes"),
        "c": ("pending", "no"),  # the platform was down from the start: never began
        "d": ("failed", "no"),
    }
    result = await run_cli(["report"], env, cwd=lib)
    assert "vidlift: 2 jobs no longer in" in result.stderr, result.stderr
    assert any(f"(in_manifest=no): {ids}" in result.stderr for ids in ("c, d", "d, c"))


async def test_a_done_file_that_changed_is_said_every_run_and_its_video_kept(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The rule for a row whose file changed after its video was done: the video keeps
    the version uploaded before; every run says so (the row and the video), not silently."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.mp4").write_bytes(os.urandom(30_000))
    manifest = lib / "m.csv"
    manifest.write_text("id,path,title\na,a.mp4,A\n")
    env = cli_env(emulator)
    first = await run_cli(["run", str(manifest)], env)
    assert first.code == 0, first.stderr
    sent = emulator.request_counts().get("bytes_received", 0)
    with (lib / "a.mp4").open("ab") as handle:
        handle.write(b"more")
    for _ in range(2):
        again = await run_cli(["run", str(manifest)], env)
        assert again.code == 0 and "Traceback" not in again.stderr, again.stderr
        warned = [line for line in again.stderr.splitlines() if "changed since its upload" in line]
        assert len(warned) == 1 and "m.csv:2" in warned[0], again.stderr
        assert "30000 -> 30004 bytes" in warned[0] and "keeps the version" in warned[0]
    assert emulator.request_counts().get("bytes_received", 0) == sent  # nothing re-sent
    assert len(emulator.videos()) == 1
