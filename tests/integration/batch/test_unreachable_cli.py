"""A platform that cannot be reached at all is not N job failures (issue 11, point 5):
the batch waits, bounded by ``unreachable_s``, then stops with exit 2 and every job as it
was; once the platform answers, the same command simply goes on."""

from __future__ import annotations

import json
import os
import signal
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
    assert "cannot connect to 127.0.0.1:" in err and "ssl:default" not in out + err
    code, out, _ = await vidlift(env, "report", "--journal", str(journal), "--format", "json")
    assert code == 0
    assert {row["state"] for row in json.loads(out)} <= {"pending", "creating"}

    code, out, err = await vidlift(env, "run", *common, "--endpoint", emulator.endpoint)
    assert code == 0, (out, err)
    assert len(emulator.videos()) == 6


async def test_waiting_for_the_platform_is_visible_and_ctrl_c_stops_it_at_once(
    tmp_path: Path,
) -> None:
    """A new journal first surveys the platform: while it cannot be reached each retry is
    a `batch_retrying` line naming the address, and Ctrl-C ends the wait at once (nothing
    is in flight), not after the back-off (here a minute)."""
    manifest = write_sample_library(tmp_path / "lib", 2, sizes=(20 * KiB,))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    env |= {
        "VIDLIFT_API_KEY": "k",
        "VIDLIFT_API_SECRET": "s",
        "VIDLIFT_BACKOFF_BASE_S": "60",
        "VIDLIFT_BACKOFF_MAX_S": "60",
    }
    port = closed_port()
    args = ["run", str(manifest), "--log-format", "json", "--endpoint", f"http://127.0.0.1:{port}"]
    process = await anyio.open_process([sys.executable, "-m", "vidlift", *args], env=env)
    assert process.stdout is not None and process.stderr is not None
    seen = b""
    async for chunk in process.stdout:
        seen += chunk
        if b"\n" in seen and b"batch_retrying" in seen:
            break
    line = next(json.loads(x) for x in seen.splitlines() if b"batch_retrying" in x)
    assert line["step"] == "surveying the platform"
    assert line["error"] == f"cannot connect to 127.0.0.1:{port} (connection refused)"
    assert line["reason"] == "ConnectError" and line["delay_s"] >= 1
    process.send_signal(signal.SIGINT)
    with anyio.fail_after(20):  # far less than the back-off in progress
        async for _ in process.stdout:
            pass
        code = await process.wait()
        errors = b"".join([c async for c in process.stderr]).decode()
    assert code == 130, errors
    assert "interrupted" in errors and "Traceback" not in errors
