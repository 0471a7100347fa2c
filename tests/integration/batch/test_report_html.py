"""`vidlift report --format html`: one self-contained page, rendered by headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator, FaultPlan
from vidlift.testing.library import write_sample_library

from .conftest import KiB, cli_env, emulator_config, run_cli

pytestmark = pytest.mark.anyio

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    """Debian's chromium; installed once with apt-get when absent, else the test skips."""
    found = shutil.which("chromium")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"],
            capture_output=True,
            timeout=100,
            check=False,
        )
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium is not installed and could not be (apt-get install -y chromium)")
    return found


async def migrate_with_trouble(tmp_path: Path) -> Path:
    """A small library migrated through dropped segments, with one file missing."""
    manifest = write_sample_library(tmp_path / "lib", 8, sizes=(64 * KiB, 256 * KiB))
    (manifest.parent / "videos" / "clip-008.mp4").unlink()
    faults = FaultPlan(seed=4, drop_mid_segment_p=0.2)
    async with Emulator(emulator_config(tmp_path, faults)) as emu:
        args = ["run", str(manifest), "--chunk-size", "64KiB", "--concurrency", "3"]
        args += ["--bwlimit", "512KiB"]  # about 3 s: a few samples of the rate
        result = await run_cli(args, cli_env(emu))
        assert result.code == 1, result.stderr  # the missing file failed
    return manifest.with_name("library.csv.vidlift.sqlite")


async def test_html_report_is_one_self_contained_page(tmp_path: Path) -> None:
    journal = await migrate_with_trouble(tmp_path)
    page = tmp_path / "out" / "report.html"
    page.parent.mkdir()
    args = ["report", "--journal", str(journal), "--format", "html", "--output", str(page)]
    result = await run_cli(args, {"PATH": os.environ["PATH"]})
    assert result.code == 0, result.stderr
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 2
    assert not re.search(r"<script|<link|<img|\bsrc=|href=|url\(|@import", html)
    assert "not enough data" not in html  # both plots have points
    assert "7</b><span>files done" in html and "1</b><span>files failed" in html
    assert "legacy-008" in html and "clip-008.mp4" in html  # the failure's row
    assert "Slowest files" in html and html.count("<tr>") >= 1 + 7
    assert "Nothing was sent twice" not in html  # dropped segments were re-sent (seed 4)


async def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    binary = await anyio.to_thread.run_sync(chromium)
    journal = await migrate_with_trouble(tmp_path)
    page = tmp_path / "report.html"
    args = ["report", "--journal", str(journal), "--format", "html", "--output", str(page)]
    assert (await run_cli(args, {"PATH": os.environ["PATH"]})).code == 0
    shot = tmp_path / "report.png"
    command = [
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'chromium'}",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        page.as_uri(),
    ]
    with anyio.fail_after(90):
        done = await anyio.run_process(command, check=False)
    assert shot.exists(), done.stderr.decode()[-2000:]
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000  # a page, not a blank
    dom_command = [*command[:-3], "--dump-dom", page.as_uri()]
    with anyio.fail_after(90):
        dom = (await anyio.run_process(dom_command, check=False)).stdout.decode()
    assert dom.count("<polyline") == 2 and "legacy-008" in dom
