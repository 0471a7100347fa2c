"""Frozen settings objects with named defaults (bottom layer).

Each default is written once, here (docs/ARCHITECTURE.md, "Settings"). Only the CLI
reads flags, environment variables and files; it builds these objects through one
loader (``vidlift.cli.settings``). Library users build them directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from vidlift.errors import ConfigError

__all__ = [
    "AUTO",
    "ApiFormat",
    "DEFAULT_API_FORMAT",
    "DEFAULT_CHUNK_SIZE_BYTES",
    "DEFAULT_ENDPOINT",
    "DEFAULT_UPLOAD_METHOD",
    "DEFAULT_V2_ENDPOINT",
    "READ_PIECE_BYTES",
    "SUMMARY_INTERVAL_S",
    "MiB",
    "Credentials",
    "HttpSourceSettings",
    "Limits",
    "RetrySettings",
    "S3SourceSettings",
    "SourceSettings",
    "Timeouts",
    "UploadMethod",
    "UploadSettings",
    "auto_files_in_flight",
    "parse_size",
]

DEFAULT_ENDPOINT = "https://api.jwplatform.com"
DEFAULT_V2_ENDPOINT = "https://api.jwplayer.com"  # JW's v2 API (vidlift.platforms.v2)
# Seconds between two summary lines of an unattended run's log (the log_interval_s setting).
SUMMARY_INTERVAL_S = 10.0
MiB = 1024 * 1024
# The segment size (v1) and the floor of a part's size (v2): the ``chunk_size`` setting.
DEFAULT_CHUNK_SIZE_BYTES = 8 * MiB
# How much of a file is read at once (one piece): the read size of every source.
READ_PIECE_BYTES = 1 * MiB
ApiFormat = Literal["json", "xml"]  # what the v1 API answers in
DEFAULT_API_FORMAT: ApiFormat = "json"
# v1: resumable segments, or "s3": each file in one signed PUT (not resumable).
UploadMethod = Literal["multipart", "s3"]
DEFAULT_UPLOAD_METHOD: UploadMethod = "multipart"
# A limit set to AUTO is chosen by vidlift at run time (see Limits).
AUTO = 0

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header or cookie name
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


# Bounds of the settings that the protocol and the platform impose (issue 11, point 10).
MIN_CHUNK_SIZE_BYTES = 64 * 1024  # smaller segments only multiply round trips
MAX_CHUNK_SIZE_BYTES = 64 * MiB  # the upload server refuses larger segments (413)
MIN_BWLIMIT_BYTES_PER_S = 64 * 1024  # below this a segment outlives every timeout


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` when it is an http(s) URL with a host and a port in 1-65535; else a
    ConfigError saying what to write (a bad endpoint is refused before any request)."""
    text = endpoint.strip()
    example = f"e.g. {DEFAULT_ENDPOINT}, or http://127.0.0.1:8080 for the emulator"
    if not text:
        raise ConfigError(f"the endpoint is empty: set --endpoint or VIDLIFT_ENDPOINT ({example})")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"endpoint {text!r}: write a URL starting with http:// or https:// ({example})"
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or not parts.hostname:
        raise ConfigError(f"endpoint {text!r}: needs a host name and a port from 1 to 65535")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"endpoint {parts.hostname!r}: no query, fragment or user in the URL")
    return text.rstrip("/")


def check_chunk_size(size_bytes: int) -> int:
    """``size_bytes`` when the upload server takes segments of that size; else ConfigError."""
    if not MIN_CHUNK_SIZE_BYTES <= size_bytes <= MAX_CHUNK_SIZE_BYTES:
        raise ConfigError(
            f"chunk size {size_bytes} bytes: must be from 64KiB to 64MiB (the upload server "
            "refuses larger segments with 413; smaller ones only cost round trips)"
        )
    return size_bytes


def check_bwlimit(bytes_per_s: int) -> int:
    """``bytes_per_s`` when a segment can still get through in time; else ConfigError."""
    if bytes_per_s < MIN_BWLIMIT_BYTES_PER_S:
        raise ConfigError(
            f"bwlimit {bytes_per_s} bytes/s: must be at least 64KiB/s (write e.g. 50M for "
            "50 MB/s); slower, a segment outlives every timeout"
        )
    return bytes_per_s


def parse_size(text: str, *, what: str = "size") -> int:
    """``8MiB`` -> 8388608, ``50M`` -> 50000000, ``1024`` -> 1024. Raises ConfigError."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ConfigError(f"{what}: cannot read {text!r}; write e.g. 8MiB, 50M or 1048576")
    value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise ConfigError(f"{what}: must be positive, got {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class Credentials:
    """API key and secret. The secret never shows in a repr."""

    api_key: str
    api_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_secret:
            raise ConfigError(
                "API credentials missing: set VIDLIFT_API_KEY and VIDLIFT_API_SECRET "
                "(or --api-key/--api-secret)"
            )


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Network timeouts. ``read_s`` is the longest silence allowed while waiting."""

    connect_s: float = 15.0
    read_s: float = 120.0
    api_s: float = 60.0


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """The one retry policy's knobs: full-jitter exponential backoff, capped."""

    max_attempts: int = 8
    base_delay_s: float = 0.5
    max_delay_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1")


@dataclass(frozen=True, slots=True)
class UploadSettings:
    """How segments are cut and sent."""

    chunk_size_bytes: int = DEFAULT_CHUNK_SIZE_BYTES
    api_format: ApiFormat = DEFAULT_API_FORMAT
    upload_method: UploadMethod = DEFAULT_UPLOAD_METHOD  # v1 only
    piece_bytes: int = READ_PIECE_BYTES
    verify_tls: bool = True
    verify_md5: bool = True
    # sendfile() segment bodies on plain HTTP without a throttle; with the md5 on, for
    # segments of 2 MiB and more (hashed beside the send). See client/uploader.py.
    zero_copy: bool = True
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetrySettings = field(default_factory=RetrySettings)

    def __post_init__(self) -> None:
        if self.chunk_size_bytes < 1:
            raise ConfigError("chunk_size_bytes must be at least 1 byte")
        if self.api_format not in ("json", "xml"):
            raise ConfigError("api_format must be json or xml")
        if self.upload_method not in ("multipart", "s3"):
            raise ConfigError("upload_method must be multipart or s3")


# concurrency = "auto": this many files in flight at least, and at most.
AUTO_FILES_MIN, AUTO_FILES_MAX = 8, 64


def auto_files_in_flight(mean_file_bytes: float | None, chunk_size_bytes: int) -> int:
    """Files in flight for ``files_in_flight = AUTO``: as many as keep about
    ``AUTO_FILES_MIN`` full segments' worth of bytes in flight, between ``AUTO_FILES_MIN``
    and ``AUTO_FILES_MAX``. ``mean_file_bytes``: the mean size of the files still to send
    (None: unknown).

    Files of a segment or more: 8 (enough to fill a link; a kill leaves few partial
    uploads). Small files: up to 64, because each costs round trips (create, upload, show)
    that only concurrency hides: 256 KiB files at +20 ms per request went 97-102 files/s at
    8 in flight to 286-332 at 64 (benchmarks/RESULTS.md).
    """
    if not mean_file_bytes or mean_file_bytes <= 0:
        return AUTO_FILES_MIN
    per_file = min(mean_file_bytes, chunk_size_bytes)
    wanted = int(AUTO_FILES_MIN * chunk_size_bytes / per_file)
    return max(AUTO_FILES_MIN, min(AUTO_FILES_MAX, wanted))


@dataclass(frozen=True, slots=True)
class Limits:
    """Separate limits for separate things, like httpx's ``Limits`` and s3transfer's
    ``TransferConfig``. ``AUTO`` (0) means: vidlift chooses at run time, or no limit.

    - ``files_in_flight``: uploads at once: the workers of a batch, and the segments in
      flight (one per file) that a 503 halves. The ``concurrency`` setting. AUTO: 8, up
      to 64 when the files still to send are small (:func:`auto_files_in_flight`).
    - ``connections``: the shared HTTP session's connection pool. AUTO: two per file in
      flight, and four more for API calls.
    - ``bytes_in_flight``: file data a batch holds in memory for its uploads (about two
      read pieces per file): the read size shrinks to fit, down to 64 KiB. AUTO: no bound.
    - ``api_calls_per_minute``: API calls a minute that all workers of one API key make
      together (fleet mode: a token bucket in the shared journal). AUTO: no shared
      budget. Either way the platform's quota answers pace the calls.
    - ``parts_in_flight``: v2 parts of one file sent at once.

    ``run_batch`` resolves AUTO (:meth:`resolved`) before the first job.
    """

    files_in_flight: int = AUTO
    connections: int = AUTO
    bytes_in_flight: int = 64 * MiB
    api_calls_per_minute: float = 60.0
    parts_in_flight: int = 4

    def __post_init__(self) -> None:
        for name in ("files_in_flight", "connections", "bytes_in_flight", "api_calls_per_minute"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 (auto) or more, not {getattr(self, name)}")
        if self.parts_in_flight < 1:
            raise ConfigError(f"parts_in_flight must be at least 1, not {self.parts_in_flight}")

    def resolved(self, mean_file_bytes: float | None, chunk_size_bytes: int) -> Limits:
        """These limits with ``files_in_flight`` and ``connections`` chosen where they
        are AUTO, for files of that mean size (the files still to send; None: unknown)."""
        files = self.files_in_flight or auto_files_in_flight(mean_file_bytes, chunk_size_bytes)
        connections = self.connections or 2 * files + 4
        return replace(self, files_in_flight=files, connections=connections)


def check_http_fields(value: Mapping[str, str], what: str = "") -> Mapping[str, str]:
    """Header or cookie names and values, frozen; raises ConfigError naming the bad name
    (never showing a value: they are secrets), after ``what: `` when given."""
    where = f"{what}: " if what else ""
    for name, text in value.items():
        if not isinstance(name, str) or not isinstance(text, str) or not name.strip():
            raise ConfigError(f"{where}names and values must be non-empty text")
        if "\r" in text or "\n" in text or "\r" in name or "\n" in name:
            raise ConfigError(f"{where}{name!r}: no line breaks allowed in names or values")
        if not _TOKEN.fullmatch(name):  # RFC 9110 5.1 (headers), RFC 6265 (cookies)
            raise ConfigError(
                f"{where}{name!r} is not a valid name: letters, digits and "
                "!#$%&'*+-.^_`|~ only (no spaces, colons or quotes)"
            )
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class HttpSourceSettings:
    """HTTP(S) sources (``[sources.http]``): extra request headers and cookies for private
    origins, and limits.

    ``headers`` and ``cookies`` are secrets (tokens, session cookies): they never show in
    a repr, a log or a message. They are sent only to the hosts of the manifest's URLs,
    never to another host a redirect leads to (a signed CDN URL, say), unless that host
    is listed in ``hosts`` (which, when given, lists every host that may receive them).
    """

    headers: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, hash=False
    )
    cookies: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, hash=False
    )
    hosts: tuple[str, ...] = ()
    max_redirects: int = 5
    timeouts: Timeouts = field(default_factory=Timeouts)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", check_http_fields(self.headers, "sources.http.headers"))
        object.__setattr__(self, "cookies", check_http_fields(self.cookies, "sources.http.cookies"))
        object.__setattr__(self, "hosts", tuple(host.lower() for host in self.hosts))
        if not 0 <= self.max_redirects <= 20:
            raise ConfigError("sources.http.max_redirects must be between 0 and 20")


@dataclass(frozen=True, slots=True)
class S3SourceSettings:
    """S3 sources (``[sources.s3]``): the standard AWS credential chain (environment,
    ``~/.aws``, instance roles) decides who we are; ``endpoint_url`` points at an
    S3-compatible store (MinIO, Ceph, ...); ``region`` overrides the chain's region."""

    endpoint_url: str | None = None
    region: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """Settings of every source kind (local files need none)."""

    http: HttpSourceSettings = field(default_factory=HttpSourceSettings)
    s3: S3SourceSettings = field(default_factory=S3SourceSettings)
