"""The platform is the truth, the journal a cache (issue 11; on v2 too, issue 12 point 4):
a lost journal costs one listing call per 1,000 videos, never a second video or a re-sent
file. v2 lists media by ``custom_params.vidlift_library``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

import vidlift
from vidlift import JobState, SqliteJournal
from vidlift.client.transport import AiohttpTransport
from vidlift.jobs.job import source_tag
from vidlift.jobs.survey import library_tag
from vidlift.platforms.v1 import LIBRARY_FIELD, MARKER_FIELD, SOURCE_FIELD
from vidlift.platforms.v2 import V2Platform, V2Settings
from vidlift.platforms.v2.platform import LIBRARY_FIELD as V2_LIBRARY_FIELD
from vidlift.protocol.metadata import VideoMetadata
from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import KiB
from .test_library_batch import batch, create_video, one_identical_video_per_job, settings
from .test_run_v2 import assert_v2_migrated

pytestmark = pytest.mark.anyio


def forget_journal(folder: Path) -> None:
    for leftover in folder.glob("j.sqlite*"):
        leftover.unlink()


@dataclass(frozen=True)
class Api:
    """What differs between v1 and v2 in these tests: the emulator's request counters."""

    name: str
    created: str  # a video/media created
    sent: str  # a request carrying file bytes
    api: str  # any API call

    def kwargs(self, emu: Emulator) -> dict[str, object]:
        return {"site_id": emu.site_id} if self.name == "v2" else {}

    def one_identical_per_job(self, emu: Emulator, manifest: Path, count: int) -> None:
        if self.name == "v2":
            assert_v2_migrated(emu, manifest, count)
        else:
            one_identical_video_per_job(emu, manifest, count)


APIS = (Api("v1", "api_create", "segment", "api"), Api("v2", "v2_create", "part", "v2_api"))


async def migrate(
    emu: Emulator, manifest: Path, journal_path: Path, **kwargs: object
) -> tuple[vidlift.BatchOutcome, list[vidlift.BatchEvent]]:
    events: list[vidlift.BatchEvent] = []
    journal = await SqliteJournal.open(journal_path)
    try:
        outcome = await batch(
            emu, manifest, journal, settings=settings(8), on_event=events.append, **kwargs
        )
        counts = await journal.counts()
    finally:
        await journal.close()
    assert counts.by_state.get(JobState.DONE) == counts.total_jobs
    return outcome, events


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
async def test_a_lost_journal_duplicates_nothing_and_resends_nothing(
    emulator: Emulator, tmp_path: Path, api: Api
) -> None:
    count = 50 if api.name == "v1" else 12
    manifest = write_sample_library(tmp_path / "lib", count, sizes=(8 * KiB, 20 * KiB))
    journal_path = tmp_path / "j.sqlite"
    first, _ = await migrate(emulator, manifest, journal_path, **api.kwargs(emulator))
    assert first.done == count
    before = emulator.request_counts()

    forget_journal(tmp_path)
    second, events = await migrate(emulator, manifest, journal_path, **api.kwargs(emulator))

    after = emulator.request_counts()
    api.one_identical_per_job(emulator, manifest, count)  # 0 new videos
    assert second.done == count and second.bytes_sent == 0  # 0 bytes re-sent
    assert after.get(api.created, 0) == before.get(api.created, 0)
    assert after.get(api.sent, 0) == before.get(api.sent, 0)
    surveyed = [e for e in events if isinstance(e, vidlift.LibrarySurveyed)]
    assert [(e.videos_found, e.api_calls) for e in surveyed] == [(count, 1)]
    # Each adopted file is checked against what the survey's listing carried (v1: its
    # md5; v2: its size, each part was checked by its ETag): the second run costs one call.
    assert after.get(api.api, 0) - before.get(api.api, 0) == 1, after


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


async def test_a_v2_media_found_without_its_file_gets_it_not_a_second_media(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A crash after create, then the journal lost: the survey finds the empty media and
    the job uploads into it (reupload), never creating another."""
    manifest = write_sample_library(tmp_path / "lib", 2, sizes=(20 * KiB,))
    source = manifest.parent / "videos" / "clip-001.mp4"
    transport = AiohttpTransport()
    try:
        platform = V2Platform(
            transport,
            V2Settings(
                site_id=emulator.site_id,
                api_secret=emulator.api_secret,
                endpoint=emulator.endpoint,
                library=library_tag(manifest),
            ),
        )
        await platform.create(
            VideoMetadata(title="Clip 1"),
            marker="legacy-001",
            tag=source_tag(source),
            size_bytes=source.stat().st_size,
        )
    finally:
        await transport.aclose()
    [early] = emulator.media()
    assert early.metadata["custom_params"][V2_LIBRARY_FIELD] == library_tag(manifest)

    await migrate(emulator, manifest, tmp_path / "j.sqlite", site_id=emulator.site_id)

    assert_v2_migrated(emulator, manifest, 2)
    assert early.media_id in {m.media_id for m in emulator.media()}
    counts = emulator.request_counts()
    assert counts.get("v2_create", 0) == 2 and counts.get("v2_reupload", 0) == 1
