"""`vidlift upload` as a real subprocess against the emulator."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator

from .conftest import SECRET, make_file

pytestmark = pytest.mark.anyio


def env_for(emu: Emulator, *, credentials: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    if credentials:
        env.update(VIDLIFT_API_KEY=emu.api_key, VIDLIFT_API_SECRET=emu.api_secret)
    return env


async def vidlift(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    done = await anyio.run_process([sys.executable, "-m", "vidlift", *args], env=env, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_upload_json_prints_one_object(emulator: Emulator, tmp_path: Path) -> None:
    source = make_file(tmp_path / "clip.mp4", 150_000)
    code, out, err = await vidlift(
        "upload",
        str(source),
        "--endpoint",
        emulator.endpoint,
        "--chunk-size",
        "64KiB",
        "--title",
        "CLI",
        "--tags",
        "a,b",
        "--custom",
        "legacy_id=77",
        "--json",
        env=env_for(emulator),
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["status"] == "ok" and document["size"] == 150_000
    assert document["segments_sent"] == 3
    assert document["checked"] == "md5" and "warning" not in err
    video = emulator.video(document["video_key"])
    assert video is not None and video.custom["legacy_id"] == "77" and video.title == "CLI"
    assert SECRET not in out + err


async def test_upload_human_output_and_xml_format(emulator: Emulator, tmp_path: Path) -> None:
    source = make_file(tmp_path / "clip.mp4", 10_000)
    code, out, err = await vidlift(
        "upload",
        str(source),
        "--endpoint",
        emulator.endpoint,
        "--api-format",
        "xml",
        env=env_for(emulator),
    )
    assert code == 0, err
    (video,) = emulator.videos()
    assert f"video key : {video.key}" in out
    assert "\x1b[" not in err  # no progress bar in a pipe


async def test_upload_to_url_needs_no_credentials(emulator: Emulator, tmp_path: Path) -> None:
    from vidlift import Client
    from vidlift.protocol.metadata import VideoMetadata
    from vidlift.protocol.urls import build_upload_url

    source = make_file(tmp_path / "clip.mp4", 70_000)
    async with Client(
        endpoint=emulator.endpoint, api_key=emulator.api_key, api_secret=emulator.api_secret
    ) as client:
        created = await client.api.create_video(VideoMetadata(title="elsewhere"))
    url = build_upload_url(created.link, api_format="json")
    code, out, err = await vidlift(
        "upload",
        str(source),
        "--upload-url",
        url,
        "--session-id",
        created.session_id,
        "--json",
        env=env_for(emulator, credentials=False),
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["size"] == 70_000
    # protocol only: no md5, but the emulator's final answer states the size
    assert document["md5"] is None and document["checked"] == "size" and "warning" not in err
    stored = emulator.video_file(created.video_key)
    assert stored is not None and stored.read_bytes() == source.read_bytes()


async def test_upload_failures_give_one_line_and_exit_codes(
    emulator: Emulator, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.mp4"
    code, _, err = await vidlift(
        "upload", str(missing), "--endpoint", emulator.endpoint, env=env_for(emulator)
    )
    assert code == 1
    assert err.strip().splitlines()[-1] == f"vidlift: error: {missing}: file not found"
    source = make_file(tmp_path / "clip.mp4", 10)
    code, _, err = await vidlift(
        "upload",
        str(source),
        "--endpoint",
        emulator.endpoint,
        env=env_for(emulator, credentials=False),
    )
    assert code == 2 and "VIDLIFT_API_KEY" in err
    bad = env_for(emulator)
    bad["VIDLIFT_API_SECRET"] = "wrong-secret-value"
    code, _, err = await vidlift("upload", str(source), "--endpoint", emulator.endpoint, env=bad)
    assert code == 2 and "SignatureInvalid" in err
    assert "wrong-secret-value" not in err
    assert emulator.videos() == []
