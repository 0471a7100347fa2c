"""Receiving one upload segment: streaming its body to the session's file, committing its
range, completing the file (part of the public test kit, :mod:`vidlift.testing`).

The order is the protocol's promise (../shared/PROTOCOL.md, "Positive answers ... only
after the bytes are saved"): bytes written at their offset, fsynced, the range merged, the
state saved atomically — then the answer. An interrupted segment is never counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from vidlift.testing.emulator.answers import (
    ApiFailure,
    RedirectRequest,
    error_answer,
    final_answer,
)
from vidlift.testing.emulator.context import ConnectionDrop, EmulatorContext
from vidlift.testing.emulator.faults import FaultKind
from vidlift.testing.emulator.formats import ApiFormat
from vidlift.testing.emulator.ranges import SegmentRange, covers, format_received, merge_range
from vidlift.testing.emulator.replies import answer_response, bare_response, nginx_error
from vidlift.testing.emulator.runtime import SessionRuntime, StreamHash
from vidlift.testing.emulator.store import SessionRecord, SessionStatus, VideoStatus

__all__ = ["BYTES_IN", "Refusal", "SegmentClaim", "SegmentSink", "receive_segment"]

BYTES_IN = web.RequestKey("vidlift_emulator_bytes_in", int)
STREAM_BATCH_BYTES = 1024 * 1024  # one thread hop and one pwritev per MiB, not per read
_MAX_IOVECS = 512


class Refusal(Exception):
    """A segment refused with an HTTP answer; nothing of it is stored."""

    def __init__(self, response: web.Response) -> None:
        self.response = response
        super().__init__(response.status)


def api_refusal(failure: ApiFailure, api_format: ApiFormat) -> Refusal:
    """A refusal answered as a JW-style error in the upload's ``api_format``."""
    return Refusal(answer_response(error_answer(failure, None), api_format, failure.status))


@dataclasses.dataclass(frozen=True, slots=True)
class SegmentClaim:
    """What a segment request claims, once its headers passed every check."""

    session_id: str
    segment: SegmentRange
    api_format: ApiFormat
    upload_key: str | None
    redirect: RedirectRequest | None


class SegmentSink:
    """Where one segment's bytes go: the part file at their offset, a running checksum, or
    nowhere (a segment for a completed session, or discard mode)."""

    def __init__(
        self,
        submit: Callable[..., asyncio.Future[Any]],
        path: Path,
        offset: int,
        *,
        write: bool,
        hasher: StreamHash | None,
        fsync: bool,
    ) -> None:
        self._submit = submit
        self._path = path
        self._offset = offset
        self._write_bytes = write
        self.hasher = hasher
        self._fsync = fsync
        self._fd: int | None = None
        self._pending: asyncio.Future[None] | None = None

    async def write(self, chunks: list[bytes]) -> None:
        """Write (and hash) the next bytes, in the store's thread pool."""
        if not self._write_bytes and self.hasher is None:  # nothing to keep: no thread hop
            self._offset += sum(len(chunk) for chunk in chunks)
            return
        self._pending = self._submit(self._write_sync, chunks)
        # Shielded: a cancelled handler must not close the file while a thread writes to it.
        await asyncio.shield(self._pending)

    def _write_sync(self, chunks: list[bytes]) -> None:
        size = sum(len(chunk) for chunk in chunks)
        if self._write_bytes:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o644)
            _pwrite_all(self._fd, chunks, self._offset)
        if self.hasher is not None:
            _hash_chunks(self.hasher, chunks, self._offset)
        self._offset += size

    async def finish(self) -> None:
        """Make the written bytes durable and close the file."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            await self._submit(_fsync_and_close, fd, self._fsync)

    def abandon(self) -> None:
        """Close without committing; waits for a write still running in a thread."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        pending = self._pending
        if pending is not None and not pending.done():
            pending.add_done_callback(lambda _: os.close(fd))
        else:
            os.close(fd)


def _pwrite_all(fd: int, chunks: list[bytes], offset: int) -> None:
    written = os.pwritev(fd, chunks, offset)
    total = sum(len(chunk) for chunk in chunks)
    if written < total:  # rare short write: finish it plainly
        rest = b"".join(chunks)[written:]
        while rest:
            step = os.pwrite(fd, rest, offset + written)
            written += step
            rest = rest[step:]


def _hash_chunks(hasher: StreamHash, chunks: list[bytes], offset: int) -> None:
    position = offset
    for chunk in chunks:
        end = position + len(chunk)
        if end > hasher.offset:  # bytes before the hash frontier were hashed already
            hasher.update(memoryview(chunk)[hasher.offset - position :])
        position = end


def _fsync_and_close(fd: int, fsync: bool) -> None:
    try:
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _open_sink(
    ctx: EmulatorContext, session: SessionRecord, runtime: SessionRuntime, claim: SegmentClaim
) -> SegmentSink:
    """Decide where the segment's bytes go (see docs/EMULATOR.md, "Discard mode")."""
    path = ctx.store.part_path(session.session_id)
    first, last = claim.segment.first, claim.segment.last
    if session.status is SessionStatus.COMPLETE:
        return SegmentSink(ctx.store.submit, path, first, write=False, hasher=None, fsync=False)
    discard = ctx.config.discard
    lose = not discard and ctx.faults.fires(FaultKind.LOSE_SEGMENT, ctx.faults.plan.lose_segment_p)
    hasher = runtime.hasher
    inline = (
        not lose and hasher is not None and not runtime.hashing and first <= hasher.offset <= last
    )
    if inline and hasher is not None:
        runtime.hashing = True
        hasher = hasher.copy()
    else:
        hasher = None
    # Discard mode keeps no bytes when they are hashed inline or not hashed at all.
    write = not lose and not (discard and (inline or not ctx.config.checksums))
    return SegmentSink(
        ctx.store.submit, path, first, write=write, hasher=hasher, fsync=ctx.config.fsync
    )


async def receive_segment(
    ctx: EmulatorContext,
    request: web.Request,
    claim: SegmentClaim,
    session: SessionRecord,
    runtime: SessionRuntime,
) -> web.StreamResponse:
    """Stream, commit and answer one admitted segment."""
    generation = runtime.generation
    sink = _open_sink(ctx, session, runtime, claim)
    adopted = False
    try:
        await _stream_body(ctx, request, claim, sink)
        await sink.finish()
        response, adopted = await _commit(ctx, claim, runtime, sink, generation)
    finally:
        sink.abandon()
        if sink.hasher is not None and not adopted and runtime.generation == generation:
            runtime.hashing = False
    if ctx.faults.fires(FaultKind.LOST_ACK, ctx.faults.plan.lost_ack_p):
        raise ConnectionDrop("lost_ack")
    return response


async def _read_chunk(ctx: EmulatorContext, request: web.Request) -> bytes:
    try:
        chunk = await request.content.readany()
    except (ConnectionError, aiohttp.ClientPayloadError, asyncio.IncompleteReadError):
        chunk = b""
    if not chunk:
        ctx.requests.add("segment_interrupted")
        raise ConnectionDrop("interrupted")
    return chunk


async def _stream_body(
    ctx: EmulatorContext, request: web.Request, claim: SegmentClaim, sink: SegmentSink
) -> None:
    length = claim.segment.length
    drop_at = ctx.faults.drop_point(length)
    received, batch, batch_bytes = 0, [], 0
    while received < length:
        chunk = await _read_chunk(ctx, request)
        received += len(chunk)
        ctx.requests.add("bytes_received", len(chunk))
        request[BYTES_IN] = received
        if drop_at is not None and received > drop_at:
            raise ConnectionDrop("drop_mid_segment")
        if received > ctx.config.max_segment_bytes:  # Content-Length was checked; belt and braces
            raise Refusal(nginx_error(413))
        batch.append(chunk)
        batch_bytes += len(chunk)
        if batch_bytes >= STREAM_BATCH_BYTES or len(batch) >= _MAX_IOVECS:
            await sink.write(batch)
            batch, batch_bytes = [], 0
        if ctx.throttle is not None:
            await ctx.throttle.consume(len(chunk))
    if batch:
        await sink.write(batch)


async def _commit(
    ctx: EmulatorContext,
    claim: SegmentClaim,
    runtime: SessionRuntime,
    sink: SegmentSink,
    generation: int,
) -> tuple[web.StreamResponse, bool]:
    """Merge the segment's range and save the state; (answer, checksum adopted)."""
    session = ctx.store.session(claim.session_id)
    if session is None or session.status is SessionStatus.SUPERSEDED:
        failure = ApiFailure(404, "NotFound", "upload session was replaced by videos/update")
        raise api_refusal(failure, claim.api_format)
    if runtime.generation != generation or session.status is SessionStatus.COMPLETE:
        return _final_response(ctx, claim, session.video_key, session.total or 0), False
    if session.total is not None and session.total != claim.segment.total:
        raise api_refusal(_total_mismatch(session.total, claim.segment.total), claim.api_format)
    ranges = merge_range(session.ranges, (claim.segment.first, claim.segment.last))
    session = dataclasses.replace(session, total=claim.segment.total, ranges=tuple(ranges))
    ctx.store.put(None, session)
    adopted = sink.hasher is not None
    if sink.hasher is not None:
        runtime.hasher, runtime.hashing = sink.hasher, False
    if covers(ranges, claim.segment.total):
        return await _complete(ctx, claim, runtime, generation), adopted
    await ctx.store.save(session.video_key)
    ctx.requests.add("segment_201")
    text = format_received(ranges, claim.segment.total)
    return bare_response(201, text, {"Range": text}), adopted


def _total_mismatch(expected: int, given: int) -> ApiFailure:
    return ApiFailure(
        400, "ParameterInvalid", f"total size {given} differs from this session's {expected}"
    )


async def _complete(
    ctx: EmulatorContext, claim: SegmentClaim, runtime: SessionRuntime, generation: int
) -> web.StreamResponse:
    """The last byte is in: checksums, video ready, file in place — exactly once."""
    async with runtime.finish_lock:
        session = ctx.store.session(claim.session_id)
        assert session is not None and session.total is not None
        if runtime.generation != generation or session.status is not SessionStatus.RECEIVING:
            return _final_response(ctx, claim, session.video_key, session.total)
        md5, sha256 = await _checksums(ctx, session, runtime)
        session = dataclasses.replace(session, status=SessionStatus.COMPLETE)
        video = ctx.store.video(session.video_key)
        assert video is not None
        failed = ctx.faults.fires(FaultKind.PROCESSING_FAILED, ctx.faults.plan.processing_failed_p)
        video = dataclasses.replace(
            video,
            status=VideoStatus.FAILED if failed else VideoStatus.READY,
            size=session.total,
            md5=md5,
            sha256=sha256,
            updated_at=ctx.clock(),
            completed_at=ctx.clock(),
            error_message="Video processing failed (injected fault)" if failed else None,
        )
        ctx.store.put(video, session)
        await ctx.store.save(video.key)
        await ctx.store.finish_file(
            session.session_id, video.key, size=session.total or 0, keep=not ctx.config.discard
        )
        ctx.requests.add("files_completed")
        if ctx.faults.fires(FaultKind.FORGET_COMPLETED, ctx.faults.plan.forget_completed):
            await _forget(ctx, session, runtime)
        else:  # nothing left to track in memory; late segments only need the final answer
            ctx.runtimes.pop(session.session_id, None)
    return _final_response(ctx, claim, video.key, session.total or 0)


async def _checksums(
    ctx: EmulatorContext, session: SessionRecord, runtime: SessionRuntime
) -> tuple[str | None, str | None]:
    if runtime.hasher is None:  # checksums off, or discard mode after a restart
        return None, None
    work = runtime.hasher.copy()
    total = session.total or 0
    if work.offset < total:
        await ctx.store.run(_hash_rest, ctx.store.part_path(session.session_id), work, total)
    return work.hexdigests()


def _hash_rest(path: Path, hasher: StreamHash, total: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size < total:  # bytes never written (lose_segment) read as zeros
            os.ftruncate(fd, total)
    finally:
        os.close(fd)
    hasher.update_from_file(path, total)


async def _forget(ctx: EmulatorContext, session: SessionRecord, runtime: SessionRuntime) -> None:
    """Forget a completed session the way the real server does (PROTOCOL.md)."""
    fresh = dataclasses.replace(session, status=SessionStatus.RECEIVING, total=None, ranges=())
    ctx.store.put(None, fresh)
    await ctx.store.save(session.video_key)
    runtime.restart(checksums=ctx.config.checksums)


def _final_response(
    ctx: EmulatorContext, claim: SegmentClaim, video_key: str, size: int
) -> web.Response:
    answer = final_answer(video_key, size, claim.redirect)
    ctx.requests.add("segment_final")
    redirect = claim.redirect
    if redirect is None or not ctx.config.redirect_with_3xx:
        return answer_response(answer, claim.api_format)
    address, query = redirect.link_for(video_key)
    location = str(URL(address).update_query(query)) if query else address
    return answer_response(answer, claim.api_format, 303, {"Location": location})
