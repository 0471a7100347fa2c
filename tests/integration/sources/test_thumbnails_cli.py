"""Rows with ``thumbnail_download_url``: once the video is ready the row's image becomes
its poster (v2 thumbnails API; the emulator fetches the image). A poster that cannot be
set is reported (``poster_failed``, the summary), never fatal: the video is done. v1 has
no poster from a URL: said so per job, the videos migrate."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import aiohttp
import pytest

from tests.integration.sources.test_fetch_cli import env_on
from tests.integration.sources.test_relay_cli import SECRET, run
from vidlift.testing.emulator import Emulator, EmulatorConfig
from vidlift.testing.origin import Origin

pytestmark = pytest.mark.anyio

KiB = 1024


def library(folder: Path, origin: Origin, posters: dict[str, str]) -> Path:
    """Two local videos; each row's thumbnail_download_url as given (a name on the origin)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["path,title,thumbnail_download_url"]
    for name, poster in posters.items():
        (folder / name).write_bytes(os.urandom(120 * KiB))
        lines.append(f"{name},{name},{origin.url(poster)}")
    listed = folder / "library.csv"
    listed.write_text("\n".join(lines) + "\n")
    return listed


async def test_v2_sets_each_rows_poster_and_reports_the_one_it_cannot(
    tmp_path: Path, origin: Origin
) -> None:
    image = os.urandom(20 * KiB)
    origin.add("poster-a.jpg", image)
    listed = library(tmp_path / "lib", origin, {"a.mp4": "poster-a.jpg", "b.mp4": "gone.jpg"})
    config = EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET, processing_s=0.2)
    async with Emulator(config) as emu, aiohttp.ClientSession() as http:
        args = [str(listed), "--log-format", "json"]
        code, out, err = await run(args, env_on(emu, "v2"))
        assert code == 0, err  # a poster that cannot be set fails no job
        assert "Traceback" not in err
        events = [json.loads(line) for line in (out + err).splitlines() if line.startswith("{")]
        failed = [e for e in events if e["event"] == "poster_failed"]
        assert len(failed) == 1 and failed[0]["path"].endswith("b.mp4"), failed
        assert "HTTP 404" in failed[0]["error"]
        assert "the poster of 1 done video could not be set" in err
        posters = {}
        for media in emu.media():
            async with http.get(f"{emu.endpoint}/_emulator/media/{media.media_id}") as answer:
                posters[media.metadata["title"]] = (await answer.json())["poster_md5"]
    assert posters == {"a.mp4": hashlib.md5(image).hexdigest(), "b.mp4": None}


async def test_v1_says_it_sets_no_poster_and_migrates_the_videos(
    tmp_path: Path, origin: Origin
) -> None:
    origin.add("poster.jpg", os.urandom(10 * KiB))
    listed = library(tmp_path / "lib", origin, {"a.mp4": "poster.jpg"})
    config = EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET)
    async with Emulator(config) as emu:
        code, _, err = await run([str(listed)], env_on(emu, "v1"))
        assert code == 0, err
        assert "the poster of 1 done video could not be set" in err
        assert [video.title for video in emu.videos()] == ["a.mp4"]
        assert emu.request_counts().get("api_show", 0) <= 1  # no waiting for "ready"
    assert origin.body_bytes("poster.jpg") == 0  # v1 never asked for the image
