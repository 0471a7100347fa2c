"""The manifest is the source of truth for metadata (issue 11): a title or custom value
changed after a video is done is applied on the next run, exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidlift import SqliteJournal
from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import KiB
from .test_library_batch import batch

pytestmark = pytest.mark.anyio


def edit_manifest(manifest: Path) -> None:
    """Three new titles and one new custom value."""
    text = manifest.read_text(encoding="utf-8")
    for number in (2, 4, 6):
        text = text.replace(f",Clip {number},", f",Clip {number} (remastered),")
    text = text.replace(",1005\n", ",L-1005\n")
    manifest.write_text(text, encoding="utf-8")


async def test_changed_titles_and_custom_values_are_applied_exactly_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 8, sizes=(8 * KiB,))
    journal = await SqliteJournal.open(tmp_path / "j.sqlite")
    try:
        first = await batch(emulator, manifest, journal)
        assert (first.done, first.metadata_updated) == (8, 0)
        edit_manifest(manifest)
        before = emulator.request_counts()

        second = await batch(emulator, manifest, journal)
        third = await batch(emulator, manifest, journal)
    finally:
        await journal.close()
    after = emulator.request_counts()
    assert second.metadata_updated == 4 and third.metadata_updated == 0
    assert after.get("api_update", 0) - before.get("api_update", 0) == 4
    assert after.get("segment", 0) == before.get("segment", 0)  # no byte re-sent
    by_job = {v.custom["vidlift_job_id"]: v for v in emulator.videos()}
    assert [by_job[f"legacy-00{n}"].title for n in (1, 2, 4, 6)] == [
        "Clip 1",
        "Clip 2 (remastered)",
        "Clip 4 (remastered)",
        "Clip 6 (remastered)",
    ]
    assert by_job["legacy-005"].custom["legacy_id"] == "L-1005"
    assert by_job["legacy-005"].status == "ready"  # a metadata update keeps the file
