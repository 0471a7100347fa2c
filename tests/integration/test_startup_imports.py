"""Start-up: what a short `vidlift` process imports (issue 15).

Users script one `vidlift upload` per file; help and usage errors must not pay for the
upload stack. Imports are checked in a fresh interpreter (a subprocess), not timed:
benchmarks/startup.py measures the CPU.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


def imported(*args: str) -> dict[str, object]:
    script = f"HEAVY = {HEAVY!r}\n{PROBE}"
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


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
