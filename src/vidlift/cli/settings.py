"""Settings of ``vidlift run``: flags, then VIDLIFT_* variables, then a TOML file, then
defaults (cli layer). ``configs/vidlift.example.toml`` documents every key; a test keeps
it equal to :class:`RunConfig`'s defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vidlift.cli.eventloop import EventLoop
from vidlift.config import (
    DEFAULT_ENDPOINT,
    HttpSourceSettings,
    RetrySettings,
    S3SourceSettings,
    SourceSettings,
    Timeouts,
    UploadSettings,
    check_bwlimit,
    check_chunk_size,
    check_endpoint,
    parse_size,
)
from vidlift.errors import ConfigError
from vidlift.jobs.manager import BatchSettings
from vidlift.platforms.v2.api import DEFAULT_ENDPOINT as V2_ENDPOINT

__all__ = ["ENV_PREFIX", "RunConfig", "auto_concurrency", "load_run_config"]

ENV_PREFIX = "VIDLIFT_"


def _size(value: object, what: str) -> object:
    if not isinstance(value, str):
        return value
    try:
        return parse_size(value, what=what)
    except ConfigError as exc:  # a ValueError, so that the message names where it came from
        raise ValueError(str(exc).removeprefix(f"{what}: ")) from None


AUTO_MIN, AUTO_MAX = 8, 64


def auto_concurrency(mean_file_bytes: float | None, chunk_size: int) -> int:
    """Files in flight for ``concurrency = "auto"``: as many as keep about ``AUTO_MIN``
    full segments' worth of bytes in flight, between ``AUTO_MIN`` and ``AUTO_MAX``.

    Files of a segment or more: 8 (enough to fill a link; a kill leaves few partial
    uploads). Small files: up to 64, because each costs round trips (create, upload, show)
    that only concurrency hides: 256 KiB files at +20 ms per request went 97-102 files/s at
    8 in flight to 286-332 at 64 (benchmarks/RESULTS.md).
    """
    if not mean_file_bytes or mean_file_bytes <= 0:
        return AUTO_MIN
    per_file = min(mean_file_bytes, chunk_size)
    return max(AUTO_MIN, min(AUTO_MAX, int(AUTO_MIN * chunk_size / per_file)))


class HttpSourcesConfig(BaseModel):
    """``[sources.http]``: headers and cookies for private origins (secrets: never shown)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    cookies: dict[str, str] = Field(default_factory=dict, repr=False)
    hosts: tuple[str, ...] = ()
    max_redirects: int = Field(default=5, ge=0, le=20)


class S3SourcesConfig(BaseModel):
    """``[sources.s3]``: an S3-compatible endpoint and a region (credentials: the AWS chain)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = None
    region: str | None = None


class SourcesConfig(BaseModel):
    """``[sources]``: how ``download_url`` rows are read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    http: HttpSourcesConfig = Field(default_factory=HttpSourcesConfig)
    s3: S3SourcesConfig = Field(default_factory=S3SourcesConfig)


class RunConfig(BaseModel):
    """Every setting of a batch run, with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = DEFAULT_ENDPOINT
    api: Literal["v1", "v2"] = "v1"
    site_id: str | None = None
    parts_in_flight: int = Field(default=4, ge=1, le=64)
    api_key: str | None = Field(default=None, repr=False)
    api_secret: str | None = Field(default=None, repr=False)
    concurrency: Annotated[int, Field(ge=1, le=1024)] | Literal["auto"] = "auto"
    chunk_size: int = Field(default=8 * 1024 * 1024, ge=1)
    bwlimit: int | None = Field(default=None, ge=1)
    api_format: Literal["json", "xml"] = "json"
    max_attempts: int = Field(default=8, ge=1)
    backoff_base_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=15.0, gt=0)
    read_timeout_s: float = Field(default=120.0, gt=0)
    grace_s: float = Field(default=5.0, ge=0)
    unreachable_s: float = Field(default=300.0, gt=0)
    insecure: bool = False
    verify_md5: bool = True
    log_format: Literal["auto", "rich", "text", "json"] = "auto"
    log_interval_s: float = Field(default=10.0, gt=0)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_addr: str = "127.0.0.1"
    event_loop: EventLoop = "asyncio"
    s3_endpoint_url: str | None = None
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    # Fleet mode (vidlift worker, or run on a PostgreSQL journal): docs/SCALE.md.
    lease_s: float = Field(default=60.0, gt=0)
    poll_s: float = Field(default=2.0, gt=0)
    api_calls_per_minute: float = Field(default=60.0, ge=0)

    @field_validator("concurrency", mode="before")
    @classmethod
    def _files(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f'must be a number of files (1 to 1024) or "auto", not {value!r}')
        return value

    @field_validator("chunk_size", mode="before")
    @classmethod
    def _chunk(cls, value: object) -> object:
        return _size(value, "chunk_size")

    @field_validator("bwlimit", mode="before")
    @classmethod
    def _bw(cls, value: object) -> object:
        return _size(value, "bwlimit")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        try:
            return check_endpoint(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("chunk_size", mode="after")
    @classmethod
    def _chunk_bounds(cls, value: int) -> int:
        try:
            return check_chunk_size(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("bwlimit", mode="after")
    @classmethod
    def _bw_bounds(cls, value: int | None) -> int | None:
        try:
            return None if value is None else check_bwlimit(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    def credentials(self) -> tuple[str, str]:
        """``(api_key, api_secret)``; ConfigError saying where to set them when missing.
        v2 needs the secret and a site id, no key."""
        if self.api == "v2":
            if not self.api_secret:
                raise ConfigError("API secret missing: set VIDLIFT_API_SECRET (the v2 API secret)")
            if not self.site_id:
                raise ConfigError("--api v2 needs a site id: set --site-id or VIDLIFT_SITE_ID")
            return self.api_key or "", self.api_secret
        if not self.api_key or not self.api_secret:
            raise ConfigError(
                "API credentials missing: set VIDLIFT_API_KEY and VIDLIFT_API_SECRET "
                "(or --api-key/--api-secret, or api_key/api_secret in the config file)"
            )
        return self.api_key, self.api_secret

    def api_endpoint(self) -> str:
        """``endpoint``; on v2, JW's v2 host when the endpoint is left at v1's default."""
        if self.api == "v2" and self.endpoint == DEFAULT_ENDPOINT:
            return V2_ENDPOINT
        return self.endpoint

    def files_in_flight(self, mean_file_bytes: float | None) -> int:
        """``concurrency``, or for ``auto`` what :func:`auto_concurrency` picks for files of
        that mean size (the files still to send)."""
        if self.concurrency == "auto":
            return auto_concurrency(mean_file_bytes, self.chunk_size)
        return self.concurrency

    def source_settings(self) -> SourceSettings:
        """How URL sources are read (``s3_endpoint_url`` beats ``[sources.s3]``)."""
        timeouts = Timeouts(connect_s=self.connect_timeout_s, read_s=self.read_timeout_s)
        http, s3 = self.sources.http, self.sources.s3
        return SourceSettings(
            http=HttpSourceSettings(
                headers=http.headers,
                cookies=http.cookies,
                hosts=http.hosts,
                max_redirects=http.max_redirects,
                timeouts=timeouts,
            ),
            s3=S3SourceSettings(
                endpoint_url=self.s3_endpoint_url or s3.endpoint_url,
                region=s3.region,
                timeouts=timeouts,
            ),
        )

    def batch_settings(self, mean_file_bytes: float | None = None) -> BatchSettings:
        """The jobs layer's settings object for files of that mean size (see
        :meth:`files_in_flight`)."""
        upload = UploadSettings(
            chunk_size_bytes=self.chunk_size,
            api_format=self.api_format,
            verify_tls=not self.insecure,
            verify_md5=self.verify_md5,
            timeouts=Timeouts(connect_s=self.connect_timeout_s, read_s=self.read_timeout_s),
            retry=RetrySettings(
                max_attempts=self.max_attempts,
                base_delay_s=self.backoff_base_s,
                max_delay_s=self.backoff_max_s,
            ),
        )
        return BatchSettings(
            concurrency=self.files_in_flight(mean_file_bytes),
            upload=upload,
            grace_s=self.grace_s,
            unreachable_s=self.unreachable_s,
            sources=self.source_settings(),
        )


def _from_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    section = data.get("vidlift", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [vidlift] must be a table")
    if "vidlift" in data and "sources" in data:  # [sources.http] beside [vidlift]
        section = {**section, "sources": data["sources"]}
    return section


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    names = RunConfig.model_fields
    return {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in names
    }


def load_run_config(
    flags: Mapping[str, Any], *, config_file: Path | None, env: Mapping[str, str] | None = None
) -> RunConfig:
    """Merge the sources (flags win). Raises ConfigError naming the bad setting."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}  # setting -> where its value came from, for messages
    layers = (
        (_from_file(config_file), lambda _: f"config file {config_file}"),
        (_from_env(os.environ if env is None else env), lambda k: ENV_PREFIX + k.upper()),
        ({k: v for k, v in flags.items() if v is not None}, lambda k: "--" + k.replace("_", "-")),
    )
    for values, origin_of in layers:
        merged.update(values)
        origins.update({key: origin_of(key) for key in values})
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        # A union's member type (``constrained-int``) is not a setting's name: left out.
        names = [str(part) for part in err["loc"] if str(part).isidentifier()]
        where = ".".join(names) or "settings"
        origin = origins.get(str(err["loc"][0])) if err["loc"] else None
        shown = f" ({origin})" if origin else f" (config file {config_file})" if config_file else ""
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"setting {where}{shown}: {message}") from None
