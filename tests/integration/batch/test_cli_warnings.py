"""An unknown manifest column is a warning, not a failed pseudo-job; `report --output`
into a missing folder is a clear error (issue 11, points 1 and 2). Real subprocesses."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator

pytestmark = pytest.mark.anyio


async def vidlift(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = await anyio.run_process([sys.executable, "-m", "vidlift", *args], env=env, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_unknown_column_warns_and_the_run_succeeds(
    emulator: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "a.mp4").write_bytes(os.urandom(50_000))
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,path,colour\na,a.mp4,red\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    env |= {"VIDLIFT_API_KEY": emulator.api_key, "VIDLIFT_API_SECRET": emulator.api_secret}
    args = ["run", str(manifest), "--endpoint", emulator.endpoint, "--log-format", "json"]

    for _ in range(2):  # and the next run too: no pseudo-job failed forever
        code, out, err = await vidlift(env, *args)
        assert code == 0, (out, err)
        assert "vidlift: warning: m.csv:1: unknown column 'colour' ignored" in err, err
        assert "Traceback" not in err
    code, out, _ = await vidlift(env, "report", "--journal", f"{manifest}.vidlift.sqlite",
                                 "--format", "json")  # fmt: skip
    assert code == 0
    assert [(row["id"], row["state"]) for row in json.loads(out)] == [("a", "done")]

    missing = tmp_path / "no-such-folder" / "r.csv"
    code, _, err = await vidlift(
        env, "report", "--journal", f"{manifest}.vidlift.sqlite", "--output", str(missing)
    )
    assert code == 2 and "Traceback" not in err
    assert f"--output {missing}: cannot write it" in err and "create its folder" in err, err
