"""Protocol-only uploads (``upload_to_url``) over a lossy network (issue 11, point 8):
requests dropped before the server sees them and answers lost after it acted, on every
kind of request, the FIRST probe of a fresh session included. Every upload completes in
one run, byte-identical, into its one session; and no md5 is computed for nothing."""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import replace
from pathlib import Path

import pytest

from vidlift import Client, UploadSettings
from vidlift.config import RetrySettings
from vidlift.protocol.metadata import VideoMetadata

from .proxy import DROP, Call, Reply, tamper_proxy

pytestmark = pytest.mark.anyio

SIZE = 300_000
SETTINGS = replace(
    UploadSettings(chunk_size_bytes=64 * 1024, piece_bytes=16 * 1024),
    retry=RetrySettings(max_attempts=12, base_delay_s=0.0, max_delay_s=0.01),
)


def lossy(seed: int, first_probe: str) -> object:
    """A hook: the first request of each file meets ``first_probe`` (drop before the
    server, or an answer lost after it acted); later ones are lost 1 time in 4."""
    rng = random.Random(seed)
    seen: set[str] = set()

    async def hook(call: Call) -> Reply:
        if not call.is_segment:
            return await call.forward()
        first = call.filename not in seen
        seen.add(call.filename)
        fate = first_probe if first else rng.choice(["ok", "ok", "drop", "lost"])
        if fate == "drop":
            return DROP  # the server never saw it
        reply = await call.forward()
        return DROP if fate == "lost" else reply  # it acted; its answer is lost

    return hook


@pytest.mark.parametrize("first_probe", ["drop", "lost"])
async def test_every_protocol_only_upload_completes_in_one_run(
    tmp_path: Path, first_probe: str
) -> None:
    async with tamper_proxy(tmp_path) as proxy:
        emulator = proxy.emulator
        async with Client(
            endpoint=proxy.endpoint, api_key=emulator.api_key, api_secret=emulator.api_secret
        ) as setup:  # sessions obtained elsewhere (here: through the API, untampered)
            sessions = [
                await setup.api.create_video(VideoMetadata(title=f"clip {n}")) for n in range(6)
            ]
        proxy.hook = lossy(seed=7, first_probe=first_probe)  # type: ignore[assignment]
        async with Client(settings=SETTINGS) as client:  # no credentials: protocol only
            for number, created in enumerate(sessions):
                path = tmp_path / f"clip-{number}.mp4"
                data = os.urandom(SIZE)
                path.write_bytes(data)
                link = created.link
                url = f"http://{link.address}{link.path}?api_format=json&key={link.query.key}"
                result = await client.upload_to_url(
                    path, upload_url=url, session_id=created.session_id
                )
                assert result.md5 is None  # nothing to compare it with: not computed
                stored = emulator.video_file(created.video_key)
                assert stored is not None and hashlib.md5(stored.read_bytes()).digest() == (
                    hashlib.md5(data).digest()
                )
        assert len(emulator.videos()) == 6
