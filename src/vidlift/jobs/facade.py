"""``vidlift.Client``: the library's front door for single uploads (jobs layer).

async with vidlift.Client(endpoint=..., api_key=..., api_secret=...) as client:
    result = await client.upload("talk.mp4", title="Talk")
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from vidlift.client.api import ApiClient
from vidlift.client.source import SourceFile
from vidlift.client.throttle import Throttle
from vidlift.client.transport import AiohttpTransport, Transport
from vidlift.client.uploader import SegmentSender
from vidlift.config import DEFAULT_ENDPOINT, Credentials, UploadSettings
from vidlift.errors import ConfigError
from vidlift.jobs.creation import obtain_session
from vidlift.jobs.delivery import Delivery, DeliveryResult, Hooks, deliver_file
from vidlift.jobs.policy import RetryPolicy
from vidlift.jobs.transfer import ProgressCallback
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.models import FinalAnswer
from vidlift.protocol.ranges import RangeSet
from vidlift.protocol.session import UploadSession
from vidlift.protocol.urls import build_upload_url

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

    @classmethod
    def of(cls, path: Path, result: DeliveryResult) -> UploadResult:
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
        )


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
    ) -> None:
        self.settings = settings or UploadSettings()
        self._transport = transport or AiohttpTransport(
            timeouts=self.settings.timeouts, verify_tls=self.settings.verify_tls
        )
        self._credentials = Credentials(api_key, api_secret) if api_key and api_secret else None
        self._endpoint = endpoint
        self._policy = RetryPolicy(self.settings.retry)
        throttle = Throttle(bwlimit_bytes_per_s) if bwlimit_bytes_per_s else None
        self._sender = SegmentSender(
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

    def __repr__(self) -> str:
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
    ) -> UploadResult:
        """Create a video through the API, upload the file, verify size and md5.

        Raises SourceError before any request for a missing, unreadable or empty file;
        ApiError, UploadError or VerificationError otherwise.
        """
        api = self.api
        source = await SourceFile.inspect(path)
        metadata = VideoMetadata(
            title=title if title is not None else source.path.stem,
            description=description,
            tags=tuple(tags),
            date=date,
            link=link,
            custom=dict(custom or {}),
        )
        created = await obtain_session(
            api, metadata, marker=f"upload-{uuid.uuid4().hex}", policy=self._policy
        )
        delivery = Delivery(
            source=source,
            video_key=created.video_key,
            upload_url=build_upload_url(created.link, api_format=self.settings.api_format),
            session_id=created.session_id,
            session=UploadSession(source.size_bytes, self.settings.chunk_size_bytes),
        )
        return await self._deliver(delivery, api, on_progress)

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
        credentials and ``video_key`` are given, for verification)."""
        source = await SourceFile.inspect(path)
        delivery = Delivery(
            source=source,
            video_key=video_key,
            upload_url=upload_url,
            session_id=session_id,
            session=UploadSession.resume(
                source.size_bytes, self.settings.chunk_size_bytes, RangeSet()
            ),
        )
        return await self._deliver(delivery, self._api if video_key else None, on_progress)

    async def _deliver(
        self, delivery: Delivery, api: ApiClient | None, on_progress: ProgressCallback | None
    ) -> UploadResult:
        result = await deliver_file(
            delivery,
            sender=self._sender,
            api=api,
            policy=self._policy,
            piece_bytes=self.settings.piece_bytes,
            hooks=Hooks(on_progress=on_progress),
            verify_md5=self.settings.verify_md5,
        )
        return UploadResult.of(delivery.source.path, result)
