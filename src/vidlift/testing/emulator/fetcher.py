"""Server-side fetch in the emulator: videos/create with ``download_url`` (v1) and a v2
media created with ``upload.method: fetch`` make the platform download the file itself
(part of the public test kit, :mod:`vidlift.testing`).

The emulator fetches loopback URLs only (127.0.0.1, ::1, localhost): it is a test
server, never a proxy to the world. A fetch runs in the background after the create
answer went out; the video stays ``created`` until its last byte is stored, then turns
ready (processing for ``v1_processing_s``/``processing_s`` as an upload would), or
``failed`` with the reason (``fetch failed: HTTP 404``, ``fetch failed: connection
lost``) when the origin refuses or breaks. Redirects are followed (at most 5). A fetch
cut short by the emulator's shutdown leaves the video ``created``. Rules:
docs/EMULATOR.md, "Server-side fetch".
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from vidlift.testing.emulator.context import EmulatorContext
from vidlift.testing.emulator.store import VideoRecord, VideoStatus
from vidlift.testing.emulator.v2_parts import finish_media
from vidlift.testing.emulator.v2_store import MediaStatus, PartRecord, UploadRecord

__all__ = [
    "FETCHER",
    "FetchRefused",
    "FetchResult",
    "Fetcher",
    "check_fetch_url",
    "start_v1_fetch",
    "start_v2_fetch",
]

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_BLOCK_BYTES = 1024 * 1024


class FetchRefused(ValueError):
    """A ``download_url`` the emulator will not fetch (the create answers 400)."""


def check_fetch_url(url: str) -> str:
    """``url`` when the emulator may fetch it (http(s), a loopback host); else FetchRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("download_url must be an http(s) URL")
    if parts.hostname not in _LOOPBACK:
        raise FetchRefused("download_url: the emulator fetches loopback URLs only")
    return url


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a fetch stored (``error`` None) or why it failed."""

    size: int = 0
    md5: str | None = None
    error: str | None = None


Finished = Callable[[FetchResult], Awaitable[None]]


class Fetcher:
    """Runs the background fetches of one emulator and stops them with it."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def start(self, url: str, target: Path | None, finished: Finished) -> None:
        """Fetch ``url`` into ``target`` (None: hash only, discard mode), then call
        ``finished`` with the result."""
        task = asyncio.ensure_future(self._fetch(url, target, finished))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel the fetches still running and close the HTTP session."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _fetch(self, url: str, target: Path | None, finished: Finished) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        temp = target.with_name(target.name + ".fetching") if target is not None else None
        try:
            result = await self._download(url, temp)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            result = FetchResult(error=f"fetch failed: {type(exc).__name__}")
        if result.error is None and temp is not None and target is not None:
            await asyncio.to_thread(os.replace, temp, target)
        elif temp is not None:
            await asyncio.to_thread(_unlink, temp)
        await finished(result)

    async def _download(self, url: str, temp: Path | None) -> FetchResult:
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=60)
        async with self._session.get(url, max_redirects=5, timeout=timeout) as answer:
            if answer.status != 200:
                return FetchResult(error=f"fetch failed: HTTP {answer.status}")
            digest = hashlib.md5(usedforsecurity=False)
            size = 0
            handle = await asyncio.to_thread(open, temp, "wb") if temp is not None else None
            try:
                async for block in answer.content.iter_chunked(_BLOCK_BYTES):
                    digest.update(block)
                    size += len(block)
                    if handle is not None:
                        await asyncio.to_thread(handle.write, block)
            finally:
                if handle is not None:
                    await asyncio.to_thread(handle.close)
            expected = answer.content_length
            if expected is not None and size != expected:
                return FetchResult(error="fetch failed: the origin's answer ended early")
            return FetchResult(size=size, md5=digest.hexdigest())


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


FETCHER = web.AppKey("vidlift_emulator_fetcher", Fetcher)


def start_v1_fetch(
    ctx: EmulatorContext, app: web.Application, video: VideoRecord, url: str
) -> None:
    """Fetch ``url`` as ``video``'s file in the background (the emulator's fetch mode)."""
    target = None if ctx.config.discard else ctx.store.media_path(video.key)

    async def finished(result: FetchResult) -> None:
        ctx.requests.add("fetch_failed" if result.error else "fetch_ok")
        current = ctx.store.video(video.key)
        if current is None or current.session_id != video.session_id:
            return  # replaced or deleted meanwhile
        now = ctx.clock()
        done = dataclasses.replace(
            current,
            status=VideoStatus.FAILED if result.error else VideoStatus.READY,
            size=None if result.error else result.size,
            md5=result.md5,
            updated_at=now,
            completed_at=now,
            error_message=result.error,
        )
        ctx.store.put(done)
        await ctx.store.save(done.key)
        if not result.error:
            ctx.requests.add("files_completed")

    ctx.requests.add("fetch_started")
    app[FETCHER].start(url, target, finished)


def start_v2_fetch(
    ctx: EmulatorContext, app: web.Application, upload: UploadRecord, url: str
) -> None:
    """The platform downloads the media's file itself (``upload.method: fetch``)."""
    target = None if ctx.config.discard else ctx.v2.file_path(upload.media_id)

    async def finished(result: FetchResult) -> None:
        ctx.requests.add("fetch_failed" if result.error else "fetch_ok")
        media = ctx.v2.media(upload.media_id)
        if media is None or media.upload_id != upload.upload_id:
            return  # replaced meanwhile
        if result.error is None:
            await finish_media(ctx, upload, PartRecord(result.size, result.md5 or ""))
            return
        now = ctx.clock()
        failed = dataclasses.replace(
            media,
            status=MediaStatus.FAILED,
            completed_at=now,
            updated_at=now,
            error_message=result.error,
        )
        ctx.v2.put(failed)
        await ctx.v2.save(failed.media_id)

    ctx.requests.add("fetch_started")
    app[FETCHER].start(url, target, finished)
