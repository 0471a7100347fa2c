"""Fleet mode and the manifest as it is now (issue 14): on a PostgreSQL journal, a row
removed from the manifest is kept in the journal but no worker uploads it, `enqueue`,
`worker`, `run`, `status` and `report` say so, and a row put back is uploaded. Real
PostgreSQL (a schema of its own), real emulator, real `vidlift` subprocesses; every
command is bounded by a timeout, so a worker that never ends fails the test."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import anyio
import pytest

from tests.postgres import pg_url
from vidlift.testing.emulator import Emulator

from .conftest import CliResult, cli_env, run_cli
from .test_fleet_cli import FLEET_ENV

__all__ = ["pg_url"]

pytestmark = pytest.mark.anyio


async def _vidlift(args: list[str], env: dict[str, str]) -> CliResult:
    with anyio.fail_after(60):  # a worker that waits for jobs it may not take fails here
        result = await run_cli(args, env)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _uploaded(emulator: Emulator) -> list[str]:
    return sorted(video.custom.get("vidlift_job_id", "") for video in emulator.videos())


@pytest.mark.timeout(180)
async def test_rows_removed_from_the_manifest_are_kept_and_not_uploaded(
    emulator: Emulator, tmp_path: Path, pg_url: str
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("a", "b", "c"):
        (lib / f"{name}.mp4").write_bytes(os.urandom(30_000))
    manifest = lib / "m.csv"
    manifest.write_text("id,path\na,a.mp4\nb,b.mp4\nc,c.mp4\nd,gone.mp4\n")
    env = cli_env(emulator) | FLEET_ENV
    first = await _vidlift(["enqueue", str(manifest), "--journal", pg_url], env)
    assert first.code == 0, first.stderr
    assert "no longer in" not in first.stderr + first.stdout

    manifest.write_text("id,path\na,a.mp4\n")  # b, c (pending) and d (a bad row) removed
    second = await _vidlift(["enqueue", str(manifest), "--journal", pg_url], env)
    assert second.code == 0, second.stderr
    said = re.search(
        r"3 jobs of the journal no longer in m.csv \(e.g. (.*?)\): kept, not", second.stderr
    )
    assert said is not None and sorted(said[1].split(", ")) == ["b", "c", "d"], second.stderr
    assert "holds 4 jobs (0 done, 3 no longer in the manifest)" in second.stdout, second.stdout

    worker = await _vidlift(["worker", "--journal", pg_url], env)
    assert worker.code == 0, worker.stderr  # d's failure is not this manifest's
    assert "3 jobs of the journal no longer in the manifest" in worker.stderr
    assert "vidlift: 1 done, 0 failed, 0 left, of 1 job" in worker.stderr, worker.stderr
    assert _uploaded(emulator) == ["a"]

    status = await _vidlift(["status", "--journal", pg_url], env)
    assert status.code == 0, status.stderr
    assert "no longer in the manifest: 3 jobs, kept, not taken by workers" in status.stdout
    listed = await _vidlift(["report", "--journal", pg_url, "--format", "json"], env)
    assert listed.code == 0, listed.stderr
    rows = {row["id"]: (row["state"], row["in_manifest"]) for row in json.loads(listed.stdout)}
    assert rows == {
        "a": ("done", "yes"),
        "b": ("pending", "no"),
        "c": ("pending", "no"),
        "d": ("failed", "no"),
    }
    said = re.search(
        r"3 jobs no longer in the manifest enqueued last \(in_manifest=no\): (.*)", listed.stderr
    )
    assert said is not None and sorted(said[1].split(", ")) == ["b", "c", "d"], listed.stderr

    manifest.write_text("id,path\na,a.mp4\nb,b.mp4\n")  # b is back: `run` = enqueue + worker
    again = await _vidlift(["run", str(manifest), "--journal", pg_url], env)
    assert again.code == 0, again.stderr
    said = re.search(r"2 jobs of the journal no longer in m.csv \(e.g. (.*?)\): kept", again.stderr)
    assert said is not None and sorted(said[1].split(", ")) == ["c", "d"], again.stderr
    assert "vidlift: 2 done, 0 failed, 0 left, of 2 jobs" in again.stderr, again.stderr
    assert _uploaded(emulator) == ["a", "b"]
