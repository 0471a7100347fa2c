"""kill -9 in the middle of a v2 multipart upload, then a new process resumes from the
kept handle and acked parts and the platform's ETags: one media, byte-identical, no part
stored twice."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from tests.integration.platforms.conftest import MIB, SECRET, emulator_config, make_file, md5_of
from vidlift.testing.emulator import Emulator

pytestmark = pytest.mark.anyio
CHILD = Path(__file__).with_name("v2_child.py")


async def test_kill_9_mid_upload_then_resume(tmp_path: Path) -> None:
    size = 21 * MIB  # 5 parts of 5 MiB (the last 1 MiB)
    path = make_file(tmp_path / "f.mp4", size)
    state = tmp_path / "state.json"
    config = emulator_config(tmp_path, bandwidth_bytes_per_s=40 * MIB)
    async with Emulator(config) as emu:
        command = [sys.executable, str(CHILD), emu.endpoint, SECRET, str(path), str(state)]
        child = await anyio.to_thread.run_sync(
            lambda: subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        )
        assert child.stdout is not None
        first = await anyio_readline(child)
        assert first.startswith("acked"), first
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        stored_before = emu.request_counts().get("part_ok", 0)
        assert 1 <= stored_before < 5
        done = await anyio.to_thread.run_sync(
            lambda: subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "finished" in done.stdout and SECRET not in done.stdout + done.stderr
        media = emu.media()
        assert len(media) == 1 and media[0].md5 == md5_of(path)
        counts = emu.request_counts()
        assert counts["part_ok"] <= 5 + 1  # at most the part stored after the kill again
        assert counts["v2_complete"] == 1 and counts["v2_create"] == 1


async def anyio_readline(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    stdout = child.stdout
    return await anyio.to_thread.run_sync(stdout.readline)
