"""v2 thumbnails in the emulator: a media's poster from an image URL (part of the
public test kit, :mod:`vidlift.testing`).

``POST /v2/sites/{site}/thumbnails/`` with ``{"relationships": {"media": [{"id": M}]},
"upload": {"source_type": "custom_upload", "method": "fetch", "thumbnail_type":
"static", "download_url": U}}`` creates a thumbnail (``processing``) and fetches ``U``
(loopback only, like media fetches); it turns ``ready``, or ``failed`` with the reason.
``GET .../thumbnails/{id}/`` shows it; ``PATCH`` with ``{"relationships": {"media":
[{"is_poster": true}]}}`` makes a ready thumbnail its media's poster (409 before it is
ready). Thumbnails live in memory only (a restart forgets them). ``GET
/_emulator/media/{id}`` shows the poster (``poster``, ``poster_md5``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from vidlift.testing.emulator.context import EmulatorContext
from vidlift.testing.emulator.fetcher import FETCHER, FetchRefused, FetchResult, check_fetch_url
from vidlift.testing.emulator.v2_answers import V2Failure, json_answer

__all__ = ["THUMBNAILS", "Thumbnail", "Thumbnails", "thumbnail_routes"]


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """One thumbnail: its media, its status, what was fetched."""

    thumbnail_id: str
    media_id: str
    status: str  # processing, ready, failed
    md5: str | None = None
    error_message: str | None = None


class Thumbnails:
    """The emulator's thumbnails and each media's poster (in memory)."""

    def __init__(self) -> None:
        self.by_id: dict[str, Thumbnail] = {}
        self.posters: dict[str, str] = {}  # media id -> thumbnail id

    def poster_of(self, media_id: str) -> Thumbnail | None:
        """The media's poster, if one was set."""
        thumbnail_id = self.posters.get(media_id)
        return self.by_id.get(thumbnail_id) if thumbnail_id else None


THUMBNAILS = web.AppKey("vidlift_emulator_thumbnails", Thumbnails)


def thumbnail_routes() -> list[tuple[str, Any]]:
    """(path, handler) of the thumbnail calls, for the v2 API's authenticating wrapper."""
    return [
        ("/v2/sites/{site_id}/thumbnails{slash:/?}", _collection),
        ("/v2/sites/{site_id}/thumbnails/{thumbnail_id}{slash:/?}", _item),
    ]


def _document(thumbnail: Thumbnail, poster: bool) -> dict[str, Any]:
    return {
        "id": thumbnail.thumbnail_id,
        "type": "thumbnail",
        "status": thumbnail.status,
        "error_message": thumbnail.error_message,
        "relationships": {"media": [{"id": thumbnail.media_id, "is_poster": poster}]},
    }


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise V2Failure(400, "invalid_body", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise V2Failure(400, "invalid_body", "the body must be a JSON object")
    return body


def _media_id_of(body: dict[str, Any]) -> str:
    try:
        media_id = body["relationships"]["media"][0]["id"]
    except (KeyError, IndexError, TypeError):
        raise V2Failure(400, "invalid_body", "relationships.media[0].id is required") from None
    if not isinstance(media_id, str):
        raise V2Failure(400, "invalid_body", "relationships.media[0].id must be text")
    return media_id


def _download_url_of(body: dict[str, Any]) -> str:
    upload = body.get("upload")
    if not isinstance(upload, dict) or upload.get("method") != "fetch":
        raise V2Failure(400, "invalid_body", "upload.method must be fetch (the emulator)")
    url = upload.get("download_url")
    if not isinstance(url, str) or not url:
        raise V2Failure(400, "invalid_body", "upload.download_url is required")
    try:
        return check_fetch_url(url)
    except FetchRefused as exc:
        raise V2Failure(400, "invalid_body", str(exc)) from None


async def _collection(ctx: EmulatorContext, request: web.Request, token: str) -> web.Response:
    del token
    if request.method != "POST":
        raise V2Failure(405, "method_not_allowed", f"{request.method} is not allowed")
    body = await _json(request)
    media_id, url = _media_id_of(body), _download_url_of(body)
    if ctx.v2.media(media_id) is None:
        raise V2Failure(404, "not_found", "no such media")
    thumbs = request.app[THUMBNAILS]
    thumbnail = Thumbnail(ctx.new_id(8), media_id, "processing")
    thumbs.by_id[thumbnail.thumbnail_id] = thumbnail
    ctx.requests.add("thumbnail_create")

    async def finished(result: FetchResult) -> None:
        status = "failed" if result.error else "ready"
        thumbs.by_id[thumbnail.thumbnail_id] = replace(
            thumbnail, status=status, md5=result.md5, error_message=result.error
        )
        ctx.requests.add(f"thumbnail_{status}")

    request.app[FETCHER].start(url, None, finished)
    return json_answer(_document(thumbnail, poster=False), 201)


async def _item(ctx: EmulatorContext, request: web.Request, token: str) -> web.Response:
    del token
    thumbs = request.app[THUMBNAILS]
    thumbnail = thumbs.by_id.get(request.match_info["thumbnail_id"])
    if thumbnail is None:
        raise V2Failure(404, "not_found", "no such thumbnail")
    if request.method == "PATCH":
        body = await _json(request)
        try:
            wanted = body["relationships"]["media"][0]["is_poster"] is True
        except (KeyError, IndexError, TypeError):
            raise V2Failure(400, "invalid_body", "relationships.media[0].is_poster") from None
        if wanted:
            if thumbnail.status != "ready":
                raise V2Failure(409, "conflict", f"the thumbnail is {thumbnail.status}")
            thumbs.posters[thumbnail.media_id] = thumbnail.thumbnail_id
            ctx.requests.add("poster_set")
    elif request.method != "GET":
        raise V2Failure(405, "method_not_allowed", f"{request.method} is not allowed")
    poster = thumbs.posters.get(thumbnail.media_id) == thumbnail.thumbnail_id
    return json_answer(_document(thumbnail, poster), 200)
