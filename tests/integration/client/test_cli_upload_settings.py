"""`vidlift upload` takes its settings through the same loader as `vidlift run`: the
VIDLIFT_* environment and the TOML file change what it sends (segments counted at the
emulator); flags still win; a bad value there exits 2 naming the setting and where it
came from. Real subprocesses against the real emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidlift.testing.emulator import Emulator

from .conftest import make_file
from .test_cli_upload import env_for, vidlift

pytestmark = pytest.mark.anyio

SIZE = 150_000  # 3 segments of 64 KiB, 2 of 100 KiB, 1 of the default 8 MiB


def upload_env(emulator: Emulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    return env_for(emulator) | {"XDG_STATE_HOME": str(tmp_path / "state"), **extra}


def segments(emulator: Emulator) -> int:
    return emulator.request_counts().get("segment", 0)


async def upload_json(source: Path, *args: str, env: dict[str, str]) -> dict[str, object]:
    code, out, err = await vidlift("upload", str(source), "--json", *args, env=env)
    assert code == 0, err
    assert "Traceback" not in err
    document: dict[str, object] = json.loads(out)
    return document


async def test_the_environment_sets_the_chunk_size_and_the_endpoint(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "clip.mp4", SIZE)
    env = upload_env(
        emulator, tmp_path, VIDLIFT_CHUNK_SIZE="64KiB", VIDLIFT_ENDPOINT=emulator.endpoint
    )
    document = await upload_json(source, env=env)
    assert document["segments_sent"] == 3 and segments(emulator) == 3
    assert document["size"] == SIZE
    # a flag beats the environment
    document = await upload_json(source, "--chunk-size", "8MiB", env=env)
    assert document["segments_sent"] == 1 and segments(emulator) == 4


async def test_a_toml_file_sets_the_chunk_size_and_the_endpoint(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "clip.mp4", SIZE)
    config = tmp_path / "vidlift.toml"
    config.write_text(f'[vidlift]\nendpoint = "{emulator.endpoint}"\nchunk_size = "100KiB"\n')
    env = upload_env(emulator, tmp_path)
    document = await upload_json(source, "--config", str(config), env=env)
    assert document["segments_sent"] == 2 and segments(emulator) == 2
    # VIDLIFT_CONFIG names the file too; the environment beats the file
    env |= {"VIDLIFT_CONFIG": str(config), "VIDLIFT_CHUNK_SIZE": "64KiB"}
    document = await upload_json(source, env=env)
    assert document["segments_sent"] == 3 and segments(emulator) == 5
    assert len(emulator.videos()) == 2


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("VIDLIFT_CHUNK_SIZE", "lots", "cannot read 'lots'"),
        ("VIDLIFT_CHUNK_SIZE", "10GiB", "64MiB"),
        ("VIDLIFT_READ_TIMEOUT_S", "-1", "greater than 0"),
        ("VIDLIFT_VERIFY_MD5", "perhaps", "boolean"),
    ],
)
async def test_a_bad_environment_variable_exits_2_naming_it(
    emulator: Emulator, tmp_path: Path, variable: str, value: str, named: str
) -> None:
    source = make_file(tmp_path / "clip.mp4", SIZE)
    env = upload_env(emulator, tmp_path, **{variable: value})
    code, out, err = await vidlift("upload", str(source), "--endpoint", emulator.endpoint, env=env)
    assert code == 2, (out, err)
    setting = variable.removeprefix("VIDLIFT_").lower()
    assert err.startswith(f"vidlift: error: setting {setting} (environment variable {variable})")
    assert named in err and "Traceback" not in err
    assert emulator.request_counts().get("api", 0) == 0  # refused before any request


async def test_a_bad_value_in_the_toml_file_exits_2_naming_the_file(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "clip.mp4", SIZE)
    config = tmp_path / "bad.toml"
    config.write_text('[vidlift]\nchunk_size = "10GiB"\n')
    env = upload_env(emulator, tmp_path)
    args = ["upload", str(source), "--endpoint", emulator.endpoint, "--config", str(config)]
    code, out, err = await vidlift(*args, env=env)
    assert code == 2, (out, err)
    assert f"setting chunk_size (config file {config})" in err and "64MiB" in err
    assert "Traceback" not in err
    config.write_text("[vidlift]\nchunk_sise = 1\n")  # a typo is named, not ignored
    code, out, err = await vidlift(*args, env=env)
    assert code == 2 and f"setting chunk_sise (config file {config})" in err, err
    assert emulator.request_counts().get("api", 0) == 0
