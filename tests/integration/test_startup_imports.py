"""Start-up: what a short `vidlift` process imports (issue 15).

Users script one `vidlift upload` per file; help and usage errors must not pay for the
upload stack. Imports are checked in a fresh interpreter (a subprocess), not timed:
benchmarks/startup.py measures the CPU. A real one-file upload (a subprocess against the
emulator on loopback, its output in a pipe) must not load what only batches, fleets, the
v2 API or a terminal display use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator, EmulatorConfig

HEAVY = ("aiohttp", "pydantic", "rich", "vidlift.protocol.models", "vidlift.jobs.facade")

PROBE = """
import json, sys
from vidlift.cli.main import cli
try:
    cli(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "heavy": [m for m in HEAVY if m in sys.modules]}))
"""

# The console script's entry point, then whether the garbage collector is on again and
# whether pydantic was told to skip its plugin discovery.
GC_PROBE = """
import gc, json, os, sys
from vidlift.cli.main import main
sys.argv[0] = "vidlift"
try:
    main()
except SystemExit as exit:
    code = exit.code
plugins = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
print(json.dumps({"code": code, "gc": gc.isenabled(), "frozen": gc.get_freeze_count() > 0,
                  "plugins": plugins}))
"""


# What a one-file upload never needs: aiohttp (it sends through h11), the batch runner
# and fleet feed, the journals, the v2 API, the terminal display (its output is a pipe).
NOT_FOR_ONE_UPLOAD = (
    "aiohttp",
    "rich",
    "vidlift.jobs.manager",
    "vidlift.jobs.batch",
    "vidlift.jobs.feed",
    "vidlift.journal",
    "vidlift.manifest",
    "vidlift.platforms.v2",
    "vidlift.cli.view",
    "vidlift.cli.eventlog",
)


def parse_probe(stdout: str, stderr: str) -> dict[str, object]:
    assert "Traceback" not in stderr, stderr
    result: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return result


def imported(*args: str) -> dict[str, object]:
    script = f"HEAVY = {HEAVY!r}\n{PROBE}"
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
    )
    return parse_probe(done.stdout, done.stderr)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["upload", "--help"], 0),
        (["status", "--help"], 0),
        # a usage error is refused before the upload stack is imported
        (["upload", "x.mp4", "--upload-url", "http://127.0.0.1:9/u"], 2),
    ],
)
def test_help_and_usage_errors_import_no_upload_stack(args: list[str], code: int) -> None:
    assert imported(*args) == {"code": code, "heavy": []}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(data_dir=tmp_path / "emu")) as emu:
        yield emu


async def probe_tiny_upload(
    emulator: Emulator, tmp_path: Path, script: str, **environ: str
) -> tuple[dict[str, object], str, str]:
    """``vidlift upload`` of a 1 KiB file, piped, run by ``script`` in a fresh interpreter:
    the probe's result, stdout and stderr."""
    tiny = tmp_path / "tiny.bin"
    tiny.write_bytes(os.urandom(1024))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    env.update(VIDLIFT_API_KEY=emulator.api_key, VIDLIFT_API_SECRET=emulator.api_secret)
    env.update(environ)
    args = ["upload", str(tiny), "--endpoint", emulator.endpoint, "--json"]
    done = await anyio.run_process([sys.executable, "-c", script, *args], env=env, check=False)
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    return parse_probe(stdout, stderr), stdout, stderr


@pytest.mark.anyio
async def test_one_file_upload_imports_no_batch_journal_v2_or_display(
    emulator: Emulator, tmp_path: Path
) -> None:
    script = f"HEAVY = {NOT_FOR_ONE_UPLOAD!r}\n{PROBE}"
    result, stdout, stderr = await probe_tiny_upload(emulator, tmp_path, script)
    assert result == {"code": 0, "heavy": []}, stderr
    # the upload really happened: its JSON document precedes the probe's line
    document = json.loads(stdout.strip().splitlines()[0])
    assert document["status"] == "ok" and document["size"] == 1024
    assert emulator.video(document["video_key"]) is not None


@pytest.mark.anyio
async def test_one_file_upload_runs_with_the_garbage_collector_on(
    emulator: Emulator, tmp_path: Path
) -> None:
    # main() turns it off while the stack is imported; the upload turns it back on
    result, _, stderr = await probe_tiny_upload(emulator, tmp_path, GC_PROBE)
    assert result == {"code": 0, "gc": True, "frozen": True, "plugins": "__all__"}, stderr


@pytest.mark.anyio
async def test_a_users_pydantic_plugin_setting_is_kept(emulator: Emulator, tmp_path: Path) -> None:
    # empty: the user wants every plugin; vidlift only skips discovery when nothing is said
    result, _, stderr = await probe_tiny_upload(
        emulator, tmp_path, GC_PROBE, PYDANTIC_DISABLE_PLUGINS=""
    )
    assert result == {"code": 0, "gc": True, "frozen": True, "plugins": ""}, stderr
