"""A platform that cannot be reached at all is not N job failures (issue 11, point 5):
the batch waits, bounded by ``unreachable_s``, then stops with exit 2 and every job as it
was; once the platform answers, the same command simply goes on."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import KiB

pytestmark = pytest.mark.anyio


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def vidlift(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = await anyio.run_process([sys.executable, "-m", "vidlift", *args], env=env, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_a_platform_that_is_down_stops_the_batch_then_the_run_goes_on(
    emulator: Emulator, tmp_path: Path
) -> None:
    manifest = write_sample_library(tmp_path / "lib", 6, sizes=(20 * KiB,))
    journal = tmp_path / "j.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    env |= {
        "VIDLIFT_API_KEY": emulator.api_key,
        "VIDLIFT_API_SECRET": emulator.api_secret,
        "VIDLIFT_UNREACHABLE_S": "2",
        "VIDLIFT_BACKOFF_MAX_S": "0.2",
        "VIDLIFT_MAX_ATTEMPTS": "3",
    }
    down = f"http://127.0.0.1:{closed_port()}"
    common = [str(manifest), "--journal", str(journal), "--log-format", "json"]

    code, out, err = await vidlift(env, "run", *common, "--endpoint", down)

    assert code == 2, (out, err)
    assert "could not be reached" in err and "run again" in err, err
    assert "Traceback" not in err
    assert "job_failed" not in out  # not 6 failed jobs: every job left as it was
    code, out, _ = await vidlift(env, "report", "--journal", str(journal), "--format", "json")
    assert code == 0
    assert {row["state"] for row in json.loads(out)} <= {"pending", "creating"}

    code, out, err = await vidlift(env, "run", *common, "--endpoint", emulator.endpoint)
    assert code == 0, (out, err)
    assert len(emulator.videos()) == 6
