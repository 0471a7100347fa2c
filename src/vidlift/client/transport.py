"""The transport seam and its aiohttp implementation (client layer).

Everything above talks to :class:`Transport`. :class:`AiohttpTransport` holds the one
shared ``aiohttp.ClientSession`` and maps aiohttp's exceptions to vidlift's through a
single table, :data:`EXCEPTION_MAP`. It never retries and never follows redirects.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from vidlift.client.fileslice import FileSlice, FileSlicePayload
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

__all__ = [
    "EXCEPTION_MAP",
    "AiohttpTransport",
    "HttpRequest",
    "HttpResponse",
    "Transport",
    "map_exception",
    "redact_urls",
]

MAX_ANSWER_BYTES = 16 * 1024 * 1024

Body = bytes | AsyncIterable[bytes] | FileSlice | None

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


# A query string (``?`` up to a blank or a quote): signed API URLs carry the key, nonce
# and signature there, upload URLs their token. aiohttp puts the URL in some messages.
_QUERY = re.compile(r"\?[^\s'\"<>]*")


def redact_urls(text: str) -> str:
    """``text`` with every URL's query string replaced by ``?…``: an error message never
    carries a signature, nonce, key or token (they end up in journals and reports)."""
    return _QUERY.sub("?…", text)


def map_exception(exc: BaseException) -> VidliftError | None:
    """The vidlift error for an aiohttp/OS exception, or None if it is not ours to map.
    Its message never holds a query string (:func:`redact_urls`)."""
    for source, target in EXCEPTION_MAP:
        if isinstance(exc, source):
            detail = redact_urls(str(exc)) or type(exc).__name__
            if isinstance(exc, aiohttp.ClientConnectorCertificateError):
                detail = (
                    f"the TLS certificate of {exc.host}:{exc.port} is not trusted "
                    f"({exc.certificate_error}); check the endpoint, or turn verification "
                    "off with --insecure (unsafe)"
                )
            elif isinstance(exc, aiohttp.ClientConnectorError):
                detail = connect_failure(exc.host, exc.port, exc.os_error)
            return target(detail)
    return None


def connect_failure(host: str, port: int | None, error: OSError) -> str:
    """``cannot connect to HOST:PORT (connection refused)``, or ``cannot resolve the host
    name HOST (...)``: the facts, without aiohttp's ``ssl:default [...]`` wording."""
    if isinstance(error, socket.gaierror):
        reason = error.strerror or type(error).__name__
        return f"cannot resolve the host name {host} ({reason.lower()})"
    if error.errno and error.errno > 0:
        reason = os.strerror(error.errno)
    else:
        reason = error.strerror or type(error).__name__
    where = f"{host}:{port}" if port else host
    return f"cannot connect to {where} ({reason[:1].lower()}{reason[1:]})"


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


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request. A body may stream (async iterable) when Content-Length is set."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Body = None
    form: Mapping[str, str | list[str]] | None = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete answer. Header names are lower case."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """Sends requests; raises only :class:`vidlift.errors.TransportError` subclasses
    (and RemoteProtocolError for unreadable HTTP, ConfigError for an untrusted TLS
    certificate)."""

    async def send(self, request: HttpRequest, *, timeout_s: float | None = None) -> HttpResponse:
        """Send one request and read its whole answer."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


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
            mapped = map_exception(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        """Close the shared session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
