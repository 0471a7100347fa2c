"""Receiving v2 uploads: part and direct PUTs to pre-signed links, and the completion of a
multipart upload with S3's rules (part of the public test kit, :mod:`vidlift.testing`).

A part's body is streamed to a temporary file while its md5 is computed; only when all of
it arrived is the file fsynced and renamed into place (one rename commits it), and then
the answer goes out with ``ETag: "<md5>"``. A direct PUT completes its media at once.
Completion concatenates the parts 1..n in order; every part but the last must hold at
least 5 MiB (S3's EntityTooSmall). Rules and faults: docs/EMULATOR.md, "v2".
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from pathlib import Path

from aiohttp import web

from vidlift.testing.emulator.context import CONTEXT, ConnectionDrop, EmulatorContext
from vidlift.testing.emulator.faults import FaultKind
from vidlift.testing.emulator.runtime import READ_BLOCK_BYTES
from vidlift.testing.emulator.segment import BYTES_IN
from vidlift.testing.emulator.v2_answers import V2Failure
from vidlift.testing.emulator.v2_links import LINK_PREFIX, LinkCheck, check_link, s3_error
from vidlift.testing.emulator.v2_store import (
    MediaRecord,
    MediaStatus,
    PartRecord,
    UploadMethod,
    UploadRecord,
    UploadStatus,
    unlink_quietly,
)

__all__ = [
    "LINK_ROUTE",
    "MIN_PART_BYTES",
    "complete_upload",
    "finish_media",
    "handle_link_put",
    "link_base",
    "new_upload",
    "receive_body",
]

LINK_ROUTE = LINK_PREFIX + "/{upload_id}"
MIN_PART_BYTES = 5 * 1024 * 1024  # S3: every part but the last
MAX_PART_BYTES = 5 * 1024**3  # S3: a part, and a single PUT
_MAX_PARTS = 10_000
_BATCH_BYTES = 1024 * 1024


def link_base(ctx: EmulatorContext, request: web.Request) -> str:
    """Scheme and host the links point at: ``public_url``, else the request's Host."""
    if ctx.config.public_url:
        return ctx.config.public_url.rstrip("/")
    return f"{request.scheme}://{request.host}"


def new_upload(
    ctx: EmulatorContext, media_id: str, method: UploadMethod, upload_id: str
) -> UploadRecord:
    """A fresh open upload for a media (a token for multipart only)."""
    token = ctx.new_id(40) if method is UploadMethod.MULTIPART else ""
    return UploadRecord(upload_id, media_id, method, token, UploadStatus.OPEN, ctx.clock())


async def handle_link_put(request: web.Request) -> web.Response:
    """A PUT to a pre-signed link: one part of a multipart upload, or a direct upload."""
    ctx = request.app[CONTEXT]
    ctx.requests.add("part")
    try:
        upload, number = _admit_put(ctx, request)
    except _S3Refusal as refusal:
        ctx.requests.add("part_rejected")
        return refusal.response
    temp = None  # discard mode keeps the part's size and md5, not its bytes
    if not ctx.config.discard:
        temp = ctx.v2.root / "uploads" / upload.upload_id / f".{number}.{ctx.new_id(12)}.tmp"
    part = await receive_body(ctx, request, temp)
    current = ctx.v2.upload(upload.upload_id)
    if current is None or current.status is not UploadStatus.OPEN:
        if temp is not None:
            await ctx.v2.run(unlink_quietly, temp)
        ctx.requests.add("part_rejected")
        return s3_error(404, "NoSuchUpload")
    if upload.method is UploadMethod.DIRECT:
        await _finish_direct(ctx, upload, temp, part)
    else:
        if temp is not None:
            await ctx.v2.run(os.replace, temp, ctx.v2.part_path(upload.upload_id, number))
        ctx.v2.note_part(upload.upload_id, number, part)
    ctx.requests.add("part_ok")
    if ctx.faults.fires(FaultKind.PART_LOST_ANSWER, ctx.faults.plan.part_lost_answer_p):
        raise ConnectionDrop("lost part answer (injected fault)")
    return web.Response(status=200, headers={"ETag": f'"{part.md5}"'})


class _S3Refusal(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response
        super().__init__(response.status)


def _admit_put(ctx: EmulatorContext, request: web.Request) -> tuple[UploadRecord, int]:
    """The checks before any byte is read, in order; the upload and part number."""
    if request.method != "PUT":
        raise _S3Refusal(s3_error(405, "MethodNotAllowed", {"Allow": "PUT"}))
    verdict = check_link(ctx.config.api_secret, request.path, request.query, ctx.clock())
    if verdict is LinkCheck.TAMPERED:
        raise _S3Refusal(s3_error(403, "SignatureDoesNotMatch"))
    if verdict is LinkCheck.EXPIRED or ctx.faults.fires(
        FaultKind.PART_EXPIRED, ctx.faults.plan.part_expired_p
    ):
        raise _S3Refusal(s3_error(403, "AccessDenied"))
    upload = ctx.v2.upload(request.match_info["upload_id"])
    if upload is None or upload.status is not UploadStatus.OPEN:
        raise _S3Refusal(s3_error(404, "NoSuchUpload"))
    number = _part_number(upload, request)
    if request.content_length is None:
        raise _S3Refusal(s3_error(411, "MissingContentLength"))
    if request.content_length > MAX_PART_BYTES:
        raise _S3Refusal(s3_error(400, "EntityTooLarge"))
    if ctx.faults.fires(FaultKind.PART_503, ctx.faults.plan.part_503_p):
        raise _S3Refusal(s3_error(503, "SlowDown"))
    if ctx.faults.fires(FaultKind.PART_500, ctx.faults.plan.part_500_p):
        raise _S3Refusal(s3_error(500, "InternalError"))
    return upload, number


def _part_number(upload: UploadRecord, request: web.Request) -> int:
    if upload.method is UploadMethod.DIRECT:
        return 1
    raw = request.query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_PARTS:
        raise _S3Refusal(s3_error(400, "InvalidArgument"))
    return int(raw)


async def receive_body(ctx: EmulatorContext, request: web.Request, temp: Path | None) -> PartRecord:
    """Stream a PUT's body to ``temp`` (md5 as it goes; None: hash only), fsync it; drop
    the connection on a short body (and where the ``part_drop_p`` fault cuts it)."""
    length = request.content_length or 0
    drop_at = ctx.faults.cut_point(FaultKind.PART_DROP, ctx.faults.plan.part_drop_p, length)
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    if temp is not None:
        await ctx.v2.run(_open_temp, temp)
    try:
        batch: list[bytes] = []
        batch_bytes = 0
        async for chunk in request.content.iter_chunked(READ_BLOCK_BYTES):
            received += len(chunk)
            request[BYTES_IN] = received
            ctx.requests.add("bytes_received", len(chunk))
            if drop_at is not None and received > drop_at:
                raise ConnectionDrop("part dropped mid-body (injected fault)")
            if ctx.throttle is not None:  # bandwidth_bytes_per_s: shared with v1 segments
                await ctx.throttle.consume(len(chunk))
            batch.append(chunk)
            batch_bytes += len(chunk)
            if batch_bytes >= _BATCH_BYTES:
                await ctx.v2.run(_append, temp, batch, digest)
                batch, batch_bytes = [], 0
        if received != length:
            ctx.requests.add("part_interrupted")
            raise ConnectionDrop("the client went away mid-part")
        await ctx.v2.run(_append, temp, batch, digest, ctx.v2.fsync)
    except BaseException:
        if temp is not None:
            await asyncio.shield(ctx.v2.run(unlink_quietly, temp))
        raise
    return PartRecord(size=received, md5=digest.hexdigest())


def _open_temp(temp: Path) -> None:
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(b"")


def _append(
    temp: Path | None, chunks: list[bytes], digest: hashlib._Hash, fsync: bool = False
) -> None:
    if temp is None:
        for chunk in chunks:
            digest.update(chunk)
        return
    with temp.open("ab") as handle:
        for chunk in chunks:
            digest.update(chunk)
            handle.write(chunk)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())


async def _finish_direct(
    ctx: EmulatorContext, upload: UploadRecord, temp: Path | None, part: PartRecord
) -> None:
    if temp is not None:
        await ctx.v2.run(ctx.v2.commit_file, temp, upload.media_id)
    await finish_media(ctx, upload, part)
    await ctx.v2.drop_parts(upload.upload_id)


async def complete_upload(ctx: EmulatorContext, upload: UploadRecord) -> MediaRecord:
    """Assemble parts 1..n into the media's file; the media turns processing.

    Raises :class:`V2Failure` when no part arrived, a part is missing, or a part but the
    last is under 5 MiB (S3's EntityTooSmall); nothing changes then.
    """
    parts = ctx.v2.parts(upload.upload_id)
    if not parts:
        raise V2Failure(400, "invalid_upload", "no part was uploaded")
    count = max(parts)
    missing = [n for n in range(1, count + 1) if n not in parts]
    if missing:
        raise V2Failure(400, "invalid_upload", f"part {missing[0]} was not uploaded")
    for number in range(1, count):
        if parts[number].size < MIN_PART_BYTES:
            raise V2Failure(
                400,
                "invalid_upload",
                f"part {number} has {parts[number].size} bytes: every part but the last must "
                "have at least 5 MiB (EntityTooSmall)",
            )
    if upload.upload_id in ctx.v2.completing:
        raise V2Failure(409, "upload_already_completed", "this upload is being completed")
    ctx.v2.completing.add(upload.upload_id)
    try:
        if ctx.config.discard:  # no bytes kept: the size is known, the md5 is not
            whole = PartRecord(size=sum(p.size for p in parts.values()), md5="")
        else:
            paths = [ctx.v2.part_path(upload.upload_id, n) for n in range(1, count + 1)]
            temp = ctx.v2.file_path(upload.media_id).with_suffix(".assembling")
            whole = await ctx.v2.run(_concatenate, paths, temp, ctx.v2.fsync)
            await ctx.v2.run(ctx.v2.commit_file, temp, upload.media_id)
        media = await finish_media(ctx, upload, whole)
    finally:
        ctx.v2.completing.discard(upload.upload_id)
    await ctx.v2.drop_parts(upload.upload_id)
    return media


def _concatenate(paths: list[Path], target: Path, fsync: bool) -> PartRecord:
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with target.open("wb") as out:
        for path in paths:
            with path.open("rb") as handle:
                while block := handle.read(READ_BLOCK_BYTES):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
        if fsync:
            out.flush()
            os.fsync(out.fileno())
    return PartRecord(size=size, md5=digest.hexdigest())


async def finish_media(
    ctx: EmulatorContext, upload: UploadRecord, whole: PartRecord
) -> MediaRecord:
    """The media has its file: processing, then ready (or failed, decided now)."""
    media = ctx.v2.media(upload.media_id)
    assert media is not None  # an upload never outlives its media
    error = None
    if whole.size < ctx.config.min_media_bytes:
        error = (
            "Media is shorter than the 2 seconds the platform accepts "
            f"(emulator rule: files under {ctx.config.min_media_bytes} bytes)"
        )
    elif ctx.faults.fires(FaultKind.V2_PROCESSING_FAILED, ctx.faults.plan.v2_processing_failed_p):
        error = "Media processing failed (injected fault)"
    now = ctx.clock()
    media = dataclasses.replace(
        media,
        status=MediaStatus.PROCESSING,
        completed_at=now,
        updated_at=now,
        size=whole.size,
        md5=whole.md5 or None,
        error_message=error,
    )
    done = dataclasses.replace(upload, status=UploadStatus.COMPLETE)
    ctx.v2.put(media, done)
    await ctx.v2.save(media.media_id)
    ctx.requests.add("media_completed")
    return media
