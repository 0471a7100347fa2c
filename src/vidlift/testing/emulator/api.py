"""The signed API routes of the emulator: ``/v1/videos/create``, ``update``, ``show`` and
``list`` (part of the public test kit, :mod:`vidlift.testing`).

Every call is authenticated (key, signature, timestamp window, nonce), counted against the
rate limit, then answered in its ``api_format``. Rules and status codes: docs/EMULATOR.md.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from vidlift.testing.emulator.answers import (
    ApiFailure,
    LinkBlock,
    create_answer,
    error_answer,
    fetch_create_answer,
    list_answer,
    s3_create_answer,
    show_answer,
)
from vidlift.testing.emulator.config import UPLOAD_PATH
from vidlift.testing.emulator.context import CONTEXT, EmulatorContext
from vidlift.testing.emulator.faults import FaultKind
from vidlift.testing.emulator.fetcher import FetchRefused, check_fetch_url, start_v1_fetch
from vidlift.testing.emulator.formats import Answer, ApiFormat
from vidlift.testing.emulator.params import Params, read_metadata, read_params
from vidlift.testing.emulator.quota import RateLimitState
from vidlift.testing.emulator.replies import answer_response
from vidlift.testing.emulator.signing import signature_matches
from vidlift.testing.emulator.store import SessionRecord, SessionStatus, VideoRecord, VideoStatus
from vidlift.testing.emulator.v1_s3 import s3_link_block

__all__ = ["API_ROUTE", "handle_api"]

API_ROUTE = "/v1/videos/{call}"
_REQUIRED = ("api_key", "api_nonce", "api_timestamp", "api_signature")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})

Call = Callable[[EmulatorContext, web.Request, Params, RateLimitState], Awaitable[Answer]]


async def handle_api(request: web.Request) -> web.Response:
    """Answer one API call (any method; GET and POST are served)."""
    ctx = request.app[CONTEXT]
    ctx.requests.add("api")
    params = Params(await read_params(request))
    call_name = request.match_info.get("call", "")
    api_format = ApiFormat.JSON
    rate: RateLimitState | None = None
    try:
        api_format = _parse_format(params.get("api_format"))
        call = _CALLS.get(call_name)
        if call is None:
            raise ApiFailure(404, "NotFound", f"unknown API call /v1/videos/{call_name}")
        if request.method not in ("GET", "POST"):
            raise ApiFailure(405, "MethodNotAllowed", f"{request.method} is not allowed")
        api_key = authenticate(ctx, params)
        rate = _admit(ctx, api_key)
        answer = await call(ctx, request, params, rate)
    except ApiFailure as failure:
        ctx.requests.add("api_error")
        block = (
            failure.rate_limit or rate or ctx.quota.peek(params.get("api_key") or "", ctx.clock())
        )
        return answer_response(error_answer(failure, block), api_format, failure.status)
    ctx.requests.add(f"api_{call_name}")
    return answer_response(answer, api_format)


def _parse_format(value: str | None) -> ApiFormat:
    try:
        return ApiFormat(value or "json")
    except ValueError:
        raise ApiFailure(
            400, "ParameterInvalid", "api_format must be json, xml, php or py"
        ) from None


def authenticate(ctx: EmulatorContext, params: Params) -> str:
    """Check key, signature, timestamp window and nonce (../shared/PROTOCOL.md, "Signing").

    Returns the API key; raises :class:`ApiFailure` with JW's codes.
    """
    for name in _REQUIRED:
        params.require(name)
    api_key = params.require("api_key")
    if api_key != ctx.config.api_key:
        raise ApiFailure(403, "PermissionDenied", "unknown api_key")
    raw_timestamp = params.require("api_timestamp")
    if not _TIMESTAMP.fullmatch(raw_timestamp):
        raise ApiFailure(400, "ParameterInvalid", "api_timestamp must be Unix seconds")
    if not signature_matches(params.pairs, ctx.config.api_secret, params.require("api_signature")):
        raise ApiFailure(400, "SignatureInvalid", "api_signature does not match the parameters")
    timestamp, now = int(raw_timestamp), ctx.clock()
    if abs(now - timestamp) > ctx.config.timestamp_window_s:
        window = int(ctx.config.timestamp_window_s)
        raise ApiFailure(403, "TimestampExpired", f"api_timestamp is more than {window} s off")
    if not ctx.nonces.use(api_key, params.require("api_nonce"), timestamp, now):
        raise ApiFailure(400, "NonceInvalid", "api_nonce was already used")
    return api_key


def _admit(ctx: EmulatorContext, api_key: str) -> RateLimitState:
    now = ctx.clock()
    state = ctx.quota.take(api_key, now)
    if state is None:
        raise ApiFailure(
            429,
            "RateLimitExceeded",
            "too many API calls; wait for the reset time",
            rate_limit=ctx.quota.peek(api_key, now),
        )
    if ctx.faults.fires(FaultKind.API_429, ctx.faults.plan.api_429_p):
        injected = dataclasses.replace(state, remaining=0, reset=int(now) + 2)
        raise ApiFailure(
            429, "RateLimitExceeded", "too many API calls (injected fault)", rate_limit=injected
        )
    if ctx.faults.fires(FaultKind.API_500, ctx.faults.plan.api_500_p):
        raise ApiFailure(500, "InternalError", "internal error (injected fault)")
    if ctx.faults.fires(FaultKind.API_NONCE_REUSED, ctx.faults.plan.api_nonce_reused_p):
        raise ApiFailure(400, "NonceInvalid", "api_nonce was already used (injected fault)")
    return state


# ------------------------------------------------------------------------------ calls


def _upload_method(params: Params) -> str:
    """``multipart`` (resumable; also the older ``resumable=true``) or ``s3`` (one PUT)."""
    method, resumable = params.get("upload_method"), params.get("resumable")
    if method in ("multipart", "s3"):
        return method
    if method is None and (resumable or "").lower() in ("true", "1"):
        return "multipart"
    if method is None:
        raise ApiFailure(
            400,
            "ParameterMissing",
            "upload_method (multipart or s3) is required: the emulator serves no form uploads",
        )
    raise ApiFailure(400, "ParameterInvalid", "upload_method must be multipart or s3")


def _created(
    ctx: EmulatorContext,
    request: web.Request,
    video: VideoRecord,
    session: SessionRecord,
    method: str,
    rate: RateLimitState,
) -> Answer:
    """The create/update answer for ``method``: a resumable session, or an s3 link."""
    if method == "s3":
        return s3_create_answer(video, s3_link_block(ctx, request, session.session_id), rate)
    return create_answer(video, _link_for(ctx, request, session.upload_key), rate)


def _link_for(ctx: EmulatorContext, request: web.Request, upload_key: str) -> LinkBlock:
    public = ctx.config.public_url
    if public:
        parts = urlsplit(public)
        return LinkBlock(parts.scheme or "http", parts.netloc, UPLOAD_PATH, upload_key)
    host = ctx.config.host
    if host in _WILDCARD_HOSTS:
        address = request.host
    else:
        address = f"[{host}]:{ctx.port}" if ":" in host else f"{host}:{ctx.port}"
    return LinkBlock("http", address, UPLOAD_PATH, upload_key)


def _new_session(ctx: EmulatorContext, video_key: str) -> SessionRecord:
    return SessionRecord(
        session_id=ctx.new_id(40),
        video_key=video_key,
        upload_key=ctx.new_id(8),
        status=SessionStatus.RECEIVING,
        total=None,
        ranges=(),
        created_at=ctx.clock(),
    )


async def _create(
    ctx: EmulatorContext, request: web.Request, params: Params, rate: RateLimitState
) -> Answer:
    url = params.get("download_url")
    method = "fetch" if url is not None else _upload_method(params)
    if url is not None:
        try:
            check_fetch_url(url)
        except FetchRefused as exc:
            raise ApiFailure(400, "ParameterInvalid", str(exc)) from None
    meta, custom = read_metadata(params)
    key = ctx.new_id(8)
    session = _new_session(ctx, key)
    video = VideoRecord(
        key=key,
        title="",
        description="",
        tags="",
        custom={},
        status=VideoStatus.CREATED,
        size=None,
        md5=None,
        sha256=None,
        session_id=session.session_id,
        created_at=session.created_at,
        updated_at=session.created_at,
    )
    video = dataclasses.replace(video, **meta, custom=custom)
    ctx.store.put(video, session)
    await ctx.store.save(key)
    if url is not None:
        start_v1_fetch(ctx, request.app, video, url)
        return fetch_create_answer(video, rate)
    return _created(ctx, request, video, session, method, rate)


async def _update(
    ctx: EmulatorContext, request: web.Request, params: Params, rate: RateLimitState
) -> Answer:
    video = _video_of(ctx, params)
    meta, custom = read_metadata(params)
    if params.get("upload_method") is None and params.get("resumable") is None:
        # JW v1: videos/update without an upload method changes the metadata only.
        video = dataclasses.replace(video, **meta, custom={**video.custom, **custom})
        ctx.store.put(video)
        await ctx.store.save(video.key)
        return show_answer(video, rate)
    method = _upload_method(params)
    old = ctx.store.session(video.session_id)
    session = _new_session(ctx, video.key)
    status = VideoStatus.CREATED if video.status is VideoStatus.CREATED else VideoStatus.UPDATING
    video = dataclasses.replace(
        video,
        **meta,
        custom={**video.custom, **custom},
        session_id=session.session_id,
        status=status,
        updated_at=session.created_at,
    )
    superseded = [dataclasses.replace(old, status=SessionStatus.SUPERSEDED)] if old else []
    ctx.store.put(video, session, *superseded)
    ctx.runtimes.pop(old.session_id if old else "", None)
    await ctx.store.save(video.key)
    if old is not None:
        await ctx.store.drop_part(old.session_id)
    return _created(ctx, request, video, session, method, rate)


def _video_of(ctx: EmulatorContext, params: Params) -> VideoRecord:
    key = params.require("video_key")
    video = ctx.store.video(key)
    if video is None:
        raise ApiFailure(404, "NotFound", f"video {key} not found")
    return video


async def _show(
    ctx: EmulatorContext, request: web.Request, params: Params, rate: RateLimitState
) -> Answer:
    del request
    return show_answer(_as_read(ctx, _video_of(ctx, params)), rate)


def _as_read(ctx: EmulatorContext, video: VideoRecord) -> VideoRecord:
    """The video as show and list describe it now (processing after it completed)."""
    status = video.status_at(ctx.clock(), ctx.config.v1_processing_s)
    return video if status is video.status else dataclasses.replace(video, status=status)


async def _list(
    ctx: EmulatorContext, request: web.Request, params: Params, rate: RateLimitState
) -> Answer:
    del request
    limit = params.integer("result_limit", default=50, low=1, high=1000)
    offset = params.integer("result_offset", default=0, low=0, high=10**12)
    wanted = params.search_filter()
    exact = [(name, value) for name, value in wanted.custom if name != "*"]
    pool = ctx.store.videos_with_custom(*exact[0]) if exact else ctx.store.videos()
    found = [video for video in pool if wanted.matches(video)]
    page = [_as_read(ctx, video) for video in found[offset : offset + limit]]
    return list_answer(page, total=len(found), limit=limit, offset=offset, rate_limit=rate)


_CALLS: dict[str, Call] = {"create": _create, "update": _update, "show": _show, "list": _list}
