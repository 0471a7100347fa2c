"""v1's ``upload_method=s3`` in the emulator: videos/create or videos/update answers one
pre-signed PUT link for the whole file, not resumable (the seed's recommended path), and
the PUT itself (part of the public test kit, :mod:`vidlift.testing`).

The link is S3-shaped like the v2 half's (``v2_links``: signature and expiry in the query,
403 once expired or tampered with), under ``/s3/jw-v1-uploads/{session id}``. A PUT
streams the body (md5 as it goes), commits it as the video's file, and the video turns
ready (or failed, ``processing_failed_p``) before the answer (``ETag: "<md5>"``) goes out.
A PUT again to the same link (after a lost answer) replaces the file: S3 overwrites. The
``part_*`` faults apply to these PUTs. Rules: docs/EMULATOR.md, "v1 s3 uploads".
"""

from __future__ import annotations

import dataclasses
import os
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from vidlift.testing.emulator.context import CONTEXT, ConnectionDrop, EmulatorContext
from vidlift.testing.emulator.faults import FaultKind
from vidlift.testing.emulator.store import SessionRecord, SessionStatus, VideoStatus
from vidlift.testing.emulator.v2_links import LinkCheck, check_link, s3_error, sign_link
from vidlift.testing.emulator.v2_parts import MAX_PART_BYTES, link_base, receive_body
from vidlift.testing.emulator.v2_store import unlink_quietly

__all__ = ["S3_ROUTE", "handle_s3_put", "s3_link_block"]

S3_PREFIX = "/s3/jw-v1-uploads"
S3_ROUTE = S3_PREFIX + "/{session_id}"
_FAILED_MESSAGE = "Video processing failed (injected fault)"


def s3_link_block(ctx: EmulatorContext, request: web.Request, session_id: str) -> dict[str, object]:
    """The create/update answer's ``link`` for an s3 upload: protocol, address, path and
    the signed query (``X-Amz-*``)."""
    url = sign_link(
        ctx.config.api_secret,
        link_base(ctx, request),
        session_id,
        None,
        now=ctx.clock(),
        ttl_s=ctx.config.link_ttl_s,
        prefix=S3_PREFIX,
    )
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return {"protocol": parts.scheme, "address": parts.netloc, "path": parts.path, "query": query}


async def handle_s3_put(request: web.Request) -> web.Response:
    """The whole file, PUT to its pre-signed link."""
    ctx = request.app[CONTEXT]
    ctx.requests.add("s3_put")
    refusal, session = _admit(ctx, request)
    if refusal is not None or session is None:
        ctx.requests.add("s3_rejected")
        return refusal or s3_error(404, "NoSuchUpload")
    temp = None  # discard mode keeps the size and md5, not the bytes
    if not ctx.config.discard:
        temp = ctx.store.data_dir / "s3" / f"{session.session_id}.{ctx.new_id(12)}.tmp"
    received = await receive_body(ctx, request, temp)
    video = ctx.store.video(session.video_key)
    if video is None or video.session_id != session.session_id:  # replaced meanwhile
        if temp is not None:
            await ctx.store.run(unlink_quietly, temp)
        ctx.requests.add("s3_rejected")
        return s3_error(404, "NoSuchUpload")
    if temp is not None:
        await ctx.store.run(os.replace, temp, ctx.store.media_path(video.key))
    failed = ctx.faults.fires(FaultKind.PROCESSING_FAILED, ctx.faults.plan.processing_failed_p)
    now = ctx.clock()
    video = dataclasses.replace(
        video,
        status=VideoStatus.FAILED if failed else VideoStatus.READY,
        size=received.size,
        md5=received.md5,
        sha256=None,
        updated_at=now,
        completed_at=now,
        error_message=_FAILED_MESSAGE if failed else None,
    )
    done = dataclasses.replace(session, status=SessionStatus.COMPLETE, total=received.size)
    ctx.store.put(video, done)
    await ctx.store.save(video.key)
    ctx.requests.add("s3_ok")
    ctx.requests.add("files_completed")
    if ctx.faults.fires(FaultKind.PART_LOST_ANSWER, ctx.faults.plan.part_lost_answer_p):
        raise ConnectionDrop("lost s3 PUT answer (injected fault)")
    return web.Response(status=200, headers={"ETag": f'"{received.md5}"'})


def _admit(
    ctx: EmulatorContext, request: web.Request
) -> tuple[web.Response | None, SessionRecord | None]:
    """The checks before any byte is read, in order: a refusal, or the session."""
    if request.method != "PUT":
        return s3_error(405, "MethodNotAllowed", {"Allow": "PUT"}), None
    verdict = check_link(ctx.config.api_secret, request.path, request.query, ctx.clock())
    if verdict is LinkCheck.TAMPERED:
        return s3_error(403, "SignatureDoesNotMatch"), None
    if verdict is LinkCheck.EXPIRED or ctx.faults.fires(
        FaultKind.PART_EXPIRED, ctx.faults.plan.part_expired_p
    ):
        return s3_error(403, "AccessDenied"), None
    session = ctx.store.session(request.match_info["session_id"])
    video = ctx.store.video(session.video_key) if session is not None else None
    if session is None or video is None or video.session_id != session.session_id:
        return s3_error(404, "NoSuchUpload"), None
    if request.content_length is None:
        return s3_error(411, "MissingContentLength"), None
    if request.content_length > MAX_PART_BYTES:
        return s3_error(400, "EntityTooLarge"), None
    if ctx.faults.fires(FaultKind.PART_503, ctx.faults.plan.part_503_p):
        return s3_error(503, "SlowDown"), None
    if ctx.faults.fires(FaultKind.PART_500, ctx.faults.plan.part_500_p):
        return s3_error(500, "InternalError"), None
    return None, session
