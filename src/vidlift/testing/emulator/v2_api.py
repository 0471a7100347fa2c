"""The Bearer-authenticated v2 API of the emulator: media create, show, list by
external_id, metadata update, reupload, the parts listing and complete of multipart
uploads, and ``GET /_emulator/media/{id}`` (part of the public test kit,
:mod:`vidlift.testing`).

Every call is authenticated (``Authorization: Bearer``: the API secret for ``/v2/sites``,
the upload token for ``/v2/uploads``), counted against the rate limit per token, and
answered in JSON with ``JW-Request-*`` (and ``X-RateLimit-*``) headers. Rules:
docs/EMULATOR.md, "v2".
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from vidlift.testing.emulator.context import CONTEXT, ConnectionDrop, EmulatorContext
from vidlift.testing.emulator.faults import FaultKind
from vidlift.testing.emulator.fetcher import FetchRefused, check_fetch_url, start_v2_fetch
from vidlift.testing.emulator.quota import RateLimitState
from vidlift.testing.emulator.v2_answers import (
    V2Failure,
    check_metadata,
    json_answer,
    media_document,
    rate_headers,
    v2_error,
)
from vidlift.testing.emulator.v2_links import sign_link
from vidlift.testing.emulator.v2_listing import select_media
from vidlift.testing.emulator.v2_parts import complete_upload, link_base, new_upload
from vidlift.testing.emulator.v2_store import (
    MediaRecord,
    MediaStatus,
    UploadMethod,
    UploadRecord,
    UploadStatus,
)
from vidlift.testing.emulator.v2_thumbnails import THUMBNAILS, Thumbnails, thumbnail_routes

__all__ = ["add_v2_routes"]

_MAX_BODY_BYTES = 1024 * 1024
_MAX_PARTS = 10_000
_MAX_PAGE_LENGTH = 1000

Handler = Callable[[EmulatorContext, web.Request, str], Awaitable[web.Response]]


def add_v2_routes(app: web.Application) -> None:
    """Register the v2 API routes (a trailing slash is optional, as on JW's API)."""
    routes: list[tuple[str, Handler, bool]] = [
        ("/v2/sites/{site_id}/media{slash:/?}", _media_collection, True),
        ("/v2/sites/{site_id}/media/{media_id}{slash:/?}", _media_item, True),
        ("/v2/sites/{site_id}/media/{media_id}/reupload{slash:/?}", _reupload, True),
        ("/v2/uploads/{upload_id}/parts{slash:/?}", _list_parts, False),
        ("/v2/uploads/{upload_id}/complete{slash:/?}", _complete, False),
    ]
    routes += [(path, handler, True) for path, handler in thumbnail_routes()]
    app[THUMBNAILS] = Thumbnails()
    for path, handler, on_site in routes:
        app.router.add_route("*", path, _api(handler, on_site=on_site))
    app.router.add_get("/_emulator/media/{media_id}", _inspect_media)


def _api(handler: Handler, *, on_site: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        ctx = request.app[CONTEXT]
        ctx.requests.add("v2_api")
        with_reset = ctx.config.v2_reset_header
        rate: RateLimitState | None = None
        try:
            token = _bearer(request)
            quota_key = _authenticate(ctx, request, token, on_site=on_site)
            rate = _admit(ctx, quota_key)
            response = await handler(ctx, request, token)
        except V2Failure as failure:
            ctx.requests.add("v2_error")
            if isinstance(failure, _RateFailure):
                rate = failure.state
                ctx.requests.add("v2_rate_limited")
            headers = rate_headers(rate, with_reset=with_reset) if rate else None
            return v2_error(failure, headers)
        response.headers.update(rate_headers(rate, with_reset=with_reset))
        return response

    return serve


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise V2Failure(401, "unauthorized", "an Authorization: Bearer header is required")
    return token.strip()


def _authenticate(ctx: EmulatorContext, request: web.Request, token: str, *, on_site: bool) -> str:
    """Check the token for the route; the rate-limit key (a digest: never the token)."""
    if on_site:
        if not hmac.compare_digest(token.encode(), ctx.config.api_secret.encode()):
            raise V2Failure(401, "unauthorized", "the API secret is not valid")
        if request.match_info["site_id"] != ctx.config.site_id:
            raise V2Failure(404, "not_found", "no such site")
    else:
        upload = ctx.v2.upload(request.match_info["upload_id"])
        if upload is None or not upload.token:
            raise V2Failure(404, "not_found", "no such multipart upload")
        if not hmac.compare_digest(token.encode(), upload.token.encode()):
            raise V2Failure(401, "unauthorized", "the upload token is not valid for this upload")
    return "v2:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _admit(ctx: EmulatorContext, quota_key: str) -> RateLimitState:
    now = ctx.clock()
    state = ctx.quota.take(quota_key, now)
    if state is None or ctx.faults.fires(FaultKind.V2_API_429, ctx.faults.plan.v2_api_429_p):
        if state is None:
            state = ctx.quota.peek(quota_key, now)
        injected = dataclasses.replace(state, remaining=0)
        failure = V2Failure(429, "too_many_requests", "rate limit exceeded; wait for the reset")
        raise _RateFailure(failure, injected)
    return state


class _RateFailure(V2Failure):
    def __init__(self, failure: V2Failure, state: RateLimitState) -> None:
        super().__init__(failure.status, failure.code, failure.description)
        self.state = state


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.content.read(_MAX_BODY_BYTES + 1)
    if len(raw) > _MAX_BODY_BYTES:
        raise V2Failure(413, "payload_too_large", "the JSON body is too large")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise V2Failure(400, "invalid_body", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise V2Failure(400, "invalid_body", "the body must be a JSON object")
    return body


def _upload_method(body: dict[str, Any]) -> UploadMethod:
    upload = body.get("upload")
    if not isinstance(upload, dict) or "method" not in upload:
        raise V2Failure(400, "invalid_body", "upload.method is required")
    try:
        method = UploadMethod(upload["method"])
    except ValueError:
        raise V2Failure(
            400, "invalid_body", "upload.method must be multipart, direct or fetch"
        ) from None
    if method is UploadMethod.FETCH:
        url = upload.get("download_url")
        if not isinstance(url, str) or not url:
            raise V2Failure(400, "invalid_body", "upload.download_url is required for fetch")
        try:
            check_fetch_url(url)
        except FetchRefused as exc:
            raise V2Failure(400, "invalid_body", str(exc)) from None
    return method


def _media_or_404(ctx: EmulatorContext, request: web.Request) -> MediaRecord:
    media = ctx.v2.media(request.match_info["media_id"])
    if media is None:
        raise V2Failure(404, "not_found", "no such media")
    return media


def _show(ctx: EmulatorContext, media: MediaRecord) -> dict[str, Any]:
    status = ctx.v2.status_of(media, ctx.clock(), ctx.config.processing_s)
    return media_document(media, status)


def _upload_fields(
    ctx: EmulatorContext, request: web.Request, upload: UploadRecord
) -> dict[str, str]:
    if upload.method is UploadMethod.MULTIPART:
        return {"upload_id": upload.upload_id, "upload_token": upload.token}
    link = sign_link(
        ctx.config.api_secret,
        link_base(ctx, request),
        upload.upload_id,
        None,
        now=ctx.clock(),
        ttl_s=ctx.config.link_ttl_s,
    )
    return {"upload_link": link}


# ------------------------------------------------------------------------------ calls


async def _media_collection(ctx: EmulatorContext, request: web.Request, token: str) -> web.Response:
    if request.method == "GET":
        return _list_media(ctx, request)
    if request.method != "POST":
        raise V2Failure(405, "method_not_allowed", f"{request.method} is not allowed")
    body = await _json_body(request)
    unknown = sorted(set(body) - {"upload", "metadata"})
    if unknown:
        raise V2Failure(400, "invalid_body", f"unknown field(s): {', '.join(unknown)}")
    method = _upload_method(body)
    metadata = check_metadata(body.get("metadata", {}))
    now = ctx.clock()
    media_id = _new_id(ctx, 8)
    upload = new_upload(ctx, media_id, method, _new_id(ctx, 32))
    media = MediaRecord(media_id, metadata, MediaStatus.CREATED, upload.upload_id, now, now)
    ctx.v2.put(media, upload)
    await ctx.v2.save(media_id)
    ctx.requests.add("v2_create")
    if method is UploadMethod.FETCH:
        start_v2_fetch(ctx, request.app, upload, str(body["upload"]["download_url"]))
    if ctx.faults.fires(FaultKind.V2_CREATE_LOST_ANSWER, ctx.faults.plan.v2_create_lost_answer_p):
        raise ConnectionDrop("lost create answer (injected fault)")
    if method is UploadMethod.FETCH:
        return json_answer(_show(ctx, media), 201)
    return json_answer({**_show(ctx, media), **_upload_fields(ctx, request, upload)}, 201)


def _list_media(ctx: EmulatorContext, request: web.Request) -> web.Response:
    page = _int_param(request, "page", 1, 1, 1_000_000)
    page_length = _int_param(request, "page_length", 10, 1, 10_000)
    found = select_media(ctx.v2, request.query.get("q", ""), request.query.get("sort"))
    start = (page - 1) * page_length
    ctx.requests.add("v2_list")
    if ctx.faults.fires(FaultKind.V2_LIST_LOST_ANSWER, ctx.faults.plan.v2_list_lost_answer_p):
        raise ConnectionDrop("lost media list answer (injected fault)")
    return json_answer(
        {
            "media": [_show(ctx, m) for m in found[start : start + page_length]],
            "page": page,
            "page_length": page_length,
            "total": len(found),
        }
    )


async def _media_item(ctx: EmulatorContext, request: web.Request, token: str) -> web.Response:
    media = _media_or_404(ctx, request)
    if request.method == "GET":
        ctx.requests.add("v2_show")
        return json_answer(_show(ctx, media))
    if request.method != "PATCH":
        raise V2Failure(405, "method_not_allowed", f"{request.method} is not allowed")
    body = await _json_body(request)
    if set(body) - {"metadata"}:
        raise V2Failure(400, "invalid_body", "only metadata can be updated")
    changes = check_metadata(body.get("metadata", {}))
    media = dataclasses.replace(
        media,
        metadata={**media.metadata, **changes},
        updated_at=ctx.clock(),
    )
    ctx.v2.put(media)
    await ctx.v2.save(media.media_id)
    ctx.requests.add("v2_update")
    return json_answer(_show(ctx, media))


async def _reupload(ctx: EmulatorContext, request: web.Request, token: str) -> web.Response:
    if request.method != "PUT":
        raise V2Failure(405, "method_not_allowed", f"{request.method} is not allowed")
    media = _media_or_404(ctx, request)
    method = _upload_method(await _json_body(request))
    old = ctx.v2.upload(media.upload_id)
    upload = new_upload(ctx, media.media_id, method, _new_id(ctx, 32))
    media = dataclasses.replace(media, upload_id=upload.upload_id, updated_at=ctx.clock())
    superseded = []
    if old is not None and old.status is UploadStatus.OPEN:
        superseded.append(dataclasses.replace(old, status=UploadStatus.SUPERSEDED))
    ctx.v2.put(media, upload, *superseded)
    await ctx.v2.save(media.media_id)
    if old is not None and superseded:
        await ctx.v2.drop_parts(old.upload_id)
    ctx.requests.add("v2_reupload")
    return json_answer({**_show(ctx, media), **_upload_fields(ctx, request, upload)})


async def _list_parts(ctx: EmulatorContext, request: web.Request, token: str) -> web.Response:
    if request.method != "GET":
        raise V2Failure(405, "method_not_allowed", f"{request.method} is not allowed")
    upload = _open_upload(ctx, request)
    page = _int_param(request, "page", 1, 1, _MAX_PARTS)
    page_length = _int_param(request, "page_length", 10, 1, _MAX_PAGE_LENGTH)
    first = (page - 1) * page_length + 1
    if first > _MAX_PARTS:
        raise V2Failure(400, "invalid_query_param", "an upload has at most 10,000 parts")
    received = ctx.v2.parts(upload.upload_id)
    base, now = link_base(ctx, request), ctx.clock()
    parts = []
    for number in range(first, min(first + page_length, _MAX_PARTS + 1)):
        link = sign_link(
            ctx.config.api_secret,
            base,
            upload.upload_id,
            number,
            now=now,
            ttl_s=ctx.config.link_ttl_s,
        )
        part: dict[str, Any] = {"id": number, "upload_link": link}
        if number in received:
            part["etag"] = received[number].md5  # unquoted here; quoted in the PUT's ETag
        parts.append(part)
    ctx.requests.add("v2_parts_list")
    return json_answer(
        {"parts": parts, "page": page, "page_length": page_length, "total": len(received)}
    )


async def _complete(ctx: EmulatorContext, request: web.Request, token: str) -> web.Response:
    if request.method != "PUT":
        raise V2Failure(405, "method_not_allowed", f"{request.method} is not allowed")
    upload = ctx.v2.upload(request.match_info["upload_id"])
    if upload is not None and upload.status is UploadStatus.COMPLETE:
        raise V2Failure(409, "upload_already_completed", "this upload was already completed")
    upload = _open_upload(ctx, request)
    media = await complete_upload(ctx, upload)
    ctx.requests.add("v2_complete")
    if ctx.faults.fires(
        FaultKind.V2_COMPLETE_LOST_ANSWER, ctx.faults.plan.v2_complete_lost_answer_p
    ):
        raise ConnectionDrop("lost complete answer (injected fault)")
    return json_answer(
        {"upload_id": upload.upload_id, "media_id": media.media_id, "status": "complete"}
    )


def _open_upload(ctx: EmulatorContext, request: web.Request) -> UploadRecord:
    upload = ctx.v2.upload(request.match_info["upload_id"])
    if upload is None or upload.status is not UploadStatus.OPEN:
        raise V2Failure(404, "not_found", "no such open upload (completed or replaced)")
    return upload


async def _inspect_media(request: web.Request) -> web.Response:
    """Emulator-only (not JW's API, not authenticated): what the platform received."""
    ctx = request.app[CONTEXT]
    media = ctx.v2.media(request.match_info["media_id"])
    if media is None:
        return v2_error(V2Failure(404, "not_found", "no such media"))
    status = ctx.v2.status_of(media, ctx.clock(), ctx.config.processing_s)
    poster = request.app[THUMBNAILS].poster_of(media.media_id)
    return json_answer(
        {
            "id": media.media_id,
            "status": str(status),
            "size": media.size,
            "md5": media.md5,
            "error_message": media.error_message,
            "external_id": media.external_id,
            "upload_id": media.upload_id,
            "poster": poster.thumbnail_id if poster else None,
            "poster_md5": poster.md5 if poster else None,
        }
    )


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise V2Failure(400, "invalid_query_param", f"{name} must be an integer in {low}..{high}")
    return int(raw)


def _new_id(ctx: EmulatorContext, length: int) -> str:
    while True:
        candidate = ctx.new_id(length)
        if not ctx.v2.has_id(candidate):
            return candidate
