"""`vidlift.run_batch` in this process: exactly once, faults, pacing, backpressure."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import vidlift
from vidlift import BatchSettings, JobState, SqliteJournal, run_batch
from vidlift.config import Limits, RetrySettings, UploadSettings
from vidlift.platforms.v1 import MARKER_FIELD
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.models import CreateAnswer
from vidlift.testing.emulator import Emulator, FaultPlan
from vidlift.testing.library import write_sample_library

from .conftest import KiB, emulator_config

pytestmark = pytest.mark.anyio

SIZES = (30 * KiB, 150 * KiB, 400 * KiB)


def settings(concurrency: int = 4, attempts: int = 12) -> BatchSettings:
    upload = UploadSettings(
        chunk_size_bytes=64 * KiB,
        piece_bytes=16 * KiB,
        retry=RetrySettings(max_attempts=attempts, base_delay_s=0.01, max_delay_s=0.1),
    )
    return BatchSettings(limits=Limits(files_in_flight=concurrency), upload=upload, grace_s=1.0)


async def batch(
    emu: Emulator,
    manifest: Path | None,
    journal: vidlift.SqliteJournal | vidlift.MemoryJournal,
    **kwargs: object,
) -> vidlift.BatchOutcome:
    """run_batch against ``emu`` with the fast settings (unless given)."""
    kwargs.setdefault("settings", settings())
    return await run_batch(
        manifest,
        journal=journal,
        endpoint=emu.endpoint,
        api_key=emu.api_key,
        api_secret=emu.api_secret,
        **kwargs,  # type: ignore[arg-type]
    )


async def create_video(emu: Emulator, metadata: VideoMetadata) -> CreateAnswer:
    """A create call made outside the batch (a crash in its window, another library...)."""
    async with vidlift.Client(
        endpoint=emu.endpoint, api_key=emu.api_key, api_secret=emu.api_secret
    ) as client:
        return await client.api.create_video(metadata)


def one_identical_video_per_job(emu: Emulator, manifest: Path, count: int) -> None:
    videos = emu.videos()
    assert sorted(v.custom[MARKER_FIELD] for v in videos) == [
        f"legacy-{n:03d}" for n in range(1, count + 1)
    ]
    for video in videos:
        number = video.custom[MARKER_FIELD].split("-")[1]
        source = manifest.parent / "videos" / f"clip-{number}.mp4"
        stored = emu.video_file(video.key)
        assert stored is not None and stored.read_bytes() == source.read_bytes()


async def test_a_crash_after_create_never_creates_twice(emulator: Emulator, tmp_path: Path) -> None:
    manifest = write_sample_library(tmp_path / "lib", 2, sizes=SIZES)
    journal = await SqliteJournal.open(tmp_path / "j.sqlite")
    try:
        await vidlift.jobs.ingest.ingest_manifest(journal, manifest)
        # Simulate a crash between the create call and recording its answer:
        # the journal says "creating", the platform already has the video.
        await journal.mark_creating("legacy-001")
        await create_video(
            emulator, VideoMetadata(title="Clip 1", custom={MARKER_FIELD: "legacy-001"})
        )
        assert len(emulator.videos()) == 1
        outcome = await batch(emulator, None, journal)
        assert (outcome.done, outcome.failed) == (2, 0)
        counts = await journal.counts()
        assert counts.by_state[JobState.DONE] == 2
    finally:
        await journal.close()
    one_identical_video_per_job(emulator, manifest, 2)
    assert emulator.request_counts().get("api_update", 0) == 1  # a new session on the found video


async def test_faulty_platform_loses_nothing(tmp_path: Path) -> None:
    count = 24
    manifest = write_sample_library(tmp_path / "lib", count, sizes=SIZES)
    faults = FaultPlan(
        seed=11,
        drop_mid_segment_p=0.08,
        lost_ack_p=0.08,
        upload_503_p=0.08,
        api_429_p=0.1,
        api_500_p=0.05,
        api_nonce_reused_p=0.05,
        forget_completed=0.5,
        latency_ms=2,
        latency_jitter_ms=5,
    )
    events: list[vidlift.BatchEvent] = []
    async with Emulator(emulator_config(tmp_path, faults)) as emu:
        journal = await SqliteJournal.open(tmp_path / "j.sqlite")
        try:
            outcome = await batch(emu, manifest, journal, on_event=events.append)
        finally:
            await journal.close()
        injected = emu.fault_counts()
        one_identical_video_per_job(emu, manifest, count)
    assert (outcome.done, outcome.failed) == (count, 0)
    # Every kind but at most one fired: with batched verification a run makes only ~30
    # API calls, so a 10 % fault on them may draw none (seeded, but concurrent).
    kinds = ("drop_mid_segment", "lost_ack", "upload_503", "api_429")
    assert sum(injected.get(kind, 0) > 0 for kind in kinds) >= len(kinds) - 1, injected
    assert any(isinstance(e, vidlift.JobRetrying) for e in events)


async def test_a_nonce_the_server_saw_before_is_signed_again_not_fatal(tmp_path: Path) -> None:
    count = 5
    manifest = write_sample_library(tmp_path / "lib", count, sizes=(20 * KiB,))
    faults = FaultPlan(seed=3, api_nonce_reused_p=0.3)  # one worker: the same faults each run
    async with Emulator(emulator_config(tmp_path, faults)) as emu:
        outcome = await batch(emu, manifest, vidlift.MemoryJournal(), settings=settings(1))
        injected = emu.fault_counts()
        one_identical_video_per_job(emu, manifest, count)
    assert (outcome.done, outcome.failed, outcome.stopped_by) == (count, 0, None)
    assert injected.get("api_nonce_reused", 0) > 0, injected


async def test_a_session_the_server_forgot_is_renewed(emulator: Emulator, tmp_path: Path) -> None:
    manifest = write_sample_library(tmp_path / "lib", 1, sizes=(200 * KiB,))
    journal = await SqliteJournal.open(tmp_path / "j.sqlite")
    try:
        await vidlift.jobs.ingest.ingest_manifest(journal, manifest)
        async with vidlift.Client(
            endpoint=emulator.endpoint, api_key=emulator.api_key, api_secret=emulator.api_secret
        ) as client:
            created = await client.api.create_video(
                VideoMetadata(title="Clip 1", custom={MARKER_FIELD: "legacy-001"})
            )
            await journal.mark_creating("legacy-001")
            from vidlift.protocol.urls import build_upload_url

            await journal.record_created(
                "legacy-001",
                video_key=created.video_key,
                upload_url=build_upload_url(created.link, api_format="json"),
                session_id=created.session_id,
            )
            await client.api.update_video(created.video_key)  # the journal's session is gone
        outcome = await batch(emulator, None, journal)
        record = await journal.get("legacy-001")
    finally:
        await journal.close()
    assert (outcome.done, outcome.failed) == (1, 0)
    assert record is not None and record.video_key == created.video_key
    assert record.session_id != created.session_id
    one_identical_video_per_job(emulator, manifest, 1)


async def test_an_unexpected_exception_fails_only_its_job(
    emulator: Emulator, tmp_path: Path
) -> None:
    from vidlift.client.transport import AiohttpTransport, HttpRequest, HttpResponse

    class Buggy(AiohttpTransport):
        async def send(
            self, request: HttpRequest, *, timeout_s: float | None = None
        ) -> HttpResponse:
            if "clip-002" in request.headers.get("Content-Disposition", ""):
                raise RuntimeError("boom")
            return await super().send(request, timeout_s=timeout_s)

    manifest = write_sample_library(tmp_path / "lib", 3, sizes=SIZES)
    journal = vidlift.MemoryJournal()
    transport = Buggy()
    try:
        outcome = await batch(emulator, manifest, journal, transport=transport)
    finally:
        await transport.aclose()
    assert (outcome.done, outcome.failed) == (2, 1)
    record = await journal.get("legacy-002")
    assert record is not None and record.state is JobState.FAILED
    assert record.last_error == "internal error (RuntimeError: boom)"


async def test_a_look_up_never_adopts_another_librarys_video(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Job ids repeat across libraries: the source tag keeps their videos apart."""
    from vidlift.platforms.v1 import SOURCE_FIELD

    manifest = write_sample_library(tmp_path / "lib", 1, sizes=SIZES)
    journal = vidlift.MemoryJournal()
    await vidlift.jobs.ingest.ingest_manifest(journal, manifest)
    await journal.mark_creating("legacy-001")  # a crash in the create window
    other = await create_video(
        emulator,
        VideoMetadata(
            title="another library's clip",
            custom={MARKER_FIELD: "legacy-001", SOURCE_FIELD: "0123456789abcdef"},
        ),
    )
    outcome = await batch(emulator, None, journal)
    assert outcome.done == 1
    record = await journal.get("legacy-001")
    assert record is not None and record.video_key != other.video_key
    assert emulator.request_counts().get("api_update", 0) == 0  # the other video untouched
    untouched = emulator.video(other.video_key)
    assert untouched is not None and untouched.status == "created"


async def test_a_library_caller_gets_auto_limits_resolved_by_run_batch(
    emulator: Emulator, tmp_path: Path
) -> None:
    # Small files (at most 400 KiB, 8 MiB segments): auto picks the most files in flight.
    manifest = write_sample_library(tmp_path / "lib", 3, sizes=SIZES)
    journal = await SqliteJournal.open(tmp_path / "j.sqlite")
    events: list[vidlift.BatchEvent] = []
    auto = BatchSettings(upload=replace(settings().upload, chunk_size_bytes=8 * 1024 * KiB))
    assert auto.limits.files_in_flight == 0  # AUTO: the default
    try:
        outcome = await batch(emulator, manifest, journal, settings=auto, on_event=events.append)
    finally:
        await journal.close()
    assert outcome.done == 3 and outcome.failed == 0
    assert isinstance(events[0], vidlift.BatchStarted)  # before any job
    (started,) = [e for e in events if isinstance(e, vidlift.BatchStarted)]
    assert started.limits.files_in_flight == 64 and started.limits.connections == 132
    one_identical_video_per_job(emulator, manifest, 3)
