"""Pydantic models of the v2 API's answers, and the one JSON parser (platforms layer).

Only the fields vidlift reads are declared; others are ignored. A body that is not JSON or
lacks a declared field raises :class:`~vidlift.errors.AnswerParseError`, naming the call
(never a token or a link: those are secrets).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vidlift.errors import AnswerParseError

__all__ = [
    "CreateAnswer",
    "ErrorAnswer",
    "MediaAnswer",
    "MediaList",
    "MediaMetadata",
    "PartAnswer",
    "PartsPage",
    "ThumbnailAnswer",
    "parse_answer",
]

_Model = TypeVar("_Model", bound=BaseModel)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MediaMetadata(_Answer):
    """The metadata block of a media (what vidlift reads of it)."""

    title: str | None = None
    external_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_params: dict[str, str] = Field(default_factory=dict)


class MediaAnswer(_Answer):
    """A media: ``GET /v2/sites/{site}/media/{id}/``."""

    id: str = Field(min_length=1)
    status: str
    error_message: str | None = None
    metadata: MediaMetadata = Field(default_factory=MediaMetadata)


class CreateAnswer(MediaAnswer):
    """Create or reupload: the media, and either a multipart upload or a direct link."""

    upload_id: str | None = None
    upload_token: str | None = Field(default=None, repr=False)
    upload_link: str | None = Field(default=None, repr=False)


class ThumbnailAnswer(_Answer):
    """A thumbnail: ``.../thumbnails/{id}/`` (status processing, ready or failed)."""

    id: str = Field(min_length=1)
    status: str
    error_message: str | None = None


class MediaList(_Answer):
    """``GET /v2/sites/{site}/media/?q=...``."""

    media: list[MediaAnswer]
    total: int | None = None


class PartAnswer(_Answer):
    """One part of a parts listing; ``etag`` (unquoted md5) once the part arrived."""

    id: int = Field(ge=1)
    upload_link: str = Field(min_length=1, repr=False)
    etag: str | None = None


class PartsPage(_Answer):
    """``GET /v2/uploads/{upload_id}/parts?page=&page_length=``."""

    parts: list[PartAnswer]
    total: int | None = None


class _ErrorItem(_Answer):
    code: str = ""
    description: str = ""


class ErrorAnswer(_Answer):
    """``{"errors": [{"code", "description"}]}``."""

    errors: list[_ErrorItem] = Field(default_factory=list)


def parse_answer(model: type[_Model], body: bytes, *, call: str) -> _Model:
    """The answer ``body`` as ``model``; AnswerParseError when it is not."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()[:3])
        raise AnswerParseError(f"{call}: unexpected answer ({fields})") from None
