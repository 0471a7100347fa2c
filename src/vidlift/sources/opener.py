"""Opening a source by its reference: a local path, an ``http(s)://`` URL or an
``s3://bucket/key`` (sources layer).

:class:`SourceOpener` is the factory the job loop uses, one per process: it owns the
HTTP session (unless one is given, e.g. the transport's) and the S3 client (created on
the first ``s3://`` reference), and closes them. :func:`source_kind` says which kind a
reference is without touching it.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp

from vidlift.config import SourceSettings
from vidlift.errors import SourceChanged
from vidlift.sources.base import Source
from vidlift.sources.http import HttpSource, Notice
from vidlift.sources.s3 import S3Source, create_s3_client

__all__ = ["SourceKind", "SourceOpener", "source_kind"]


class SourceKind(StrEnum):
    """Where a source's bytes are."""

    FILE = "file"
    HTTP = "http"
    S3 = "s3"


def source_kind(ref: str | Path) -> SourceKind:
    """The kind of a reference: ``http(s)://`` and ``s3://`` URLs, else a file path."""
    if isinstance(ref, Path):
        return SourceKind.FILE
    scheme = urlsplit(ref).scheme.lower() if "://" in ref else ""
    if scheme in ("http", "https"):
        return SourceKind.HTTP
    return SourceKind.S3 if scheme == "s3" else SourceKind.FILE


class SourceOpener:
    """Opens sources by reference; ``async with`` it, or call :meth:`aclose`."""

    def __init__(
        self,
        settings: SourceSettings | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        on_notice: Notice | None = None,
    ) -> None:
        self.settings = settings or SourceSettings()
        self._session = session
        self._own_session = session is None
        self._on_notice = on_notice
        self._s3: Any = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session (if ours) and the S3 client."""
        await self._stack.aclose()
        self._s3 = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def open_source(
        self,
        ref: str | Path,
        *,
        expected_size: int | None = None,
        expected_identity: str | None = None,
    ) -> Source:
        """Inspect the source ``ref`` names; with ``expected_*`` (what the journal
        recorded when the job first read it), raise SourceChanged if it differs now.

        Raises SourceError (missing, refused, empty), SourceChanged, ConfigError (no
        aiobotocore, no AWS credentials) or a TransportError (worth retrying).
        """
        kind = source_kind(ref)
        source: Source
        if kind is SourceKind.HTTP:
            source = await HttpSource.inspect(
                str(ref),
                session=self._http_session(),
                settings=self.settings.http,
                on_notice=self._on_notice,
            )
        elif kind is SourceKind.S3:
            source = await S3Source.inspect(str(ref), client=await self._s3_client())
        else:
            source = await self._open_file(Path(ref))
        _check_expected(source, expected_size, expected_identity)
        return source

    async def _open_file(self, path: Path) -> Source:
        raise NotImplementedError(f"{path}: local files are opened by vidlift.sources.local")

    def _http_session(self) -> aiohttp.ClientSession:
        if self._session is None:  # created lazily, on the running loop
            timeouts = self.settings.http.timeouts
            self._session = aiohttp.ClientSession(
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=timeouts.connect_s, sock_read=timeouts.read_s
                ),
            )
        return self._session

    async def _s3_client(self) -> Any:
        if self._s3 is None:
            creator = await create_s3_client(self.settings.s3)
            self._s3 = await self._stack.enter_async_context(creator)
        return self._s3


def _check_expected(source: Source, size: int | None, identity: str | None) -> None:
    if size is not None and size != source.size_bytes:
        raise SourceChanged(
            source.name,
            f"the source changed since the job started (its size is {source.size_bytes} "
            f"bytes, not {size}): restore it, or give the new version its own row (a new "
            "`id`) in the manifest",
        )
    if identity is not None and identity != source.identity:
        raise SourceChanged(
            source.name,
            f"the source changed since the job started (its identity is "
            f"{source.identity!r}, not {identity!r}): restore it, or give the new version "
            "its own row (a new `id`) in the manifest",
        )
