"""`--wait-ready` (issue 12): after the upload is verified, the job polls the video's status
(paced, backing off) until the platform has processed it; a failed processing fails the
job with the platform's message, which `status` and `report` show. On v1 and v2 alike."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
import pytest

from vidlift import JobProcessing, JobState, JobVerifying, SqliteJournal
from vidlift.testing.emulator import Emulator, FaultPlan
from vidlift.testing.library import write_sample_library

from .conftest import KiB, cli_env, emulator_config, run_cli
from .test_library_batch import batch, settings

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Api:
    name: str
    failing: FaultPlan  # every video's processing fails
    shows: str  # the emulator's counter of status calls
    sends: str  # the emulator's counter of requests carrying file bytes
    message: str  # the emulator's failure message

    def kwargs(self, emu: Emulator) -> dict[str, object]:
        return {"site_id": emu.site_id} if self.name == "v2" else {}

    def env(self, emu: Emulator) -> dict[str, str]:
        env = cli_env(emu)
        if self.name == "v2":
            del env["VIDLIFT_API_KEY"]
            env.update(VIDLIFT_API="v2", VIDLIFT_SITE_ID=emu.site_id)
        return env


APIS = (
    Api("v1", FaultPlan(processing_failed_p=1.0), "api_show", "segment", "Video processing failed"),
    Api("v2", FaultPlan(v2_processing_failed_p=1.0), "v2_show", "part", "Media processing failed"),
)
SLOW = {"v1_processing_s": 0.4, "processing_s": 0.4}  # each API's processing time


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
async def test_wait_ready_polls_until_the_platform_has_processed_each_video(
    tmp_path: Path, api: Api
) -> None:
    async with Emulator(emulator_config(tmp_path, fsync=False, **SLOW)) as emu:
        manifest = write_sample_library(tmp_path / "lib", 3, sizes=(20 * KiB,))
        journal = await SqliteJournal.open(tmp_path / "j.sqlite")
        try:
            waiting = replace(settings(), wait_ready=True)
            events: list[object] = []
            outcome = await batch(
                emu, manifest, journal, settings=waiting, on_event=events.append, **api.kwargs(emu)
            )
            counts = await journal.counts()
        finally:
            await journal.close()
        assert (outcome.done, outcome.failed) == (3, 0)
        assert counts.by_state.get(JobState.DONE) == 3
        # Each job was shown "waiting for processing" once, before it was done.
        processing = [e.job_id for e in events if isinstance(e, JobProcessing)]
        assert sorted(processing) == ["legacy-001", "legacy-002", "legacy-003"]
        # Asked more than once per video (processing first), but paced: not a busy loop.
        shows = emu.request_counts().get(api.shows, 0)
        assert 3 * 2 <= shows <= 3 * 12, shows


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
async def test_failed_processing_fails_the_job_with_the_platforms_message(
    tmp_path: Path, api: Api
) -> None:
    config = emulator_config(tmp_path, api.failing, fsync=False, **SLOW)
    async with Emulator(config) as emu:
        manifest = write_sample_library(tmp_path / "lib", 2, sizes=(20 * KiB,))
        env = api.env(emu)
        result = await run_cli(["run", str(manifest), "--wait-ready", "--log-format", "text"], env)
        assert result.code == 1, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert "0 done, 2 failed" in result.stderr
        assert api.message in result.stderr and "clip-001.mp4" in result.stderr
        journal = f"{manifest}.vidlift.sqlite"
        status = await run_cli(["status", "--journal", journal], env)
        assert status.code == 0 and api.message in status.stdout + status.stderr
        report = await run_cli(["report", "--journal", journal, "--format", "json"], env)
        flat = json.loads(report.stdout)
        assert {row["state"] for row in flat} == {"failed"}
        assert all(api.message in row["error"] for row in flat), flat
        assert emu.api_secret not in result.stdout + result.stderr + report.stdout


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
async def test_a_run_stopped_while_processing_resumes_waiting_without_uploading(
    tmp_path: Path, api: Api
) -> None:
    """Stopped while the platform processes the video, the job stays ``processing`` (md5
    kept); the next run only asks the status until ready, and sends nothing again."""
    async with Emulator(emulator_config(tmp_path, fsync=False, **SLOW)) as emu:
        manifest = write_sample_library(tmp_path / "lib", 1, sizes=(20 * KiB,))
        source = manifest.parent / "videos" / "clip-001.mp4"
        waiting = replace(settings(), wait_ready=True)
        journal = await SqliteJournal.open(tmp_path / "j.sqlite")
        try:
            stop = anyio.Event()

            def stop_when_verified(event: object) -> None:
                if isinstance(event, JobVerifying):
                    stop.set()  # the run ends at the job's next step: the status check

            first = await batch(
                emu,
                manifest,
                journal,
                settings=waiting,
                on_event=stop_when_verified,
                stop=stop,
                **api.kwargs(emu),
            )
            record = await journal.get("legacy-001")
            assert record is not None and first.interrupted, first
            assert record.state is JobState.PROCESSING
            assert record.md5 == hashlib.md5(source.read_bytes()).hexdigest()
            sent = emu.request_counts().get(api.sends, 0)

            second = await batch(emu, manifest, journal, settings=waiting, **api.kwargs(emu))
            record = await journal.get("legacy-001")
        finally:
            await journal.close()
        assert second.done == 1 and second.bytes_sent == 0
        assert record is not None and record.state is JobState.DONE
        assert record.md5 == hashlib.md5(source.read_bytes()).hexdigest()
        assert emu.request_counts().get(api.sends, 0) == sent
