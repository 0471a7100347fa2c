"""The transport seam's aiohttp implementation (client layer).

:class:`AiohttpTransport` holds the one shared ``aiohttp.ClientSession`` of a batch and
maps aiohttp's exceptions to vidlift's through a single table, :data:`EXCEPTION_MAP`.
It never retries and never follows redirects. Importing aiohttp costs about 0.25 s of
CPU (its connector builds TLS contexts at import): a one-file ``vidlift upload`` uses
:class:`~vidlift.client.h11_transport.H11Transport` instead (benchmarks/startup.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import payload

from vidlift.client.fileslice import FileSlice, send_file_slice
from vidlift.client.transport import (
    MAX_ANSWER_BYTES,
    HttpRequest,
    HttpResponse,
    connect_failure,
    redact_urls,
    untrusted_certificate,
)
from vidlift.config import Timeouts
from vidlift.errors import (
    ConfigError,
    ConnectError,
    ConnectionDropped,
    RemoteProtocolError,
    RequestTimeout,
    TransportError,
    VidliftError,
)

__all__ = ["EXCEPTION_MAP", "AiohttpTransport", "FileSlicePayload", "map_exception"]

# Order matters: the first matching class wins (subclasses before their bases).
EXCEPTION_MAP: tuple[tuple[type[BaseException], type[VidliftError]], ...] = (
    # An untrusted certificate stays untrusted: a settings problem that stops the batch,
    # not a network failure to retry with every job.
    (aiohttp.ClientConnectorCertificateError, ConfigError),
    (aiohttp.ClientConnectorError, ConnectError),
    (aiohttp.ServerTimeoutError, RequestTimeout),
    (asyncio.TimeoutError, RequestTimeout),
    (aiohttp.ServerDisconnectedError, ConnectionDropped),
    (aiohttp.ClientPayloadError, ConnectionDropped),
    (aiohttp.ClientOSError, ConnectionDropped),
    (ConnectionError, ConnectionDropped),
    (aiohttp.ClientResponseError, RemoteProtocolError),
    (aiohttp.ClientError, TransportError),
)


def map_exception(exc: BaseException) -> VidliftError | None:
    """The vidlift error for an aiohttp/OS exception, or None if it is not ours to map.
    Its message never holds a query string (:func:`redact_urls`)."""
    for source, target in EXCEPTION_MAP:
        if isinstance(exc, source):
            if isinstance(exc, aiohttp.ClientConnectorCertificateError):
                return untrusted_certificate(exc.host, exc.port, exc.certificate_error)
            if isinstance(exc, aiohttp.ClientConnectorError):
                return target(connect_failure(exc.host, exc.port, exc.os_error))
            return target(redact_urls(str(exc)) or type(exc).__name__)
    return None


class FileSlicePayload(payload.Payload):
    """An aiohttp body that flushes the headers, then sendfile()s the slice."""

    def __init__(self, piece: FileSlice) -> None:
        super().__init__(piece, content_type="application/octet-stream")
        self._piece = piece
        self._size = piece.length

    async def write(self, writer: Any) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        writer.send_headers()
        await writer.drain()
        await send_file_slice(writer.transport, self._piece, writer.write)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a file body is not text")


async def _read_body(content: aiohttp.StreamReader) -> bytes:
    """The whole body, or its first MAX_ANSWER_BYTES + 1 bytes (the parsers refuse more).

    ``StreamReader.read(n)`` returns what has arrived so far, not n bytes: one call would
    cut an answer that comes in several pieces. A body cut short by the server raises
    ClientPayloadError here (mapped to ConnectionDropped).
    """
    body = bytearray()
    while len(body) <= MAX_ANSWER_BYTES:
        piece = await content.read(MAX_ANSWER_BYTES + 1 - len(body))
        if not piece:
            break
        body += piece
    return bytes(body)


class AiohttpTransport:
    """The one shared aiohttp session of a vidlift process."""

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        verify_tls: bool = True,
        connection_limit: int = 100,
    ) -> None:
        self._timeouts = timeouts or Timeouts()
        self._verify_tls = verify_tls
        self._limit = connection_limit
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily, on the running loop: no I/O in constructors.
        if self._session is None:
            # ssl=True verifies certificates; False (an explicit opt-out) does not.
            connector = aiohttp.TCPConnector(limit=self._limit, ssl=self._verify_tls)
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=self._timeouts.connect_s, sock_read=self._timeouts.read_s
                ),
            )
        return self._session

    async def send(self, request: HttpRequest, *, timeout_s: float | None = None) -> HttpResponse:
        """Send and read the answer (at most 16 MiB of it). Redirects are not followed."""
        session = self._get_session()
        data: object = request.form if request.form is not None else request.body
        if isinstance(data, FileSlice):
            data = FileSlicePayload(data)
        timeout = session.timeout
        if timeout_s is not None:
            timeout = aiohttp.ClientTimeout(
                total=timeout_s, connect=self._timeouts.connect_s, sock_read=self._timeouts.read_s
            )
        try:
            async with session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=data,
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                body = await _read_body(resp.content)
                headers = {k.lower(): v for k, v in resp.headers.items()}
                return HttpResponse(resp.status, headers, body)
        except Exception as exc:
            if isinstance(exc.__cause__, VidliftError):  # ours, wrapped by aiohttp (a body
                raise exc.__cause__ from exc  # whose file ended early): ours to raise
            mapped = map_exception(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        """Close the shared session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
