"""API calls per verified file: finished uploads confirmed by batch listings (issue 15).

The calls are counted at the emulator (what the platform's quota would count), not in
the client.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from vidlift import JobState, MemoryJournal, SqliteJournal
from vidlift.platforms.batches import BATCH_FIELD
from vidlift.testing.emulator import Emulator, FaultPlan
from vidlift.testing.library import write_sample_library

from .conftest import KiB, emulator_config
from .test_library_batch import batch, one_identical_video_per_job, settings

pytestmark = pytest.mark.anyio

FILES = 50


def api_calls(emu: Emulator) -> dict[str, int]:
    counts = emu.request_counts()
    return {name: n for name, n in counts.items() if name.startswith("api")}


async def test_fifty_files_cost_at_most_1_1_calls_each(tmp_path: Path) -> None:
    manifest = write_sample_library(tmp_path / "lib", FILES, sizes=(8 * KiB, 40 * KiB))
    async with Emulator(emulator_config(tmp_path, api_calls_per_minute=1000)) as emu:
        journal = await SqliteJournal.open(tmp_path / "j.sqlite")
        try:
            # 32 in flight: batches of 50 (twice the concurrency, at most 50)
            outcome = await batch(emu, manifest, journal, settings=settings(concurrency=32))
            counts = await journal.counts()
        finally:
            await journal.close()
        calls = api_calls(emu)
        assert outcome.done == FILES and outcome.failed == 0, outcome
        assert counts.by_state.get(JobState.DONE) == FILES
        one_identical_video_per_job(emu, manifest, FILES)
        # The survey of a new journal (1 list), 50 creates, and the batch listings.
        assert calls["api_create"] == FILES
        assert calls.get("api_show", 0) == 0, calls
        assert calls["api"] <= 1.1 * FILES, calls
        assert calls["api"] == calls["api_create"] + calls["api_list"], calls
        batches = {video.custom[BATCH_FIELD] for video in emu.videos()}
        assert len(batches) == 1  # 50 videos, batches of 50


async def test_batches_that_do_not_fill_are_listed_and_confirm_every_md5(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 6, sizes=(8 * KiB,))
    journal = MemoryJournal()
    # Batches of 4: the second one (2 videos) never fills and is listed when every job
    # waits (a loaded machine may list a batch early, in two calls: the same result).
    fast = replace(settings(concurrency=2), verify_batch_size=4, verify_wait_s=30.0)
    outcome = await batch(emulator, manifest, journal, settings=fast)
    assert outcome.done == 6, outcome
    calls = api_calls(emulator)
    assert calls["api_list"] >= 1 + 2  # the survey, then a listing per batch at least
    assert calls.get("api_show", 0) == 0  # every md5 below came from a listing
    records = [record async for record in journal.iter_jobs((JobState.DONE,))]
    assert len(records) == 6
    for record in records:
        data = (manifest.parent / "videos" / Path(record.source_name).name).read_bytes()
        assert record.md5 == hashlib.md5(data).hexdigest()


def v2_calls(emu: Emulator) -> dict[str, int]:
    counts = emu.request_counts()
    return {name: n for name, n in counts.items() if name.startswith("v2_")}


def assert_v2_media_match(emu: Emulator, manifest: Path, count: int) -> None:
    media = emu.media()
    assert sorted(m.external_id or "" for m in media) == [
        f"legacy-{n:03d}" for n in range(1, count + 1)
    ]
    for record in media:
        number = int((record.external_id or "").split("-")[1])
        data = (manifest.parent / "videos" / f"clip-{number:03d}.mp4").read_bytes()
        assert record.md5 == hashlib.md5(data).hexdigest(), record.media_id


@pytest.mark.parametrize("verify_md5", [True, False], ids=["md5", "no-md5"])
async def test_v2_fifty_files_cost_at_most_1_1_calls_each(tmp_path: Path, verify_md5: bool) -> None:
    """v2: direct uploads (small files) confirmed by media listings by batch; without the
    md5 too (v1 then needs no call at all, but v2's upload answers state no size)."""
    manifest = write_sample_library(tmp_path / "lib", FILES, sizes=(8 * KiB, 40 * KiB))
    fast = settings(concurrency=32)
    fast = replace(fast, upload=replace(fast.upload, verify_md5=verify_md5))
    async with Emulator(emulator_config(tmp_path, api_calls_per_minute=1000)) as emu:
        journal = await SqliteJournal.open(tmp_path / "j.sqlite")
        try:
            outcome = await batch(emu, manifest, journal, settings=fast, site_id=emu.site_id)
        finally:
            await journal.close()
        calls = v2_calls(emu)
        assert outcome.done == FILES and outcome.failed == 0, outcome
        assert_v2_media_match(emu, manifest, FILES)
        # The survey of a new journal (1 list), 50 creates, and the batch listings.
        assert calls["v2_create"] == FILES
        assert calls.get("v2_show", 0) == 0, calls
        assert calls["v2_api"] <= 1.1 * FILES, calls
        assert calls["v2_api"] == calls["v2_create"] + calls["v2_list"], calls
        batches = {m.metadata["custom_params"][BATCH_FIELD] for m in emu.media()}
        assert len(batches) == 1  # 50 media, batches of 50


async def test_v2_a_lost_listing_answer_falls_back_to_a_show_per_file(tmp_path: Path) -> None:
    """Every media listing loses its answer: the listing only saved calls, so each job
    asks its media's show (whose failures the decision table would judge) and is done."""
    files = 6
    manifest = write_sample_library(tmp_path / "lib", files, sizes=(8 * KiB,))
    faults = FaultPlan(v2_list_lost_answer_p=1.0)
    async with Emulator(emulator_config(tmp_path, faults)) as emu:
        fast = replace(settings(concurrency=2), verify_batch_size=3, verify_wait_s=30.0)
        # No survey: it is a listing too, and would fail the same way.
        outcome = await batch(
            emu, manifest, MemoryJournal(), settings=fast, site_id=emu.site_id, survey=False
        )
        calls = v2_calls(emu)
        assert outcome.done == files and outcome.failed == 0, outcome
        assert_v2_media_match(emu, manifest, files)
        assert emu.fault_counts()["v2_list_lost_answer"] >= 2  # a listing per batch at least
        assert calls["v2_show"] == files, calls  # each job asked once, after its listing
