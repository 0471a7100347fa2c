"""The frozen settings objects: Limits and its AUTO values, and one default per quantity
whichever way the objects are built (library defaults, or the CLI's loader)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vidlift.cli.settings import RunConfig, load_run_config
from vidlift.config import (
    AUTO,
    DEFAULT_CHUNK_SIZE_BYTES,
    READ_PIECE_BYTES,
    Limits,
    MiB,
    Timeouts,
    UploadSettings,
    auto_files_in_flight,
)
from vidlift.errors import ConfigError
from vidlift.jobs.manager import BatchSettings
from vidlift.platforms.v2 import V2Settings
from vidlift.protocol.session import UploadSession


def test_limits_default_to_auto_where_vidlift_chooses() -> None:
    limits = Limits()
    assert (limits.files_in_flight, limits.connections) == (AUTO, AUTO)
    assert limits.bytes_in_flight == 64 * MiB and limits.parts_in_flight == 4
    assert limits.api_calls_per_minute == 60
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.files_in_flight = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        {"files_in_flight": -1},
        {"connections": -2},
        {"bytes_in_flight": -1},
        {"api_calls_per_minute": -0.5},
        {"parts_in_flight": 0},
    ],
)
def test_limits_refuse_negative_values_naming_the_limit(bad: dict[str, float]) -> None:
    (name,) = bad
    with pytest.raises(ConfigError, match=name):
        Limits(**bad)  # type: ignore[arg-type]


def test_resolved_chooses_files_and_connections_for_the_files_left() -> None:
    small = Limits().resolved(256 * 1024, DEFAULT_CHUNK_SIZE_BYTES)
    assert small.files_in_flight == 64 == auto_files_in_flight(256 * 1024, 8 * MiB)
    assert small.connections == 2 * 64 + 4  # two per file, four for the API
    large = Limits().resolved(None, DEFAULT_CHUNK_SIZE_BYTES)  # unknown sizes
    assert (large.files_in_flight, large.connections) == (8, 20)
    # what is set stays set, and a resolved object resolves to itself
    set_by_hand = Limits(files_in_flight=3, connections=5, bytes_in_flight=0)
    assert set_by_hand.resolved(1, DEFAULT_CHUNK_SIZE_BYTES) == set_by_hand
    assert small.resolved(20 * MiB, DEFAULT_CHUNK_SIZE_BYTES) == small
    assert Limits(files_in_flight=3).resolved(1, 1).connections == 10


def test_each_default_has_one_owner_that_every_object_reads() -> None:
    upload = UploadSettings()
    assert upload.chunk_size_bytes == DEFAULT_CHUNK_SIZE_BYTES == 8 * MiB
    assert upload.piece_bytes == READ_PIECE_BYTES == MiB
    v2 = V2Settings(site_id="s", api_secret="x")
    assert v2.part_floor_bytes == DEFAULT_CHUNK_SIZE_BYTES
    assert v2.parts_in_flight == Limits().parts_in_flight
    assert v2.api_timeout_s == Timeouts().api_s
    assert UploadSession(10, 4).chunk_size_bytes == 4  # one name for the segment size


def test_the_cli_loader_builds_the_library_defaults() -> None:
    config = load_run_config({}, config_file=None, env={})
    assert config.limits() == Limits()
    assert config.upload_settings() == UploadSettings()
    assert config.batch_settings() == BatchSettings()
    assert RunConfig().chunk_size_bytes == DEFAULT_CHUNK_SIZE_BYTES


def test_the_outside_names_map_to_the_inside_ones(tmp_path: Path) -> None:
    file = tmp_path / "v.toml"
    file.write_text(
        '[vidlift]\nconcurrency = 5\nconnections = 9\nbytes_in_flight = "16MiB"\n'
        'chunk_size = "1MiB"\nparts_in_flight = 2\napi_calls_per_minute = 0\n'
    )
    config = load_run_config({}, config_file=file, env={})
    assert config.limits() == Limits(5, 9, 16 * MiB, 0, 2)
    assert config.upload_settings().chunk_size_bytes == MiB
    file.write_text("[vidlift]\nchunk_size_bytes = 1048576\n")  # the inside name: not a key
    with pytest.raises(ConfigError, match="chunk_size_bytes"):
        load_run_config({}, config_file=file, env={})


@pytest.mark.parametrize(
    ("flags", "env", "origin"),
    [
        ({"chunk_size": 1}, {}, "flag --chunk-size"),
        ({}, {"VIDLIFT_CONNECTIONS": "many"}, "environment variable VIDLIFT_CONNECTIONS"),
        ({}, {"VIDLIFT_BYTES_IN_FLIGHT": "lots"}, "environment variable VIDLIFT_BYTES_IN_FLIGHT"),
        ({}, {}, "config file"),
    ],
)
def test_a_bad_value_names_the_setting_and_where_it_came_from(
    tmp_path: Path, flags: dict[str, object], env: dict[str, str], origin: str
) -> None:
    file = tmp_path / "v.toml"
    file.write_text("[vidlift]\nparts_in_flight = 0\n" if not flags and not env else "")
    with pytest.raises(ConfigError) as raised:
        load_run_config(flags, config_file=file, env=env)
    assert f"({origin}" in str(raised.value)
    assert str(raised.value).startswith("setting ")
