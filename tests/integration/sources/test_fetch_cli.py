"""`vidlift run --remote fetch`: download_url rows are handed to the platform, which
fetches the files itself (the emulator fetches loopback URLs); vidlift reads no body,
follows each video until ready, checks the size, and records the platform's md5. On v1
(videos/create download_url) and v2 (upload.method fetch); kill -9 while the platform
processes, then the same command finishes without a second video."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from tests.integration.sources.test_relay_cli import SECRET, SIGNATURE, env_for, manifest, run
from vidlift.testing.emulator import Emulator, EmulatorConfig
from vidlift.testing.origin import Origin, OriginFault

pytestmark = pytest.mark.anyio

KiB = 1024
SIZES = (150 * KiB, 300 * KiB + 7)


@pytest.fixture(params=["v1", "v2"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    config = EmulatorConfig(
        data_dir=tmp_path / "emu", api_secret=SECRET, v1_processing_s=0.3, processing_s=0.3
    )
    async with Emulator(config) as emu:
        yield emu


def env_on(emu: Emulator, api: str) -> dict[str, str]:
    env = env_for(emu)
    if api == "v2":
        del env["VIDLIFT_API_KEY"]
        env.update(VIDLIFT_API="v2", VIDLIFT_SITE_ID=emu.site_id)
    return env


def held_md5s(emu: Emulator, api: str) -> dict[str, str]:
    """title -> md5 of every video (v1) or media (v2) the platform holds."""
    if api == "v1":
        return {video.title: video.md5 or "" for video in emu.videos()}
    return {str(media.metadata.get("title")): media.md5 or "" for media in emu.media()}


async def test_fetch_mode_hands_urls_to_the_platform(
    emulator: Emulator, origin: Origin, tmp_path: Path, api: str
) -> None:
    files = {f"clip-{n}.mp4": os.urandom(size) for n, size in enumerate(SIZES, start=1)}
    for name, data in files.items():
        origin.add(name, data)
    refs = {name: origin.url(name, query=SIGNATURE) for name in files}
    listed = manifest(tmp_path / "urls.csv", "download_url", refs)
    env = env_on(emulator, api)
    origin.fault("clip-1.mp4", OriginFault(ignore_range=True))  # not vidlift's concern here
    code, out, err = await run([str(listed), "--remote", "fetch"], env)
    assert code == 0, err
    assert "Traceback" not in err and SIGNATURE.split("=")[1] not in out + err
    assert "ignores Range" not in out + err
    expected = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    assert held_md5s(emulator, api) == expected
    for name, data in files.items():  # the platform read each file; vidlift read no body
        # (but what a Range-ignoring origin pushed before vidlift's look closed it)
        extra = len(data) if name == "clip-1.mp4" else 1
        assert len(data) <= origin.body_bytes(name) <= len(data) + extra
    journal = tmp_path / "urls.csv.vidlift.sqlite"
    assert SIGNATURE.encode() not in journal.read_bytes()
    report = await anyio.run_process(
        [sys.executable, "-m", "vidlift", "report", "--journal", str(journal), "--format", "csv"],
        env=env,
    )
    rows = list(csv.DictReader(io.StringIO(report.stdout.decode())))
    assert {row["state"] for row in rows} == {"done"}
    # v1's videos/show gives the md5 of what the platform fetched; v2 gives none.
    wanted = sorted(expected.values()) if api == "v1" else ["", ""]
    assert sorted(row["md5"] for row in rows) == wanted
    again, _, err = await run([str(listed), "--remote", "fetch"], env)
    assert again == 0, err
    assert len(held_md5s(emulator, api)) == len(files)  # nothing created twice


async def test_kill_9_while_the_platform_processes_then_the_same_command_finishes(
    tmp_path: Path, origin: Origin, api: str
) -> None:
    data = os.urandom(200 * KiB)
    origin.add("slow.mp4", data)
    listed = manifest(tmp_path / "urls.csv", "download_url", {"slow.mp4": origin.url("slow.mp4")})
    config = EmulatorConfig(
        data_dir=tmp_path / "emu", api_secret=SECRET, v1_processing_s=30, processing_s=30
    )
    async with Emulator(config) as emu:
        env = env_on(emu, api)
        command = [sys.executable, "-m", "vidlift", "run", str(listed), "--remote", "fetch"]
        process = await anyio.open_process(command, env=env)
        await emu.wait_until(lambda: emu.request_counts().get("fetch_ok", 0) >= 1, timeout_s=60)
        process.kill()
        assert await process.wait() == -signal.SIGKILL
        created = emu.request_counts().get("api_create", 0) + emu.request_counts().get(
            "v2_create", 0
        )
        assert created == 1
    config = EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET)  # processed now
    async with Emulator(config) as emu:
        code, _, err = await run([str(listed), "--remote", "fetch"], env_on(emu, api))
        assert code == 0, err
        counts = emu.request_counts()
        assert counts.get("api_create", 0) + counts.get("v2_create", 0) == 0
        assert counts.get("fetch_started", 0) == 0
        assert held_md5s(emu, api) == {"slow.mp4": hashlib.md5(data).hexdigest()}


async def test_a_url_the_platform_cannot_read_fails_its_job_with_the_platforms_reason(
    emulator: Emulator, origin: Origin, tmp_path: Path, api: str
) -> None:
    """A private origin: vidlift reads it with the configured header, the platform's own
    fetch has none and is refused; the job fails with the platform's reason, the others
    go on."""
    origin.add("open.mp4", os.urandom(100 * KiB))
    origin.add("private.mp4", os.urandom(100 * KiB))
    origin.fault("private.mp4", OriginFault(require_headers={"X-Token": "t0k3n"}))
    config = tmp_path / "vidlift.toml"
    config.write_text('[sources.http]\nheaders = { X-Token = "t0k3n" }\n')
    refs = {name: origin.url(name) for name in ("open.mp4", "private.mp4")}
    listed = manifest(tmp_path / "urls.csv", "download_url", refs)
    args = [str(listed), "--remote", "fetch", "--config", str(config)]
    code, out, err = await run(args, env_on(emulator, api))
    assert code == 1, err
    assert "Traceback" not in err and "t0k3n" not in out + err
    failed = [line for line in err.splitlines() if "failed:" in line]
    assert len(failed) == 1 and "urls.csv:3" in failed[0], err
    assert "fetch failed: HTTP 403" in failed[0] and "--remote relay" in failed[0]
    assert set(held_md5s(emulator, api)) == {"open.mp4", "private.mp4"}  # one video each
