"""`vidlift upload` interrupted and run again continues the same upload (issue 11,
point 9); bad settings are refused at once (points 4 and 10). Real subprocesses."""

from __future__ import annotations

import hashlib
import signal
import sys
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator

from .conftest import make_file
from .test_cli_upload import env_for, vidlift

pytestmark = pytest.mark.anyio

SIZE = 2 * 1024 * 1024


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--endpoint", "127.0.0.1:8080"], "http:// or https://"),
        (["--endpoint", "ftp://127.0.0.1:8080"], "http:// or https://"),
        (["--endpoint", "http://127.0.0.1:99999"], "port from 1 to 65535"),
        (["--endpoint", " "], "endpoint is empty"),
        (["--chunk-size", "10GiB"], "64MiB"),
        (["--chunk-size", "1"], "64KiB"),
        (["--bwlimit", "1"], "bwlimit"),
    ],
)
async def test_bad_settings_are_refused_at_once(
    emulator: Emulator, tmp_path: Path, flags: list[str], named: str
) -> None:
    source = make_file(tmp_path / "clip.mp4", 100_000)
    env = env_for(emulator) | {"XDG_STATE_HOME": str(tmp_path / "state")}
    base = ["upload", str(source), "--endpoint", emulator.endpoint]
    code, out, err = await vidlift(*base, *flags, env=env)
    assert code == 2, (out, err)
    assert err.startswith("vidlift: error: ") and named in err, err
    assert "Traceback" not in err
    assert emulator.request_counts().get("api", 0) == 0  # refused before any request


async def interrupt_once(
    emu: Emulator, command: list[str], env: dict[str, str], counter: str, at_least: int
) -> None:
    """Start ``command``, Ctrl-C it once the emulator counted ``at_least`` ``counter``
    requests: it exits 130 saying which video it keeps and how to go on."""
    async with await anyio.open_process(command, env=env) as first:
        await emu.wait_until(lambda: emu.request_counts().get(counter, 0) >= at_least)
        first.send_signal(signal.SIGINT)
        assert await first.wait() == 130
        assert first.stderr is not None
        err = (await first.stderr.receive()).decode()
    assert "interrupted; video " in err and "run the same command again" in err, err
    assert "Traceback" not in err


async def interrupted_upload(
    emu: Emulator, tmp_path: Path
) -> tuple[Path, dict[str, str], list[str]]:
    """A 2 MiB file whose `vidlift upload` was interrupted after 4 segments: the file,
    the environment (its own state folder) and the command to run again."""
    source = make_file(tmp_path / "talk.mp4", SIZE)
    env = env_for(emu) | {"XDG_STATE_HOME": str(tmp_path / "state")}
    command = [sys.executable, "-m", "vidlift", "upload", str(source)]
    command += ["--endpoint", emu.endpoint, "--chunk-size", "64KiB"]
    await interrupt_once(emu, [*command, "--bwlimit", "256KiB"], env, "segment", 4)
    return source, env, command


async def test_ctrl_c_then_the_same_command_continues_the_same_upload(
    emulator: Emulator, tmp_path: Path
) -> None:
    source, env, command = await interrupted_upload(emulator, tmp_path)
    sent_before = emulator.request_counts().get("bytes_received", 0)

    code, out, err = await vidlift(*command[3:], env=env)

    assert code == 0, (out, err)
    videos = emulator.videos()
    assert len(videos) == 1  # the same video, not a second one
    stored = emulator.video_file(videos[0].key)
    assert stored is not None
    assert hashlib.md5(stored.read_bytes()).digest() == hashlib.md5(source.read_bytes()).digest()
    resent = emulator.request_counts().get("bytes_received", 0) - SIZE
    assert resent < 4 * 64 * 1024, (sent_before, resent)  # at most a few segments again
    assert not list((tmp_path / "state").rglob("*.json"))  # nothing kept once done


async def test_a_file_changed_after_an_interrupted_upload_is_said_and_restart_starts_anew(
    emulator: Emulator, tmp_path: Path
) -> None:
    source, env, command = await interrupted_upload(emulator, tmp_path)
    first = emulator.videos()[0].key
    await anyio.Path(source).write_bytes(b"a new version" * 1000)

    code, out, err = await vidlift(*command[3:], env=env)
    assert code == 1 and "Traceback" not in err, (out, err)
    assert f"the file changed since this upload started (video {first} holds" in err, err
    assert "run the same command with --restart" in err, err

    code, out, err = await vidlift(*command[3:], "--restart", env=env)
    assert code == 0, (out, err)
    videos = {video.key: video for video in emulator.videos()}
    assert len(videos) == 2  # the new version in a video of its own
    new = next(key for key in videos if key != first)
    stored = emulator.video_file(new)
    assert stored is not None and stored.read_bytes() == b"a new version" * 1000


async def test_bwlimit_holds_a_short_upload_to_the_limit(
    emulator: Emulator, tmp_path: Path
) -> None:
    # Users script one process per file: each must keep to the limit from its first byte
    # (a bucket that started full sent a quarter second's worth at once: 0.5 MB of this
    # 2 MiB file at 2 MB/s, so the file took 0.8 s after its create call, not 1.0).
    source = make_file(tmp_path / "clip.mp4", SIZE)
    env = env_for(emulator) | {"XDG_STATE_HOME": str(tmp_path / "state")}
    piece = 64 * 1024
    command = [sys.executable, "-m", "vidlift", "upload", str(source), "--no-verify-md5"]
    command += ["--endpoint", emulator.endpoint, "--bwlimit", "2000000", "--chunk-size", "64KiB"]
    async with await anyio.open_process(command, env=env) as process:
        # The bucket is made just before the create call; the start-up is behind both.
        await emulator.wait_until(lambda: emulator.request_counts().get("api", 0) >= 1)
        created = anyio.current_time()
        assert await process.wait() == 0
        elapsed = anyio.current_time() - created
    assert emulator.request_counts()["bytes_received"] == SIZE
    # A lower bound only (a slow machine takes longer, never shorter): each segment waited
    # its share before it was sent; two pieces of slack (what the bucket banked between
    # its making and the create call, and the last piece, sent after its wait).
    assert elapsed >= (SIZE - 2 * piece) / 2_000_000, elapsed
