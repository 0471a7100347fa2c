"""`vidlift upload FILE --api v2 --site-id SITE` (issue 12 point 2) as a real subprocess
against the emulator's v2 half: JSON output, exit codes, Ctrl-C then the same command
continues the same media, --wait-ready with the platform's message."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan

from .conftest import SECRET, make_file
from .test_cli_upload import env_for, vidlift
from .test_cli_upload_resume import interrupt_once

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


def v2_env(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    env = env_for(emu)
    del env["VIDLIFT_API_KEY"]  # v2: the secret and a site id, no key
    return env | {
        "VIDLIFT_API": "v2",
        "VIDLIFT_SITE_ID": emu.site_id,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "VIDLIFT_ENDPOINT": emu.endpoint,
    }


def emulator_config(tmp_path: Path, faults: FaultPlan | None = None) -> EmulatorConfig:
    return EmulatorConfig(
        data_dir=tmp_path / "emu", api_secret=SECRET, faults=faults or FaultPlan(), fsync=False
    )


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("size", "requests"), [(300_000, 1), (12 * MiB + 7, 3)])
async def test_upload_v2_json_prints_one_object(tmp_path: Path, size: int, requests: int) -> None:
    """A direct upload (one PUT) and a multipart one (parts of 5 MiB, in flight)."""
    async with Emulator(emulator_config(tmp_path)) as emu:
        source = make_file(tmp_path / "clip.mp4", size)
        args = ["upload", str(source), "--chunk-size", "5MiB", "--title", "V2", "--json"]
        code, out, err = await vidlift(*args, "--custom", "legacy_id=9", env=v2_env(emu, tmp_path))
        assert code == 0, err
        document = json.loads(out)
        assert document["status"] == "ok" and document["size"] == size
        assert document["md5"] == md5_of(source) and document["segments_sent"] == requests
        [media] = emu.media()
        assert media.media_id == document["video_key"] and media.md5 == md5_of(source)
        assert media.metadata["title"] == "V2"
        assert media.metadata["custom_params"]["legacy_id"] == "9"
        assert SECRET not in out + err
        assert not list((tmp_path / "state").rglob("*.json"))  # nothing kept once done


async def test_upload_v2_takes_a_bandwidth_limit(tmp_path: Path) -> None:
    """--bwlimit on v2 (refused before): the parts go through the throttle (its effect is
    tested on a fake clock in tests/integration/platforms/test_v2_bwlimit.py)."""
    async with Emulator(emulator_config(tmp_path)) as emu:
        source = make_file(tmp_path / "clip.mp4", 300_000)
        args = ["upload", str(source), "--bwlimit", "8M", "--json"]
        code, out, err = await vidlift(*args, env=v2_env(emu, tmp_path))
        assert code == 0, err
        assert json.loads(out)["md5"] == md5_of(source) == emu.media()[0].md5


async def test_upload_v2_usage_errors_exit_2_naming_the_setting(tmp_path: Path) -> None:
    async with Emulator(emulator_config(tmp_path)) as emu:
        source = make_file(tmp_path / "clip.mp4", 100_000)
        env = v2_env(emu, tmp_path)
        without_site = {k: v for k, v in env.items() if k != "VIDLIFT_SITE_ID"}
        code, out, err = await vidlift("upload", str(source), env=without_site)
        assert code == 2 and "VIDLIFT_SITE_ID" in err and "Traceback" not in err, err
        wrong = env | {"VIDLIFT_API_SECRET": "not-the-secret"}
        code, out, err = await vidlift("upload", str(source), env=wrong)
        assert code == 2 and "not-the-secret" not in out + err, err
        assert emu.media() == []


async def test_upload_v2_ctrl_c_then_the_same_command_continues_the_same_media(
    tmp_path: Path,
) -> None:
    size = 24 * MiB
    faults = FaultPlan(bandwidth_bytes_per_s=8 * MiB)  # slow enough to be interrupted
    async with Emulator(emulator_config(tmp_path, faults)) as emu:
        source = make_file(tmp_path / "talk.mp4", size)
        env = v2_env(emu, tmp_path)
        command = [sys.executable, "-m", "vidlift", "upload", str(source), "--chunk-size", "5MiB"]
        await interrupt_once(emu, [*command, "--parts-in-flight", "2"], env, "part_ok", 1)
        received_before = emu.request_counts().get("bytes_received", 0)
        assert received_before < size

        code, out, err = await vidlift(*command[3:], env=env)

        assert code == 0, (out, err)
        [media] = emu.media()  # the same media, not a second one
        assert media.md5 == md5_of(source)
        resent = emu.request_counts().get("bytes_received", 0) - size
        assert resent <= 2 * 5 * MiB, resent  # at most the parts in flight again
        assert not list((tmp_path / "state").rglob("*.json"))


async def test_upload_v2_wait_ready_reports_failed_processing(tmp_path: Path) -> None:
    async with Emulator(emulator_config(tmp_path, FaultPlan(v2_processing_failed_p=1.0))) as emu:
        source = make_file(tmp_path / "clip.mp4", 200_000)
        args = ["upload", str(source), "--wait-ready", "--json"]
        code, out, err = await vidlift(*args, env=v2_env(emu, tmp_path))
        assert code == 1, (out, err)
        document = json.loads(out)
        assert document["status"] == "error" and "Media processing failed" in document["error"]
        assert "Traceback" not in err and SECRET not in out + err
        assert document["path"] == str(source) and len(emu.media()) == 1


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize("as_json", [False, True])
async def test_upload_wait_ready_says_the_video_is_ready(
    tmp_path: Path, api: str, as_json: bool
) -> None:
    """--wait-ready that ends well says so (human and JSON), on both APIs; the status
    checks made while waiting are not failures."""
    async with Emulator(emulator_config(tmp_path)) as emu:
        source = make_file(tmp_path / "clip.mp4", 200_000)
        env = (
            v2_env(emu, tmp_path)
            if api == "v2"
            else env_for(emu)
            | {"VIDLIFT_ENDPOINT": emu.endpoint, "XDG_STATE_HOME": str(tmp_path / "state")}
        )
        args = ["upload", str(source), "--wait-ready", *(["--json"] if as_json else [])]
        code, out, err = await vidlift(*args, env=env)
        assert code == 0, (out, err)
        if as_json:
            document = json.loads(out)
            assert document["processing"] == "ready" and document["failures_survived"] == 0
        else:
            assert "processing: ready" in out and "0 failures survived" in out, out
        assert "Traceback" not in err
