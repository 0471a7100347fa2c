"""JSON answers of the emulator's v2 half: media documents, errors, rate-limit headers and
the checks of a media's metadata (part of the public test kit, :mod:`vidlift.testing`).

Shapes follow JW's v2 Management API: a media is ``{"id", "type": "media", "status",
"error_message", "metadata": {...}, ...}``; an error is ``{"errors": [{"code",
"description"}]}``. Formatted with the emulator's own code, never the client's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from vidlift.testing.emulator.quota import RateLimitState
from vidlift.testing.emulator.v2_store import MediaRecord, MediaStatus

__all__ = [
    "METADATA_FIELDS",
    "V2Failure",
    "check_metadata",
    "iso_time",
    "json_answer",
    "media_document",
    "rate_headers",
    "v2_error",
]

_STRING_FIELDS = (
    "title",
    "description",
    "author",
    "permalink",
    "category",
    "publish_start_date",
    "publish_end_date",
    "external_id",
    "language",
)
METADATA_FIELDS = (*_STRING_FIELDS, "tags", "custom_params")
_MAX_TEXT = 10_000


class V2Failure(Exception):
    """A v2 API call answered with an error (``code`` as JW spells it)."""

    def __init__(self, status: int, code: str, description: str) -> None:
        self.status = status
        self.code = code
        self.description = description
        super().__init__(f"{status} {code}: {description}")


def iso_time(stamp: float) -> str:
    """``2026-12-03T15:52:20+00:00``, as JW writes times."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(stamp))


def media_document(media: MediaRecord, status: MediaStatus) -> dict[str, Any]:
    """A media as ``GET /v2/sites/{site}/media/{id}/`` answers it."""
    metadata: dict[str, Any] = {name: media.metadata.get(name) for name in _STRING_FIELDS}
    metadata["tags"] = list(media.metadata.get("tags", []))
    metadata["custom_params"] = dict(media.metadata.get("custom_params", {}))
    return {
        "id": media.media_id,
        "type": "media",
        "created": iso_time(media.created_at),
        "last_modified": iso_time(media.updated_at),
        "status": str(status),
        "error_message": media.error_message if status is MediaStatus.FAILED else None,
        "media_type": "video",
        "duration": 0.0,
        "external_id": media.external_id,
        "metadata": metadata,
    }


def check_metadata(raw: object) -> dict[str, Any]:
    """The metadata object of a create/update body, checked; raises :class:`V2Failure`."""
    if not isinstance(raw, dict):
        raise V2Failure(400, "invalid_body", "metadata must be an object")
    unknown = sorted(set(raw) - set(METADATA_FIELDS))
    if unknown:
        raise V2Failure(400, "invalid_body", f"unknown metadata field(s): {', '.join(unknown)}")
    checked: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "tags":
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                raise V2Failure(400, "invalid_body", "metadata.tags must be a list of strings")
        elif name == "custom_params":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise V2Failure(400, "invalid_body", "metadata.custom_params must map str to str")
        elif value is not None and (not isinstance(value, str) or len(value) > _MAX_TEXT):
            raise V2Failure(400, "invalid_body", f"metadata.{name} must be a string")
        checked[name] = value
    return checked


def rate_headers(state: RateLimitState, *, with_reset: bool = True) -> dict[str, str]:
    """The rate-limit headers every v2 API answer carries: JW's ``JW-Request-Limit`` and
    ``JW-Request-Remaining`` and, unless ``with_reset`` is False (the real platform's
    shape: no reset time), the emulator's ``X-RateLimit-*`` with the reset (Unix s)."""
    headers = {"JW-Request-Limit": str(state.limit), "JW-Request-Remaining": str(state.remaining)}
    if with_reset:
        headers["X-RateLimit-Limit"] = str(state.limit)
        headers["X-RateLimit-Remaining"] = str(state.remaining)
        headers["X-RateLimit-Reset"] = str(state.reset)
    return headers


def json_answer(
    document: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer (compact, UTF-8)."""
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    response = web.Response(status=status, body=body, headers=headers)
    response.headers["Content-Type"] = "application/json"
    return response


def v2_error(failure: V2Failure, headers: Mapping[str, str] | None = None) -> web.Response:
    """``{"errors": [{"code": ..., "description": ...}]}`` with the failure's status."""
    document = {"errors": [{"code": failure.code, "description": failure.description}]}
    return json_answer(document, failure.status, headers)
