"""The documents the emulator answers with, as plain values (part of the public test kit,
:mod:`vidlift.testing`): JW-style errors, the create/update answer with its link block,
show and list, the final answer of an upload, and nginx's own HTML error pages.

Shapes follow ../shared/PROTOCOL.md ("Answers") and the seed's XML examples.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vidlift.testing.emulator.formats import Answer
from vidlift.testing.emulator.quota import RateLimitState
from vidlift.testing.emulator.store import VideoRecord

__all__ = [
    "ApiFailure",
    "LinkBlock",
    "RedirectRequest",
    "create_answer",
    "error_answer",
    "fetch_create_answer",
    "final_answer",
    "list_answer",
    "nginx_page",
    "s3_create_answer",
    "show_answer",
    "video_fields",
]

_NGINX_REASONS = {
    400: "Bad Request",
    405: "Not Allowed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable",
    503: "Service Temporarily Unavailable",
}


class ApiFailure(Exception):
    """A JW-style error answer: HTTP status, code, message (title derived from the code).

    ``rate_limit`` overrides the block the answer carries (429 answers).
    """

    def __init__(
        self, status: int, code: str, message: str, *, rate_limit: RateLimitState | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.rate_limit = rate_limit
        self.title = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", code)
        super().__init__(f"{status} {code}: {message}")


@dataclass(frozen=True, slots=True)
class LinkBlock:
    """Where to upload: ``protocol://address`` + ``path`` + ``?key=...``."""

    protocol: str
    address: str
    path: str
    upload_key: str

    def as_dict(self) -> dict[str, object]:
        """The link block as plain values."""
        return {
            "protocol": self.protocol,
            "address": self.address,
            "path": self.path,
            "query": {"key": self.upload_key},
        }


@dataclass(frozen=True, slots=True)
class RedirectRequest:
    """The redirect parameters of an upload URL (the seed, "Redirect parameters")."""

    address: str
    query: tuple[tuple[str, str], ...]
    key_in_path: bool

    def link_for(self, video_key: str) -> tuple[str, list[tuple[str, str]]]:
        """The redirect address and query for a finished video."""
        if self.key_in_path:
            return f"{self.address.rstrip('/')}/{video_key}", list(self.query)
        return self.address, [*self.query, ("video_key", video_key)]


def error_answer(failure: ApiFailure, rate_limit: RateLimitState | None) -> Answer:
    """``{"status": "error", "code", "title", "message"}`` (+ ``rate_limit``)."""
    data: dict[str, object] = {
        "status": "error",
        "code": failure.code,
        "title": failure.title,
        "message": failure.message,
    }
    if rate_limit is not None:
        data["rate_limit"] = rate_limit.as_dict()
    return Answer(data)


def create_answer(video: VideoRecord, link: LinkBlock, rate_limit: RateLimitState) -> Answer:
    """The create/update answer: JSON at the top level, XML nested in ``<video key>``."""
    data: dict[str, object] = {
        "status": "ok",
        "media": {"type": "video", "key": video.key},
        "link": link.as_dict(),
        "session_id": video.session_id,
        "rate_limit": rate_limit.as_dict(),
    }
    nested = {"key": video.key, "link": link.as_dict(), "session_id": video.session_id}
    xml_data = {"status": "ok", "video": nested, "rate_limit": rate_limit.as_dict()}
    return Answer(data, xml_data=xml_data, legacy_data={**data, "video": nested})


def s3_create_answer(
    video: VideoRecord, link: dict[str, object], rate_limit: RateLimitState
) -> Answer:
    """The create/update answer of an ``upload_method=s3`` call: the video and one signed
    PUT link for the whole file (no session: not resumable)."""
    data: dict[str, object] = {
        "status": "ok",
        "media": {"type": "video", "key": video.key},
        "link": link,
        "rate_limit": rate_limit.as_dict(),
    }
    nested = {"key": video.key, "link": link}
    xml_data = {"status": "ok", "video": nested, "rate_limit": rate_limit.as_dict()}
    return Answer(data, xml_data=xml_data, legacy_data={**data, "video": nested})


def fetch_create_answer(video: VideoRecord, rate_limit: RateLimitState) -> Answer:
    """The answer of a videos/create with ``download_url``: the video only (the platform
    fetches the file; there is nothing to upload)."""
    data: dict[str, object] = {
        "status": "ok",
        "media": {"type": "video", "key": video.key},
        "rate_limit": rate_limit.as_dict(),
    }
    xml_data = {"status": "ok", "video": {"key": video.key}, "rate_limit": rate_limit.as_dict()}
    return Answer(data, xml_data=xml_data, legacy_data={**data, "video": {"key": video.key}})


def video_fields(video: VideoRecord) -> dict[str, object]:
    """One video as ``/videos/show`` and ``/videos/list`` describe it."""
    return {
        "key": video.key,
        "title": video.title,
        "description": video.description,
        "tags": video.tags,
        "date": video.date if video.date is not None else int(video.created_at),
        "link": video.link,
        "mediatype": "video",
        "status": str(video.status),
        "size": str(video.size or 0),
        "duration": "0.00",
        "md5": video.md5,
        "sha256": video.sha256,  # an emulator extension, as the nginx backend of the wire files
        "custom": dict(video.custom),
        "upload_session_id": video.session_id,
        "created": int(video.created_at),
        "updated": int(video.updated_at or video.created_at),
        **({"error": {"message": video.error_message}} if video.error_message else {}),
    }


def show_answer(video: VideoRecord, rate_limit: RateLimitState) -> Answer:
    """The ``/videos/show`` answer."""
    return Answer(
        {"status": "ok", "video": video_fields(video), "rate_limit": rate_limit.as_dict()}
    )


def list_answer(
    videos: Sequence[VideoRecord],
    *,
    total: int,
    limit: int,
    offset: int,
    rate_limit: RateLimitState,
) -> Answer:
    """The ``/videos/list`` answer."""
    data: dict[str, object] = {
        "status": "ok",
        "videos": [video_fields(v) for v in videos],
        "total": total,
        "limit": limit,
        "offset": offset,
        "rate_limit": rate_limit.as_dict(),
    }
    return Answer(data)


def final_answer(video_key: str, size: int, redirect: RedirectRequest | None) -> Answer:
    """The answer to the segment that completes a file (the seed's last example)."""
    data: dict[str, object] = {
        "status": "ok",
        "media": {"type": "video", "key": video_key},
        "file": {"size": size},
    }
    xml_data: dict[str, object] = {"status": "ok", "video": {"key": video_key, "size": size}}
    if redirect is not None:
        address, query = redirect.link_for(video_key)
        block = {"address": address, "query": _query_dict(query)}
        data["redirect_link"] = xml_data["redirect_link"] = block
    legacy = {**data, "video": {"key": video_key, "size": size}}
    return Answer(data, xml_data=xml_data, legacy_data=legacy)


def _query_dict(query: Sequence[tuple[str, str]]) -> Mapping[str, str]:
    return dict(query)


def nginx_page(status: int) -> bytes:
    """nginx's HTML error page for ``status`` (what the real upload server sends)."""
    title = f"{status} {_NGINX_REASONS.get(status, 'Error')}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode("ascii")
