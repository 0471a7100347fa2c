"""Reading API and upload answers into models (protocol layer: pure).

Every placement ../shared/PROTOCOL.md lists is accepted: ``link`` and ``session_id``
inside the video element or at the top level; the key under ``video`` or ``media``;
the size under ``video`` or ``file``; ``redirect_link`` at the top or inside ``video``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vidlift.errors import (
    AnswerParseError,
    ApiError,
    AuthError,
    NonceReused,
    RateLimited,
    VideoMissing,
)
from vidlift.protocol.documents import Document
from vidlift.protocol.models import (
    CreateAnswer,
    FetchCreateAnswer,
    FinalAnswer,
    RateLimit,
    RedirectLink,
    S3CreateAnswer,
    VideoInfo,
    VideoList,
)

__all__ = [
    "api_error_from",
    "parse_create_answer",
    "parse_fetch_create_answer",
    "parse_final_answer",
    "parse_rate_limit",
    "parse_s3_create_answer",
    "parse_video_info",
    "parse_video_list",
]

_AUTH_CODES = frozenset(
    {
        "SignatureInvalid",
        "SignatureMissing",
        "TimestampExpired",
        "TimestampInvalid",
        "PermissionDenied",
        "ApiKeyInvalid",
        "ApiKeyMissing",
        "Unauthorized",
    }
)

M = TypeVar("M", bound=BaseModel)

_MAX_UNIX_TIME = 2**40  # far beyond any real quota reset time


def _section(doc: Mapping[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        value = doc.get(name)
        if isinstance(value, dict):
            return value
    return {}


def _validate(model: type[M], data: Mapping[str, Any], what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise AnswerParseError(f"unexpected {what} answer: {problems}") from None


def _check_ok(doc: Document, what: str, http_status: int) -> None:
    status = doc.get("status")
    if status == "error":
        raise api_error_from(doc, http_status=http_status, call=what)
    if status != "ok":
        raise AnswerParseError(f"{what} answer has status {status!r}, expected 'ok'")


def parse_rate_limit(doc: Mapping[str, Any]) -> RateLimit | None:
    """An answer's ``rate_limit`` block, None when it has no readable one."""
    block = doc.get("rate_limit")
    if not isinstance(block, dict):
        return None
    try:
        return RateLimit.model_validate(block)
    except ValidationError:
        return None  # a broken quota block must not fail an otherwise good answer


def _reset_time(limit: RateLimit | None) -> float | None:
    if limit is None or limit.reset is None or not 0 <= limit.reset <= _MAX_UNIX_TIME:
        return None  # absent or absurd (float() of a huge int would overflow)
    return float(limit.reset)


# Calls about one video: their NotFound means the video is gone (deleted on the platform).
_VIDEO_CALLS = frozenset({"videos/show", "videos/update"})


def api_error_from(doc: Mapping[str, Any], *, http_status: int, call: str = "") -> ApiError:
    """Turn an error answer (``status=error``) into the matching exception."""
    code = str(doc.get("code") or "Unknown")
    message = str(doc.get("message") or doc.get("title") or "no message")
    title = str(doc.get("title") or "")
    if http_status == 429 or code == "RateLimitExceeded":
        limit = parse_rate_limit(doc)
        reset = _reset_time(limit)
        return RateLimited(
            reset_at=reset,
            http_status=http_status,
            code=code,
            message=message,
            title=title,
            call=call,
        )
    if code == "NonceInvalid":
        return NonceReused(
            http_status=http_status, code=code, message=message, title=title, call=call
        )
    if code == "NotFound" and call in _VIDEO_CALLS:
        return VideoMissing(
            http_status=http_status, code=code, message=message, title=title, call=call
        )
    if code in _AUTH_CODES or http_status in (401, 403):
        return AuthError(
            http_status=http_status, code=code, message=message, title=title, call=call
        )
    return ApiError(http_status=http_status, code=code, message=message, title=title, call=call)


def parse_create_answer(
    doc: Document, *, http_status: int = 200, call: str = "videos/create"
) -> CreateAnswer:
    """The video key, link block and session id of a create/update answer."""
    data = _created(doc, http_status, call)
    data["session_id"] = doc.get("session_id") or _section(doc, "video", "media").get("session_id")
    return _validate(CreateAnswer, data, call)


def parse_s3_create_answer(
    doc: Document, *, http_status: int = 200, call: str = "videos/create"
) -> S3CreateAnswer:
    """The video key and the signed PUT link of an ``upload_method=s3`` create/update."""
    return _validate(S3CreateAnswer, _created(doc, http_status, call), call)


def parse_fetch_create_answer(doc: Document, *, http_status: int = 200) -> FetchCreateAnswer:
    """The video key of a videos/create with ``download_url`` (the platform fetches)."""
    _check_ok(doc, "videos/create", http_status)
    video = _section(doc, "video", "media")
    data = {"video_key": video.get("key"), "rate_limit": parse_rate_limit(doc)}
    return _validate(FetchCreateAnswer, data, "videos/create")


def _created(doc: Document, http_status: int, call: str) -> dict[str, object]:
    """What every create/update answer carries: the video key, the link, the quota."""
    _check_ok(doc, call, http_status)
    video = _section(doc, "video", "media")
    return {
        "video_key": video.get("key"),
        "link": doc.get("link") or video.get("link"),
        "rate_limit": parse_rate_limit(doc),
    }


def parse_final_answer(doc: Document, *, http_status: int = 200) -> FinalAnswer:
    """The answer to the segment that completed the upload."""
    _check_ok(doc, "final upload", http_status)
    video = _section(doc, "video", "media")
    file = _section(doc, "file")
    size = video.get("size", file.get("size"))
    data = {
        "status": doc.get("status"),
        "video_key": video.get("key"),
        "size": None if size == "" else size,  # XML <size/>
        "redirect_link": _redirect_link(doc.get("redirect_link") or video.get("redirect_link")),
    }
    return _validate(FinalAnswer, data, "final upload")


def _redirect_link(block: object) -> RedirectLink | None:
    # The redirect link is informative only: an odd one must not cost us the key and size.
    if not isinstance(block, dict):
        return None
    query = block.get("query")
    try:
        return RedirectLink.model_validate(
            {**block, "query": query if isinstance(query, dict) else {}}
        )
    except ValidationError:
        return None


def _video_data(video: Mapping[str, Any]) -> dict[str, Any]:
    custom = video.get("custom")
    # custom.* values are strings on the platform; JSON may carry numbers, booleans or null.
    fields = (
        {str(k): str(v) for k, v in custom.items() if isinstance(v, str | int | float)}
        if isinstance(custom, dict)
        else {}
    )
    return {**video, "custom": fields}


def _list_items(videos: object) -> list[Any]:
    if videos in ("", None):  # XML <videos/>: an empty list
        return []
    if isinstance(videos, dict):
        if "video" in videos:  # XML: <videos><video/>...</videos>
            inner = videos["video"]
            return inner if isinstance(inner, list) else [inner]
        if all(k.isascii() and k.isdigit() for k in videos):  # PHP: a list is keyed 0, 1, ...
            return [videos[k] for k in sorted(videos, key=int)]
    if not isinstance(videos, list):
        raise AnswerParseError("videos/list answer: 'videos' is not a list")
    return videos


def parse_video_info(doc: Document, *, http_status: int = 200) -> VideoInfo:
    """The ``video`` of a videos/show answer."""
    _check_ok(doc, "videos/show", http_status)
    return _validate(VideoInfo, _video_data(_section(doc, "video", "media")), "videos/show")


def parse_video_list(doc: Document, *, http_status: int = 200) -> VideoList:
    """The videos and total of a videos/list answer."""
    _check_ok(doc, "videos/list", http_status)
    videos = _list_items(doc.get("videos"))
    data = {
        "videos": [_video_data(v) for v in videos if isinstance(v, dict)],
        "total": doc.get("total") or 0,
    }
    return _validate(VideoList, data, "videos/list")
