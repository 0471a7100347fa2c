"""The resumable upload route of the emulator, ``/v1/videos/upload/resumable``: header
checks, session lookup and admission of one segment (part of the public test kit,
:mod:`vidlift.testing`).

Semantics are the nginx upload module's (../shared/PROTOCOL.md and the wire transcripts),
stricter where docs/EMULATOR.md says so. A refused segment stores nothing.
"""

from __future__ import annotations

import re

from aiohttp import hdrs, web
from multidict import MultiMapping

from vidlift.testing.emulator.answers import ApiFailure, RedirectRequest
from vidlift.testing.emulator.context import CONTEXT, ConnectionDrop, EmulatorContext
from vidlift.testing.emulator.faults import FaultKind
from vidlift.testing.emulator.formats import ApiFormat
from vidlift.testing.emulator.ranges import parse_segment_range
from vidlift.testing.emulator.replies import nginx_error
from vidlift.testing.emulator.runtime import SessionRuntime
from vidlift.testing.emulator.segment import (
    Refusal,
    SegmentClaim,
    api_refusal,
    receive_segment,
)
from vidlift.testing.emulator.store import SessionRecord, SessionStatus

__all__ = ["handle_upload", "read_claim"]

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # the upload module's alphabet
_REDIRECT_QUERY = "redirect_query."
_BUSY_HEADERS = {"Retry-After": "1"}


async def handle_upload(request: web.Request) -> web.StreamResponse:
    """Answer one segment request (201 with ranges, 200 final, or a refusal)."""
    ctx = request.app[CONTEXT]
    ctx.requests.add("segment")
    try:
        if request.method != "POST":
            raise Refusal(nginx_error(405, {"Allow": "POST"}))
        claim = read_claim(request, ctx.config.max_segment_bytes)
        if claim.segment.length == 1:
            ctx.requests.add("probe")
        session = _find_session(ctx, claim)
        runtime = ctx.runtime(session)
        _admit(ctx, runtime, claim)
    except Refusal as refusal:
        ctx.requests.add("segment_rejected")
        return refusal.response
    token = runtime.enter((claim.segment.first, claim.segment.last))
    try:
        return await receive_segment(ctx, request, claim, session, runtime)
    except Refusal as refusal:
        ctx.requests.add("segment_rejected")
        return refusal.response
    finally:
        runtime.leave(token)


def read_claim(request: web.Request, max_segment_bytes: int) -> SegmentClaim:
    """Check a segment's headers; raise :class:`Refusal` or :class:`ConnectionDrop`."""
    api_format = _upload_format(request.query.get("api_format"))
    session_id = _header(request, "X-Session-ID", "Session-ID")
    if session_id is None:
        failure = ApiFailure(400, "ParameterMissing", "X-Session-ID header is missing")
        raise api_refusal(failure, api_format)
    if not _SESSION_ID.fullmatch(session_id):
        raise ConnectionDrop("invalid session id")  # as nginx: no answer at all
    raw_range = _header(request, "X-Content-Range", "Content-Range")
    if raw_range is None:
        failure = ApiFailure(400, "ParameterMissing", "X-Content-Range header is missing")
        raise api_refusal(failure, api_format)
    segment = parse_segment_range(raw_range)
    if segment is None:
        raise ConnectionDrop("invalid range")  # as nginx: no answer at all
    _check_body_headers(request, segment.length, max_segment_bytes)
    return SegmentClaim(
        session_id=session_id,
        segment=segment,
        api_format=api_format,
        upload_key=request.query.get("key") or None,
        redirect=_redirect(request.query),
    )


def _upload_format(value: str | None) -> ApiFormat:
    try:
        return ApiFormat(value or "json")
    except ValueError:
        failure = ApiFailure(400, "ParameterInvalid", "api_format must be json, xml, php or py")
        raise api_refusal(failure, ApiFormat.JSON) from None


def _header(request: web.Request, name: str, alias: str) -> str | None:
    value = request.headers.get(name)
    return request.headers.get(alias) if value is None else value


def _check_body_headers(request: web.Request, length: int, max_segment_bytes: int) -> None:
    """Content-Disposition, Content-Type and the body's length, as nginx checks them."""
    if hdrs.CONTENT_DISPOSITION not in request.headers:
        raise Refusal(nginx_error(415))
    content_type = request.headers.get(hdrs.CONTENT_TYPE)
    if not content_type:
        raise Refusal(nginx_error(400))
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        raise Refusal(nginx_error(415))
    chunked = "chunked" in request.headers.get(hdrs.TRANSFER_ENCODING, "").lower()
    declared = request.content_length
    if chunked or declared is None:
        raise Refusal(nginx_error(416))
    if declared > max_segment_bytes:
        raise Refusal(nginx_error(413))
    if declared != length:
        raise Refusal(nginx_error(416))


def _redirect(query: MultiMapping[str]) -> RedirectRequest | None:
    address = query.get("redirect_address")
    if not address:
        return None
    params: dict[str, str] = {}
    for name, value in query.items():
        if name.startswith(_REDIRECT_QUERY) and len(name) > len(_REDIRECT_QUERY):
            params.setdefault(name[len(_REDIRECT_QUERY) :], value)  # names are unique: first wins
    key_in_path = query.get("key_in_path", "").strip().lower() == "true"
    return RedirectRequest(address, tuple(params.items()), key_in_path)


def _find_session(ctx: EmulatorContext, claim: SegmentClaim) -> SessionRecord:
    session = ctx.store.session(claim.session_id)
    fmt = claim.api_format
    if session is None:
        raise api_refusal(ApiFailure(404, "NotFound", "upload session not found"), fmt)
    if claim.upload_key is None:
        raise api_refusal(ApiFailure(400, "ParameterMissing", "parameter key is missing"), fmt)
    if claim.upload_key != session.upload_key:
        failure = ApiFailure(403, "PermissionDenied", "session was not issued for this upload key")
        raise api_refusal(failure, fmt)
    if session.status is SessionStatus.SUPERSEDED:
        failure = ApiFailure(404, "NotFound", "upload session was replaced by videos/update")
        raise api_refusal(failure, fmt)
    total = claim.segment.total
    if session.status is SessionStatus.RECEIVING and session.total not in (None, total):
        failure = ApiFailure(
            400,
            "ParameterInvalid",
            f"total size {total} differs from this session's {session.total}",
        )
        raise api_refusal(failure, fmt)
    return session


def _admit(ctx: EmulatorContext, runtime: SessionRuntime, claim: SegmentClaim) -> None:
    if len(runtime.inflight) >= ctx.config.max_concurrent_segments_per_session:
        raise Refusal(nginx_error(503, _BUSY_HEADERS))
    segment = (claim.segment.first, claim.segment.last)
    if runtime.overlaps_inflight(segment):
        failure = ApiFailure(
            409, "Conflict", "segment overlaps a segment of this session in flight"
        )
        raise api_refusal(failure, claim.api_format)
    if ctx.faults.fires(FaultKind.UPLOAD_503, ctx.faults.plan.upload_503_p):
        raise Refusal(nginx_error(503, _BUSY_HEADERS))
