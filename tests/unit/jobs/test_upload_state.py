"""A cancelled ``Client.upload`` goes on from its ``UploadState`` (issue 11, point 9)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from vidlift import Client, UploadSettings, UploadState
from vidlift.config import RetrySettings
from vidlift.errors import ConfigError, SourceError

from .scripted_v1 import ENDPOINT, ScriptedV1

pytestmark = pytest.mark.anyio

SIZE = 1000
SETTINGS = replace(
    UploadSettings(chunk_size_bytes=100, piece_bytes=100),
    retry=RetrySettings(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0),
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client(server: ScriptedV1) -> Client:
    return Client(
        endpoint=ENDPOINT,
        api_key="k",
        api_secret="s",
        settings=SETTINGS,
        transport=server.transport,
    )


async def test_a_cancelled_upload_resumes_without_a_second_video(tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    path = tmp_path / "talk.mp4"
    path.write_bytes(data)
    server = ScriptedV1()
    state = UploadState()
    with anyio.CancelScope() as scope:

        def cancel_midway(done: int) -> None:
            if done >= 400:
                scope.cancel()

        await client(server).upload(path, state=state, on_progress=cancel_midway)
    assert scope.cancelled_caught
    assert state.video_key is not None and state.acked  # kept what was done
    assert "upload_secret" not in repr(state)
    kept = UploadState.from_json(state.to_json())  # as another process would
    sent_before = sum(len(r.body) for r in server.transport.requests if r.path == "/upload")

    result = await client(server).upload(path, state=kept)

    assert len(server.videos) == 1 and result.video_key == state.video_key
    assert result.md5 == hashlib.md5(data).hexdigest()
    assert bytes(server.videos[state.video_key].data) == data
    sent_after = sum(len(r.body) for r in server.transport.requests if r.path == "/upload")
    assert sent_after - sent_before <= SIZE - 400 + 1  # the rest, plus a 1-byte probe


async def test_a_state_of_another_version_of_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "talk.mp4"
    path.write_bytes(b"x" * SIZE)
    state = UploadState(job_id="upload-1", source_identity="1000:mtime:1")
    with pytest.raises(SourceError, match="changed since this upload started"):
        await client(ScriptedV1()).upload(path, state=state)


def test_a_broken_state_document_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="cannot read the upload state"):
        UploadState.from_json('{"hello": 1}')
