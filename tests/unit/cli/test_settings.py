"""Settings precedence and the example config file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vidlift.cli.settings import RunConfig, load_run_config
from vidlift.config import AUTO, MiB, auto_files_in_flight
from vidlift.errors import ConfigError

EXAMPLE = Path(__file__).parents[3] / "configs" / "vidlift.example.toml"


def test_example_config_lists_every_setting_with_its_default() -> None:
    text = EXAMPLE.read_text()
    data = tomllib.loads(text)
    documented = {**data["vidlift"], "sources": data["sources"]}
    # Credentials are commented out on purpose; the bandwidth limits, site_id and the S3
    # endpoint have no default.
    commented = {"api_key", "api_secret", "bwlimit", "bwlimit_total", "site_id", "s3_endpoint_url"}
    assert set(documented) | commented == RunConfig.keys()
    defaults = RunConfig().model_dump(by_alias=True)
    from_file = RunConfig.model_validate(documented).model_dump(by_alias=True)
    for name in documented:
        assert from_file[name] == defaults[name], name
    for name in commented:
        assert f"# {name} = " in text


def test_flags_beat_env_beat_file_beat_defaults(tmp_path: Path) -> None:
    config = tmp_path / "v.toml"
    config.write_text('[vidlift]\nconcurrency = 3\nchunk_size = "1MiB"\nmax_attempts = 2\n')
    env = {"VIDLIFT_CHUNK_SIZE": "2MiB", "VIDLIFT_MAX_ATTEMPTS": "4", "OTHER": "x"}
    loaded = load_run_config({"max_attempts": 5, "endpoint": None}, config_file=config, env=env)
    assert loaded.files_in_flight == 3  # file
    assert loaded.chunk_size_bytes == 2 * 1024 * 1024  # env beats file
    assert loaded.max_attempts == 5  # flag beats env
    assert loaded.endpoint == RunConfig().endpoint  # default


@pytest.mark.parametrize(
    ("mean", "expected"),
    [(None, 8), (0, 8), (20 * MiB, 8), (8 * MiB, 8), (2 * MiB, 32), (256 * 1024, 64), (1, 64)],
)
def test_auto_concurrency_grows_for_small_files(mean: float | None, expected: int) -> None:
    assert auto_files_in_flight(mean, 8 * MiB) == expected
    limits = RunConfig().batch_settings().limits  # auto is the default
    assert limits.resolved(mean, 8 * MiB).files_in_flight == expected


def test_a_number_or_auto_from_any_source(tmp_path: Path) -> None:
    env = {"VIDLIFT_CONCURRENCY": "16"}
    loaded = load_run_config({}, config_file=None, env=env)
    assert loaded.batch_settings().limits.files_in_flight == 16
    flags = {"concurrency": "auto"}
    assert load_run_config(flags, config_file=None, env=env).files_in_flight == "auto"
    assert load_run_config(flags, config_file=None, env=env).limits().files_in_flight == AUTO
    with pytest.raises(ConfigError, match="concurrency"):
        load_run_config({"concurrency": "lots"}, config_file=None, env={})


def test_bad_setting_names_the_setting_and_file(tmp_path: Path) -> None:
    config = tmp_path / "v.toml"
    config.write_text("[vidlift]\nconcurrency = 0\n")
    with pytest.raises(ConfigError, match=r"concurrency.*v\.toml"):
        load_run_config({}, config_file=config, env={})


def test_unknown_key_and_bad_size_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "v.toml"
    config.write_text("[vidlift]\nconcurency = 4\n")
    with pytest.raises(ConfigError, match="concurency"):
        load_run_config({}, config_file=config, env={})
    with pytest.raises(ConfigError, match="chunk_size"):
        load_run_config({}, config_file=None, env={"VIDLIFT_CHUNK_SIZE": "lots"})


def test_an_unknown_key_is_named_with_the_closest_setting(tmp_path: Path) -> None:
    config = tmp_path / "v.toml"
    for text, said in (
        (
            "concurency = 4\n",
            "setting concurency (config file {}): no such setting (did you mean 'concurrency'?)",
        ),
        (
            "[sources.htp]\n",
            "setting sources.htp (config file {}): no such setting (did you mean 'http'?)",
        ),
        (
            "[sources.s3]\nregoin = 'x'\n",
            "setting sources.s3.regoin (config file {}): no such setting (did you mean 'region'?)",
        ),
        (
            "zzz = 1\n",
            "setting zzz (config file {}): no such setting: configs/vidlift.example.toml",
        ),
    ):
        config.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_run_config({}, config_file=config, env={})
        assert said.format(config) in str(caught.value)


def test_a_header_or_cookie_name_http_cannot_carry_is_refused_when_read(tmp_path: Path) -> None:
    config = tmp_path / "v.toml"
    for table, name in (("headers", "Bad Header"), ("headers", "X:Y"), ("cookies", "sess id")):
        config.write_text(f'[sources.http]\n{table} = {{ "{name}" = "s3cr3t-v" }}\n')
        with pytest.raises(ConfigError) as caught:
            load_run_config({}, config_file=config, env={})
        said = str(caught.value)
        assert f"setting sources.http.{table} (config file {config}): {name!r} is not" in said
        assert "s3cr3t-v" not in said  # values are secrets


def test_secret_is_not_in_repr() -> None:
    config = RunConfig(api_key="k", api_secret="s3cr3t-value")
    assert "s3cr3t-value" not in repr(config)


def test_sources_tables_beside_vidlift_and_the_s3_endpoint_flag(tmp_path: Path) -> None:
    config = tmp_path / "v.toml"
    config.write_text(
        "[vidlift]\nread_timeout_s = 7\n"
        '[sources.http]\nheaders = { Authorization = "Bearer t0k" }\n'
        'hosts = ["media.example.com"]\n[sources.s3]\nendpoint_url = "http://file:9000"\n'
    )
    loaded = load_run_config({}, config_file=config, env={})
    settings = loaded.source_settings()
    assert dict(settings.http.headers) == {"Authorization": "Bearer t0k"}
    assert settings.http.hosts == ("media.example.com",) and settings.http.timeouts.read_s == 7
    assert settings.s3.endpoint_url == "http://file:9000"
    assert "t0k" not in repr(loaded) and "t0k" not in repr(settings)
    flagged = load_run_config({"s3_endpoint_url": "http://flag:9000"}, config_file=config, env={})
    assert flagged.source_settings().s3.endpoint_url == "http://flag:9000"
    config.write_text("[vidlift]\n[sources.http]\nmax_redirects = 99\n")
    with pytest.raises(ConfigError, match=r"setting sources\.http\.max_redirects"):
        load_run_config({}, config_file=config, env={})
