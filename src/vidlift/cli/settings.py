"""The one settings loader of every command (``run``, ``worker``, ``upload``): flags,
then VIDLIFT_* variables, then a TOML file, then defaults (cli layer).

:class:`RunConfig` is the edge: its keys are the names users write (TOML keys, the
``VIDLIFT_<KEY>`` variables, the flags: ``chunk_size``, ``concurrency``); it holds no
default of its own but reads each from the frozen settings object that owns it
(``vidlift.config``, ``BatchSettings``, ``FeedSettings``), and builds those objects.
``configs/vidlift.example.toml`` documents every key; a test keeps it equal to the
defaults. A bad value is a ConfigError naming the key and where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vidlift.cli.eventloop import EventLoop
from vidlift.config import (
    AUTO,
    DEFAULT_ENDPOINT,
    DEFAULT_V2_ENDPOINT,
    SUMMARY_INTERVAL_S,
    ApiFormat,
    HttpSourceSettings,
    Limits,
    RetrySettings,
    S3SourceSettings,
    SourceSettings,
    Timeouts,
    UploadMethod,
    UploadSettings,
    check_bwlimit,
    check_chunk_size,
    check_endpoint,
    check_http_fields,
    parse_size,
)
from vidlift.errors import ConfigError
from vidlift.jobs.settings import BatchSettings, FeedSettings

__all__ = ["ENV_PREFIX", "RunConfig", "load_run_config"]

ENV_PREFIX = "VIDLIFT_"

# The owners of the defaults (each written once, there).
_UPLOAD, _RETRY, _TIMEOUTS = UploadSettings(), RetrySettings(), Timeouts()
_LIMITS, _BATCH, _FEED = Limits(), BatchSettings(), FeedSettings()
_HTTP = HttpSourceSettings()


def _size(value: object) -> object:
    """A size written with a unit ("8MiB") as bytes; a number as it is."""
    if not isinstance(value, str):
        return value
    try:
        return parse_size(value, what="size")
    except ConfigError as exc:  # pydantic names the setting and the loader its source
        raise ValueError(str(exc).removeprefix("size: ")) from None


def _count_or_auto(value: object) -> object:
    """``"auto"`` or a whole number (also written as text, as in VIDLIFT_* variables)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f'must be a whole number or "auto", not {value!r}')
    return value


def _auto(value: int | Literal["auto"]) -> int:
    return AUTO if value == "auto" else value


class HttpSourcesConfig(BaseModel):
    """``[sources.http]``: headers and cookies for private origins (secrets: never shown)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    cookies: dict[str, str] = Field(default_factory=dict, repr=False)
    hosts: tuple[str, ...] = ()
    max_redirects: int = Field(default=_HTTP.max_redirects, ge=0, le=20)

    @field_validator("headers", "cookies", mode="after")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            check_http_fields(value)  # refused when the settings are read, not at first use
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


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
    """Every setting, by the name users write (``concurrency``, ``chunk_size``: aliases of
    ``files_in_flight``, ``chunk_size_bytes``), with the default of the object it builds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = DEFAULT_ENDPOINT
    api: Literal["v1", "v2"] = "v1"
    site_id: str | None = None
    parts_in_flight: int = Field(default=_LIMITS.parts_in_flight, ge=1, le=64)
    upload_method: UploadMethod = _UPLOAD.upload_method
    api_key: str | None = Field(default=None, repr=False)
    api_secret: str | None = Field(default=None, repr=False)
    # Limits.files_in_flight; AUTO is written "auto"
    files_in_flight: Annotated[int, Field(ge=1, le=1024)] | Literal["auto"] = Field(
        default="auto", alias="concurrency"
    )
    connections: Annotated[int, Field(ge=1, le=4096)] | Literal["auto"] = "auto"
    bytes_in_flight: int = Field(default=_LIMITS.bytes_in_flight, ge=0)
    chunk_size_bytes: int = Field(default=_UPLOAD.chunk_size_bytes, alias="chunk_size")
    bwlimit: int | None = Field(default=None, ge=1)
    # Fleet mode: one limit for all workers together, each taking its share.
    bwlimit_total: int | None = Field(default=None, ge=1)
    api_format: ApiFormat = _UPLOAD.api_format
    max_attempts: int = Field(default=_RETRY.max_attempts, ge=1)
    backoff_base_s: float = Field(default=_RETRY.base_delay_s, gt=0)
    backoff_max_s: float = Field(default=_RETRY.max_delay_s, gt=0)
    connect_timeout_s: float = Field(default=_TIMEOUTS.connect_s, gt=0)
    read_timeout_s: float = Field(default=_TIMEOUTS.read_s, gt=0)
    grace_s: float = Field(default=_BATCH.grace_s, ge=0)
    unreachable_s: float = Field(default=_BATCH.unreachable_s, gt=0)
    insecure: bool = not _UPLOAD.verify_tls
    verify_md5: bool = _UPLOAD.verify_md5
    wait_ready: bool = _BATCH.wait_ready
    remote: Literal["relay", "fetch"] = _BATCH.remote
    log_format: Literal["auto", "rich", "text", "json"] = "auto"
    log_interval_s: float = Field(default=SUMMARY_INTERVAL_S, gt=0)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_addr: str = "127.0.0.1"
    event_loop: EventLoop = "asyncio"
    s3_endpoint_url: str | None = None
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    # Fleet mode (vidlift worker, or run on a PostgreSQL journal): docs/SCALE.md.
    lease_s: float = Field(default=_FEED.lease_s, gt=0)
    poll_s: float = Field(default=_FEED.poll_s, gt=0)
    api_calls_per_minute: float = Field(default=_LIMITS.api_calls_per_minute, ge=0)

    @classmethod
    def keys(cls) -> frozenset[str]:
        """The names users write: TOML keys, and VIDLIFT_<KEY> in upper case."""
        return frozenset(field.alias or name for name, field in cls.model_fields.items())

    @field_validator("files_in_flight", "connections", mode="before")
    @classmethod
    def _counts(cls, value: object) -> object:
        return _count_or_auto(value)

    @field_validator(
        "bytes_in_flight", "chunk_size_bytes", "bwlimit", "bwlimit_total", mode="before"
    )
    @classmethod
    def _sizes(cls, value: object) -> object:
        return _size(value)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        try:
            return check_endpoint(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("chunk_size_bytes", mode="after")
    @classmethod
    def _chunk_bounds(cls, value: int) -> int:
        try:
            return check_chunk_size(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("bwlimit", "bwlimit_total", mode="after")
    @classmethod
    def _bw_bounds(cls, value: int | None) -> int | None:
        try:
            return None if value is None else check_bwlimit(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    def process_bwlimit(self) -> int | None:
        """The limit of a run that is the only worker: the lower of ``bwlimit`` and
        ``bwlimit_total`` (None: no limit)."""
        limits = [v for v in (self.bwlimit, self.bwlimit_total) if v is not None]
        return min(limits) if limits else None

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
            return DEFAULT_V2_ENDPOINT
        return self.endpoint

    def limits(self) -> Limits:
        """The limits as set (``"auto"`` is AUTO: run_batch chooses)."""
        return Limits(
            files_in_flight=_auto(self.files_in_flight),
            connections=_auto(self.connections),
            bytes_in_flight=self.bytes_in_flight,
            api_calls_per_minute=self.api_calls_per_minute,
            parts_in_flight=self.parts_in_flight,
        )

    def timeouts(self) -> Timeouts:
        """Connect and read timeouts (the API call timeout keeps its default)."""
        return Timeouts(connect_s=self.connect_timeout_s, read_s=self.read_timeout_s)

    def upload_settings(self) -> UploadSettings:
        """How segments are cut, sent, retried and verified (``vidlift upload`` and runs)."""
        return UploadSettings(
            chunk_size_bytes=self.chunk_size_bytes,
            api_format=self.api_format,
            upload_method=self.upload_method,
            verify_tls=not self.insecure,
            verify_md5=self.verify_md5,
            timeouts=self.timeouts(),
            retry=RetrySettings(
                max_attempts=self.max_attempts,
                base_delay_s=self.backoff_base_s,
                max_delay_s=self.backoff_max_s,
            ),
        )

    def source_settings(self) -> SourceSettings:
        """How URL sources are read (``s3_endpoint_url`` beats ``[sources.s3]``)."""
        timeouts = self.timeouts()
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

    def batch_settings(self) -> BatchSettings:
        """The jobs layer's settings object (AUTO limits are resolved by run_batch)."""
        return BatchSettings(
            limits=self.limits(),
            upload=self.upload_settings(),
            grace_s=self.grace_s,
            unreachable_s=self.unreachable_s,
            sources=self.source_settings(),
            wait_ready=self.wait_ready,
            remote=self.remote,
        )


def _from_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import tomllib  # only with --config: most runs have no file to parse

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


def _from_env(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """key -> (variable name, value) of the VIDLIFT_<KEY> variables that name a setting."""
    keys = RunConfig.keys()
    found: dict[str, tuple[str, str]] = {}
    for name, value in env.items():
        key = name[len(ENV_PREFIX) :].lower()
        if name.startswith(ENV_PREFIX) and key in keys:
            found[key] = (name, value)
    return found


def load_run_config(
    flags: Mapping[str, Any], *, config_file: Path | None, env: Mapping[str, str] | None = None
) -> RunConfig:
    """Merge the sources (flags win). Raises ConfigError naming the bad setting and
    where its value came from (the flag, the environment variable or the file)."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for key, value in _from_file(config_file).items():
        merged[key], origins[key] = value, f"config file {config_file}"
    for key, (name, value) in _from_env(os.environ if env is None else env).items():
        merged[key], origins[key] = value, f"environment variable {name}"
    for key, value in flags.items():
        if value is not None:
            merged[key], origins[key] = value, f"flag --{key.replace('_', '-')}"
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        # A union's member type (``constrained-int``) is not a setting's name: left out.
        where = ".".join(p for p in map(str, err["loc"]) if p.isidentifier()) or "settings"
        origin = origins.get(str(err["loc"][0])) if err["loc"] else None
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = _unknown_setting(err["loc"])
        raise ConfigError(f"setting {where}{f' ({origin})' if origin else ''}: {message}") from None


def _unknown_setting(loc: tuple[int | str, ...]) -> str:
    """What to say of a key no setting has: the closest known name, if one is close."""
    import difflib  # only for this message: start-up stays lean

    model: type[BaseModel] = RunConfig
    for part in loc[:-1]:  # down to the table that holds the key ([sources.http])
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type):
            break
        if not issubclass(field.annotation, BaseModel):
            break
        model = field.annotation
    known = [f.alias or name for name, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"no such setting{hint}: configs/vidlift.example.toml lists every setting"
