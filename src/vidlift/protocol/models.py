"""Pydantic models of the API's answers (protocol layer: pure).

Models sit at the edge: they validate what a server sent. Field placements that differ
between api_formats are resolved in :mod:`vidlift.protocol.answers` before validation.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CreateAnswer",
    "FetchCreateAnswer",
    "FinalAnswer",
    "LinkBlock",
    "LinkQuery",
    "PutLink",
    "RateLimit",
    "RedirectLink",
    "S3CreateAnswer",
    "VideoInfo",
    "VideoList",
]

# PROTOCOL.md, "Rejections": session ids are letters, digits, `_` and `-`.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
# host, host:port or [v6]:port: nothing that could change where the URL points.
_ADDRESS = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


# defer_build: a model's validator is built when it first validates, not at import, so a
# process that never reads an answer (``vidlift upload --upload-url``) does not build them
# (start-up, issue 15).
_ANSWER = ConfigDict(frozen=True, coerce_numbers_to_str=True, defer_build=True)


class _Answer(BaseModel):
    model_config = ConfigDict(**_ANSWER, extra="ignore")


class LinkQuery(BaseModel):
    """The link block's query: the upload ``key`` and any other parameter, kept in order."""

    model_config = ConfigDict(**_ANSWER, extra="allow")

    key: str = Field(min_length=1)

    def extra_params(self) -> dict[str, str]:
        """Query parameters other than ``key``, as strings."""
        return {name: str(value) for name, value in (self.model_extra or {}).items()}


class _Link(_Answer):
    """``protocol://address`` + ``path``: where an upload goes (a checked host)."""

    protocol: Literal["http", "https"]
    address: str = Field(min_length=1)
    path: str = Field(min_length=1)

    @field_validator("protocol", mode="before")
    @classmethod
    def _lower_protocol(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        if not _ADDRESS.fullmatch(value):
            raise ValueError("address must be a host name or address, with an optional port")
        return value


class LinkBlock(_Link):
    """Where to send segments: ``protocol://address`` + ``path`` + ``query``."""

    query: LinkQuery


class RateLimit(_Answer):
    """The API quota: calls allowed, calls left, and when it resets (Unix seconds)."""

    reset: int | None = None
    limit: int | None = None
    remaining: int | None = None


class CreateAnswer(_Answer):
    """The answer of videos/create or videos/update with a resumable upload."""

    video_key: str = Field(min_length=1)
    link: LinkBlock
    session_id: str
    rate_limit: RateLimit | None = None

    @field_validator("session_id")
    @classmethod
    def _check_session_id(cls, value: str) -> str:
        if not _SESSION_ID.fullmatch(value):
            raise ValueError("session_id must be 1-200 letters, digits, '_' or '-'")
        return value


class PutLink(_Link):
    """An ``upload_method=s3`` link block: ``protocol://address`` + ``path`` + the signed
    ``query`` (one PUT of the whole file; a secret like an upload token)."""

    query: dict[str, str] = Field(default_factory=dict, repr=False)


class S3CreateAnswer(_Answer):
    """The answer of videos/create or videos/update with ``upload_method=s3``."""

    video_key: str = Field(min_length=1)
    link: PutLink
    rate_limit: RateLimit | None = None


class FetchCreateAnswer(_Answer):
    """The answer of videos/create with ``download_url``: the video the platform fetches
    the file into (nothing to upload)."""

    video_key: str = Field(min_length=1)
    rate_limit: RateLimit | None = None


class RedirectLink(_Answer):
    """Where the platform would send a browser after the upload."""

    address: str
    query: dict[str, str] = Field(default_factory=dict)


class FinalAnswer(_Answer):
    """The answer to the segment that completed the file."""

    status: str
    video_key: str | None = None
    size: int | None = Field(default=None, ge=0)
    redirect_link: RedirectLink | None = None


class VideoInfo(_Answer):
    """One video as videos/show and videos/list describe it."""

    key: str = Field(min_length=1)
    title: str = ""
    status: str = ""
    size: int | None = Field(default=None, ge=0)
    md5: str | None = None
    custom: dict[str, str] = Field(default_factory=dict)
    upload_session_id: str | None = None
    error_message: str | None = Field(default=None, validation_alias="error")

    @field_validator("error_message", mode="before")
    @classmethod
    def _error_text(cls, value: object) -> object:
        # A failed video's ``error`` block: {"message": "..."} (or a bare string).
        if isinstance(value, dict):
            value = value.get("message")
        return str(value)[:300] if value else None

    @field_validator("title", "status", mode="before")
    @classmethod
    def _null_text(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("size", mode="before")
    @classmethod
    def _blank_size(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("md5", mode="before")
    @classmethod
    def _blank_md5(cls, value: object) -> object:
        return None if value in ("", None) else value


class VideoList(_Answer):
    """A page of videos/list."""

    videos: list[VideoInfo] = Field(default_factory=list)
    total: int = 0
