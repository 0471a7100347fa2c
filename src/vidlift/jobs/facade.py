"""``vidlift.Client``: the library's front door for single uploads (jobs layer).

async with vidlift.Client(endpoint=..., api_key=..., api_secret=...) as client:
    result = await client.upload("talk.mp4", title="Talk")

With ``site_id`` (and no API key) the client speaks JW's v2 API (:mod:`vidlift.platforms.v2`):
the same job loop, state and guarantees, parts of the file in flight.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from vidlift.client.api import ApiClient
from vidlift.client.source import SourceFile
from vidlift.client.throttle import Throttle
from vidlift.client.transport import Transport
from vidlift.client.uploader import SegmentSender
from vidlift.config import (
    DEFAULT_ENDPOINT,
    DEFAULT_V2_ENDPOINT,
    Credentials,
    Limits,
    UploadSettings,
)
from vidlift.errors import ConfigError, SourceChanged
from vidlift.jobs.job import (
    JobContext,
    JobLog,
    JobResult,
    JobStart,
    NullJobLog,
    ProgressCallback,
    run_job,
)
from vidlift.jobs.policy import RetryPolicy
from vidlift.jobs.upload_state import UploadState
from vidlift.platforms.base import Platform, UploadHandle
from vidlift.platforms.v1 import V1Platform
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.models import FinalAnswer
from vidlift.protocol.ranges import RangeSet

if TYPE_CHECKING:
    from vidlift.platforms.v2 import V2Settings

__all__ = ["Client", "UploadResult"]


@dataclass(frozen=True, slots=True)
class UploadResult:
    """A finished, verified upload."""

    path: Path
    video_key: str | None
    size_bytes: int
    md5: str | None
    final: FinalAnswer | None
    bytes_sent: int
    segments_sent: int
    failures: int
    ready: bool = False  # wait_ready: the platform has processed the video

    @classmethod
    def of(cls, path: Path, result: JobResult, *, ready: bool = False) -> UploadResult:
        stats = result.stats
        return cls(
            path,
            result.video_key,
            result.size_bytes,
            result.md5,
            result.final,
            stats.bytes_sent,
            stats.segments_sent,
            stats.failures,
            ready,
        )


def _default_transport(settings: UploadSettings) -> Transport:
    """The library's transport: one shared aiohttp session (imported only when needed:
    the CLI's one-file upload passes its own, lighter, transport)."""
    from vidlift.client.aiohttp_transport import AiohttpTransport

    return AiohttpTransport(timeouts=settings.timeouts, verify_tls=settings.verify_tls)


class Client:
    """Uploads files over one shared HTTP session. Use as an async context manager."""

    def __init__(
        self,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        api_key: str | None = None,
        api_secret: str | None = None,
        settings: UploadSettings | None = None,
        transport: Transport | None = None,
        bwlimit_bytes_per_s: int | None = None,
        site_id: str | None = None,
        parts_in_flight: int | None = None,
    ) -> None:
        """``site_id`` set: JW's v2 API (Bearer ``api_secret``, no key; ``endpoint`` left
        at v1's default means v2's), ``parts_in_flight`` parts of a file at once (None: the
        ``Limits`` default).

        ``settings.upload_method`` "s3" (v1): the file in one signed PUT, not resumable.

        Raises ConfigError for v2 without a secret or site id.
        """
        self.settings = settings or UploadSettings()
        self._transport = transport or _default_transport(self.settings)
        self._credentials = Credentials(api_key, api_secret) if api_key and api_secret else None
        self._endpoint = endpoint
        self._policy = RetryPolicy(self.settings.retry)
        throttle = Throttle(bwlimit_bytes_per_s) if bwlimit_bytes_per_s else None
        sender = SegmentSender(
            self._transport, throttle=throttle, zero_copy=self.settings.zero_copy
        )
        self._api = (
            ApiClient(
                self._transport,
                endpoint=endpoint,
                credentials=self._credentials,
                api_format=self.settings.api_format,
                timeout_s=self.settings.timeouts.api_s,
            )
            if self._credentials is not None
            else None
        )

        self._platform: Platform = V1Platform(
            self._api,
            sender,
            chunk_size_bytes=self.settings.chunk_size_bytes,
            api_format=self.settings.api_format,
            upload_method=self.settings.upload_method,
        )
        self._site_id = site_id
        if site_id is not None:
            if self.settings.upload_method != "multipart":
                raise ConfigError("--upload-method s3 is v1's (v2 picks parts or one PUT)")
            # Imported here: a v1 upload (the CLI's default) does not load the v2 stack.
            from vidlift.platforms.v2 import V2Platform

            self._endpoint = DEFAULT_V2_ENDPOINT if endpoint == DEFAULT_ENDPOINT else endpoint
            self._platform = V2Platform(
                self._transport,
                self._v2_settings(api_secret or "", parts_in_flight),
                throttle=throttle,
            )

    def _v2_settings(self, api_secret: str, parts_in_flight: int | None) -> V2Settings:
        from vidlift.platforms.v2 import V2Settings

        upload = self.settings
        return V2Settings(
            site_id=self._site_id or "",
            api_secret=api_secret,
            endpoint=self._endpoint,
            part_floor_bytes=upload.chunk_size_bytes,
            parts_in_flight=parts_in_flight or Limits().parts_in_flight,
            api_timeout_s=upload.timeouts.api_s,
            zero_copy=upload.zero_copy,
            verify_md5=upload.verify_md5,
        )

    def __repr__(self) -> str:
        if self._site_id is not None:
            return f"Client(endpoint={self._endpoint!r}, site_id={self._site_id!r})"
        key = self._credentials.api_key if self._credentials else None
        return f"Client(endpoint={self._endpoint!r}, api_key={key!r})"

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the shared HTTP session."""
        await self._transport.aclose()

    @property
    def api(self) -> ApiClient:
        """The signed API client. Raises ConfigError without credentials."""
        if self._api is None:
            raise ConfigError(
                "API credentials missing: pass api_key and api_secret (or set "
                "VIDLIFT_API_KEY and VIDLIFT_API_SECRET for the CLI)"
            )
        return self._api

    async def upload(
        self,
        path: Path | str,
        *,
        title: str | None = None,
        description: str = "",
        tags: tuple[str, ...] | list[str] = (),
        custom: Mapping[str, str] | None = None,
        date: datetime | None = None,
        link: str = "",
        on_progress: ProgressCallback | None = None,
        state: UploadState | None = None,
        wait_ready: bool = False,
    ) -> UploadResult:
        """Create a video through the API, upload the file, verify size and md5 (v2: each
        part's ETag and the size); ``wait_ready``: then until the platform processed it.

        ``state`` (optional) records the upload as it goes; after a cancel or a crash,
        pass it again (kept with ``to_json``/``from_json``) to continue the same upload:
        no second video, no byte sent twice.

        Raises SourceError before any request for a missing, unreadable or empty file
        (or one changed since ``state`` was recorded); ApiError, UploadError,
        VerificationError or ProcessingFailed (``wait_ready``) otherwise.
        """
        if self._site_id is None and self._api is None:
            _ = self.api  # raises ConfigError saying where the credentials go
        source = await SourceFile.inspect(path)
        metadata = VideoMetadata(
            title=title if title is not None else source.path.stem,
            description=description,
            tags=tuple(tags),
            date=date,
            link=link,
            custom=dict(custom or {}),
        )
        state = state if state is not None else UploadState()
        if not state.job_id:
            state.job_id = f"upload-{uuid.uuid4().hex}"
            state.source_identity = f"{source.size_bytes}:{source.identity}"
        elif state.source_identity != f"{source.size_bytes}:{source.identity}":
            held = f" (video {state.video_key} holds the old version)" if state.video_key else ""
            raise SourceChanged(
                source.name, f"the file changed since this upload started{held}: start a new upload"
            )
        spec = JobStart(
            state.job_id,
            source,
            metadata,
            marker=state.job_id,
            video_key=state.video_key,
            handle=state.handle,
            acked=state.acked_ranges,
            look_up_first=state.create_sent,
        )
        return await self._run(spec, True, on_progress, log=state, wait_ready=wait_ready)

    async def upload_to_url(
        self,
        path: Path | str,
        *,
        upload_url: str,
        session_id: str,
        video_key: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> UploadResult:
        """Protocol only: upload into a session obtained elsewhere (no API call unless
        credentials and ``video_key`` are given, for verification).

        Raises ConfigError at once for an ``upload_url`` that is not an http(s) URL.
        """
        _check_upload_url(upload_url)
        source = await SourceFile.inspect(path)
        handle = UploadHandle(video_key or "", session_id, upload_url)
        spec = JobStart(
            job_id=f"upload-{uuid.uuid4().hex}",
            source=source,
            metadata=VideoMetadata(title=source.path.stem),
            marker="",
            video_key=video_key,
            handle=handle,
            acked=RangeSet(),  # the session may hold anything: ask first
        )
        if self._site_id is not None:
            raise ConfigError("upload_to_url is v1's protocol-only upload; v2 has none")
        has_api = self._api is not None and video_key is not None
        return await self._run(spec, has_api, on_progress)

    async def _run(
        self,
        spec: JobStart,
        has_api: bool,
        on_progress: ProgressCallback | None,
        log: JobLog | None = None,
        wait_ready: bool = False,
    ) -> UploadResult:
        context = JobContext(
            platform=self._platform,
            policy=self._policy,
            log=log or NullJobLog(),
            piece_bytes=self.settings.piece_bytes,
            verify_md5=self.settings.verify_md5 and has_api,
            has_api=has_api,
            wait_ready=wait_ready,
        )
        result = await run_job(context, spec, on_progress=on_progress)
        return UploadResult.of(Path(spec.source.name), result, ready=wait_ready)


def _check_upload_url(url: str) -> None:
    """Refuse an upload URL no request can go to (never showing its query: a token)."""
    try:
        parts = urlsplit(url.strip())
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = urlsplit(""), False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        shown = url.split("?", 1)[0]
        raise ConfigError(
            f"upload URL {shown!r}: write the http:// or https:// URL the platform gave "
            "(with its host and a port from 1 to 65535)"
        )
