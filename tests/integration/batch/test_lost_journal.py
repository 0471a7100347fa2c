"""The platform is the truth, the journal a cache (issue 11): a lost journal costs one
listing call per 1,000 videos, never a second video or a re-sent file."""

from __future__ import annotations

from pathlib import Path

import pytest

import vidlift
from vidlift import JobState, SqliteJournal
from vidlift.jobs.job import source_tag
from vidlift.jobs.survey import library_tag
from vidlift.platforms.v1 import LIBRARY_FIELD, MARKER_FIELD, SOURCE_FIELD
from vidlift.protocol.metadata import VideoMetadata
from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import KiB
from .test_library_batch import batch, create_video, one_identical_video_per_job, settings

pytestmark = pytest.mark.anyio


def forget_journal(folder: Path) -> None:
    for leftover in folder.glob("j.sqlite*"):
        leftover.unlink()


async def migrate(
    emu: Emulator, manifest: Path, journal_path: Path
) -> tuple[vidlift.BatchOutcome, list[vidlift.BatchEvent]]:
    events: list[vidlift.BatchEvent] = []
    journal = await SqliteJournal.open(journal_path)
    try:
        outcome = await batch(emu, manifest, journal, settings=settings(8), on_event=events.append)
        counts = await journal.counts()
    finally:
        await journal.close()
    assert counts.by_state.get(JobState.DONE) == counts.total_jobs
    return outcome, events


async def test_a_lost_journal_duplicates_nothing_and_resends_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    count = 50
    manifest = write_sample_library(tmp_path / "lib", count, sizes=(8 * KiB, 20 * KiB))
    journal_path = tmp_path / "j.sqlite"
    first, _ = await migrate(emulator, manifest, journal_path)
    assert first.done == count
    before = emulator.request_counts()

    forget_journal(tmp_path)
    second, events = await migrate(emulator, manifest, journal_path)

    after = emulator.request_counts()
    one_identical_video_per_job(emulator, manifest, count)  # 0 new videos
    assert second.done == count and second.bytes_sent == 0  # 0 bytes re-sent
    assert after.get("api_create", 0) == before.get("api_create", 0)
    assert after.get("segment", 0) == before.get("segment", 0)
    surveyed = [e for e in events if isinstance(e, vidlift.LibrarySurveyed)]
    assert [(e.videos_found, e.api_calls) for e in surveyed] == [(count, 1)]
    # Each adopted file's md5 is checked against the one the survey's listing carried:
    # the whole second run costs one API call.
    assert after.get("api", 0) - before.get("api", 0) == 1, after


async def test_a_video_found_by_the_survey_without_its_file_gets_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 2, sizes=(20 * KiB,))
    # An earlier run created the video of legacy-001, then lost its journal.
    custom = {
        MARKER_FIELD: "legacy-001",
        SOURCE_FIELD: source_tag(manifest.parent / "videos" / "clip-001.mp4"),
        LIBRARY_FIELD: library_tag(manifest),
    }
    await create_video(emulator, VideoMetadata(title="Clip 1", custom=custom))
    await migrate(emulator, manifest, tmp_path / "j.sqlite")
    one_identical_video_per_job(emulator, manifest, 2)
    assert emulator.request_counts().get("api_create", 0) == 2  # that one + legacy-002's
