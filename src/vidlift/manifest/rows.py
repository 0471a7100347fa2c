"""Manifest rows: the pydantic model of one row and the typed results (manifest layer).

A manifest row arrives as a mapping of field names to raw values (strings from a CSV
cell, JSON values from a JSON Lines object). :class:`ManifestRow` validates it at this
edge; the rest of vidlift only sees the frozen value objects :class:`ManifestEntry`
(a row ready to upload) and :class:`ManifestProblem` (a row that cannot be, with the
reason).

Field rules (JW's batch-migration templates, ../shared/PROTOCOL.md "The migration
manifest users already have": the 2019 v1 template ``download_url, title, description,
tags, date, link, custom.*`` and the v2 guide's ``download_url, title, description, tags,
publish_start_date, permalink, external_id, thumbnail_download_url, custom.*``, both
accepted as published):

- the source: ``path`` (a local file) or ``download_url`` (``http://``, ``https://`` or
  ``s3://bucket/key``), exactly one per row.
- ``date`` (v1) and ``publish_start_date`` (v2) are the same field, as are ``link`` (v1)
  and ``permalink`` (v2): a row gives one of each pair (or both with the same value).
- ``external_id`` (v2): the job's id when the row has no ``id``; unique per manifest.
- ``thumbnail_download_url`` (v2): an ``http(s)://`` URL, checked and kept with the row.

- ``tags``: one comma-separated text (``"a, b,c"``) or, in JSON, a list of texts;
  blank tags and repeats are dropped.
- ``date``: a Unix timestamp (seconds, integer or decimal) or an ISO 8601 date or
  date-time; a date-time without a zone is taken as UTC. Always an aware UTC datetime.
- ``custom``: custom parameters ``name -> text``; JSON numbers and booleans become text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from vidlift.manifest.ids import public_source_url, read_job_id
from vidlift.protocol.metadata import VideoMetadata

__all__ = [
    "ManifestEntry",
    "ManifestProblem",
    "ManifestRow",
    "check_source_url",
    "describe_validation_error",
    "parse_date",
    "parse_tags",
]

SOURCE_SCHEMES = ("http", "https", "s3")
# A URL where a path belongs ("s3://b/k", "https://..."); two letters at least, so that a
# Windows drive ("C://x") is not taken for one.
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_TIMESTAMP_S = -62_135_596_800  # 0001-01-01T00:00:00Z
_MAX_TIMESTAMP_S = 253_402_300_799  # 9999-12-31T23:59:59Z
_TIMESTAMP = re.compile(r"[+-]?\d+(\.\d+)?")
_DATE_HINT = "use a Unix timestamp or an ISO date (2021-03-04 or 2021-03-04T10:00:00Z)"


def parse_date(value: object) -> datetime | None:
    """Read a manifest date as an aware UTC datetime; ``None`` or blank text is no date.

    Raises ValueError with a message meant for the user.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"cannot read {value!r} as a date: {_DATE_HINT}")
    if isinstance(value, int | float):
        return _from_timestamp(value, str(value))
    if not isinstance(value, str):
        raise ValueError(f"cannot read a {type(value).__name__} as a date: {_DATE_HINT}")
    text = value.strip()
    if not text:
        return None
    if _TIMESTAMP.fullmatch(text):
        return _from_timestamp(float(text) if "." in text else int(text), text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"cannot read {_shorten(text)!r} as a date: {_DATE_HINT}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"date {_shorten(text)!r} is out of range") from None


def _from_timestamp(seconds: float, text: str) -> datetime:
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise ValueError(f"cannot read {_shorten(text)!r} as a date: {_DATE_HINT}")
    if not _MIN_TIMESTAMP_S <= seconds <= _MAX_TIMESTAMP_S:
        raise ValueError(
            f"timestamp {_shorten(text)} is out of range (years 1-9999; "
            "Unix timestamps are in seconds, not milliseconds)"
        )
    return _EPOCH + timedelta(seconds=seconds)


def parse_tags(value: object) -> tuple[str, ...]:
    """Read tags from comma-separated text or a list of texts; blanks and repeats dropped."""
    if value is None:
        return ()
    if isinstance(value, str):
        parts: list[object] = list(value.split(","))
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise ValueError("must be comma-separated text or a list of texts")
    tags: dict[str, None] = {}
    for part in parts:
        if not isinstance(part, str):
            raise ValueError("every tag must be text")
        tag = part.strip()
        if tag:
            tags[tag] = None
    return tuple(tags)


def check_source_url(url: str, *, schemes: tuple[str, ...] = SOURCE_SCHEMES) -> str:
    """Return ``url`` if it is an absolute URL of one of ``schemes`` with a host (and, for
    ``s3``, a key); raise ValueError saying what to write instead. The message never
    repeats the query string."""
    shown = _shorten(public_source_url(url)) if "://" in url else _shorten(url)
    listed = ", ".join(f"{scheme}://" for scheme in schemes)
    if any(char.isspace() for char in url):
        raise ValueError(f"{shown!r}: a URL has no blanks (encode them as %20)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise ValueError(f"{shown!r} is not a valid URL") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"{shown!r} is not a {listed} URL (local files go in `path`)")
    if not parts.hostname:
        raise ValueError(f"{shown!r} has no host")
    if parts.scheme.lower() == "s3" and (
        not parts.path.strip("/") or parts.path.endswith("/") or parts.query
    ):
        raise ValueError(f"{shown!r}: an S3 source is s3://bucket/key (no query string)")
    return url


def _custom_value(name: str, value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"custom.{name} must be text, a number or a boolean")


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ManifestRow(BaseModel):
    """One manifest row as written, validated (the pydantic edge).

    Texts are stripped of surrounding blanks (``str.strip``); blank values count as
    absent. ``path`` and ``id`` are checked further by the reader (file on disk, id
    rules); this model only checks types and formats.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str | None = None
    download_url: str | None = None
    id: str | None = None
    external_id: str | None = None
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    date: datetime | None = None
    publish_start_date: datetime | None = None
    link: str = ""
    permalink: str = ""
    thumbnail_download_url: str | None = None
    custom: dict[str, str] = {}

    @field_validator(
        "path",
        "download_url",
        "thumbnail_download_url",
        "title",
        "description",
        "link",
        "permalink",
        mode="before",
    )
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("path", "download_url", "thumbnail_download_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("path")
    @classmethod
    def _not_a_url(cls, value: str | None) -> str | None:
        if value and _URL_SCHEME.match(value):
            scheme = value.split(":", 1)[0]
            raise ValueError(
                f"a URL ({scheme}://...), not a file path: put it in the `download_url` column"
            )
        return value

    @field_validator("download_url")
    @classmethod
    def _source_url(cls, value: str | None) -> str | None:
        return check_source_url(value) if value else None

    @field_validator("thumbnail_download_url")
    @classmethod
    def _thumbnail_url(cls, value: str | None) -> str | None:
        return check_source_url(value, schemes=("http", "https")) if value else None

    @field_validator("id", "external_id", mode="before")
    @classmethod
    def _read_id(cls, value: object) -> str | None:
        return read_job_id(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _parse_tags(cls, value: object) -> tuple[str, ...]:
        return parse_tags(value)

    @field_validator("date", "publish_start_date", mode="before")
    @classmethod
    def _parse_date(cls, value: object) -> datetime | None:
        return parse_date(value)

    @model_validator(mode="after")
    def _one_of_each_pair(self) -> Self:
        if self.path and self.download_url:
            raise ValueError("the row has both `path` and `download_url`: give one source per row")
        pairs = (("date", "publish_start_date"), ("link", "permalink"))
        for v1_name, v2_name in pairs:
            v1_value, v2_value = getattr(self, v1_name), getattr(self, v2_name)
            if v1_value and v2_value and v1_value != v2_value:
                raise ValueError(
                    f"`{v1_name}` and `{v2_name}` are the same field (JW's v1 and v2 "
                    "templates) and differ here: keep one"
                )
        return self

    @property
    def publish_date(self) -> datetime | None:
        """``date`` or ``publish_start_date``."""
        return self.date or self.publish_start_date

    @property
    def page_link(self) -> str:
        """``link`` or ``permalink``."""
        return self.link or self.permalink

    @field_validator("custom", mode="before")
    @classmethod
    def _parse_custom(cls, value: object) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ValueError("must be an object of name -> text")
        custom: dict[str, str] = {}
        for name, item in value.items():
            if not isinstance(name, str) or not name.strip():
                raise ValueError("custom parameter names must be non-blank text")
            if item is not None:
                custom[name] = _custom_value(name, item)
        return custom


def describe_validation_error(error: ValidationError) -> str:
    """Turn a pydantic error into one short user-facing reason (``field: what is wrong``)."""
    reasons: list[str] = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        context: dict[str, Any] = item.get("ctx") or {}
        cause = context.get("error")
        message = str(cause) if isinstance(cause, ValueError) else item["msg"]
        reasons.append(f"{where}: {message}" if where else message)
    return "; ".join(reasons)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """A manifest row that can be uploaded: its source as it was seen, and metadata.

    The source is ``path`` (absolute; ``size_bytes`` and ``mtime_ns`` come from the file
    when the row was read, used later to notice a file that changed) or ``source_url``
    (``http(s)://`` or ``s3://``, as written: it may hold a signature, so it is never in
    the repr; ``source_name`` is what may be shown and stored; size and mtime are 0 until
    the job inspects the source). ``date`` is aware UTC. ``custom`` is a read-only
    mapping (excluded from the hash). ``notice``: a warning to show with the row (it
    names the same file as an earlier row, and is uploaded once per row as asked).
    """

    job_id: str
    path: Path | None
    size_bytes: int
    mtime_ns: int
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    date: datetime | None = None
    link: str = ""
    custom: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    location: str = ""
    source_url: str | None = field(default=None, repr=False)
    thumbnail_url: str | None = field(default=None, repr=False)
    notice: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.custom, MappingProxyType):
            object.__setattr__(self, "custom", MappingProxyType(dict(self.custom)))
        if (self.path is None) == (self.source_url is None):
            raise ValueError("a manifest entry has exactly one of path and source_url")

    @property
    def source_name(self) -> str:
        """The path, or the URL without its query string (what may be shown and stored)."""
        if self.source_url is not None:
            return public_source_url(self.source_url)
        return str(self.path)

    @property
    def metadata(self) -> VideoMetadata:
        """What the video is created with (title, description, tags, date, link, custom)."""
        return VideoMetadata(
            self.title, self.description, self.tags, self.date, self.link, self.custom
        )


@dataclass(frozen=True, slots=True)
class ManifestProblem:
    """A manifest row that cannot be uploaded (or a note on unknown columns): a result,
    not an exception. ``warning``: not a bad row but a note (unknown columns; a row
    skipped because an earlier row names the same file): shown, never a failed job.

    ``location`` is ``file:line`` (the physical line where the row starts). ``job_id`` is
    the id the row would have had, or ``<location>`` when none can be derived (and for a
    duplicate id, so that it never names the earlier row's job); unknown columns (or JSON
    keys) found on a line are one problem with the id ``<location> columns``. ``path`` is
    the absolute source path when the row names one.
    """

    location: str
    job_id: str
    path: Path | None
    reason: str
    warning: bool = False
