"""The transport seam over h11 and asyncio streams: a one-file upload's (client layer).

A process that uploads one file and exits (``vidlift upload``, scripted once per file)
pays its imports on every run: aiohttp costs about 0.25 s of CPU to import, more than
the rest of the upload stack, and builds TLS contexts even for plain HTTP. h11 is a pure
HTTP/1.1 state machine (bytes in, events out) that imports in milliseconds; this module
drives it over ``asyncio`` streams. A TLS context is made on the first ``https://``
connection only.

Same contract as :class:`~vidlift.client.aiohttp_transport.AiohttpTransport`: redirects
are not followed, nothing is retried, answers are read up to 16 MiB, a :class:`FileSlice`
body goes out with ``loop.sendfile`` (zero-copy on plain HTTP), and the exceptions of
the socket, TLS and h11 are mapped to vidlift's in one table, :data:`EXCEPTION_MAP`.
Connections are kept alive and reused, one request at a time each; requests sent at
once (v2 parts in flight) each take an idle connection or open one.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import SplitResult, urlencode, urlsplit

import h11

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
    VidliftError,
)

__all__ = ["EXCEPTION_MAP", "H11Transport", "map_exception"]

READ_BYTES = 64 * 1024  # one read from the socket
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# Order matters: the first matching class wins (subclasses before their bases). Failures
# to connect and untrusted certificates are raised as vidlift errors where they happen.
EXCEPTION_MAP: tuple[tuple[type[BaseException], type[VidliftError]], ...] = (
    (h11.RemoteProtocolError, RemoteProtocolError),  # the server broke HTTP/1.1
    (TimeoutError, RequestTimeout),
    (ConnectionError, ConnectionDropped),
    (OSError, ConnectionDropped),  # ssl.SSLError included
)


def map_exception(exc: BaseException) -> VidliftError | None:
    """The vidlift error for a socket, TLS or h11 exception, or None if it is not ours to
    map (a bug). Its message never holds a query string."""
    for source, target in EXCEPTION_MAP:
        if isinstance(exc, source):
            return target(redact_urls(str(exc)) or type(exc).__name__)
    return None


class _Length:
    """A body placeholder of ``n`` bytes: h11 counts it against Content-Length while the
    kernel sends the bytes (h11's documented way to use sendfile)."""

    def __init__(self, n: int) -> None:
        self._n = n

    def __len__(self) -> int:
        return self._n


@dataclass(slots=True, eq=False)  # eq=False: hashed by identity, kept in a set
class _Connection:
    """One TCP (or TLS) connection and its HTTP/1.1 state."""

    key: tuple[str, str, int]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    http: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    eof: bool = False

    def reusable(self) -> bool:
        """True when idle, and the server has not closed it meanwhile."""
        return (
            self.http.our_state is h11.IDLE
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        self.writer.close()


def _target(url: SplitResult) -> str:
    return (url.path or "/") + (f"?{url.query}" if url.query else "")


def _frame(request: HttpRequest, url: SplitResult) -> tuple[list[tuple[str, str]], object]:
    """The request's headers (the caller's, then Host, framing and a content type where
    the caller set none) and its body."""
    body: object = request.body
    given = {name.lower() for name in request.headers}
    added: list[tuple[str, str]] = [
        ("Host", url.netloc.rpartition("@")[2]),
        ("User-Agent", "vidlift"),
        ("Accept", "*/*"),
    ]
    if request.form is not None:
        body = urlencode(list(request.form.items()), doseq=True).encode()
        added.append(("Content-Type", "application/x-www-form-urlencoded"))
    if isinstance(body, bytes | FileSlice):
        length = body.length if isinstance(body, FileSlice) else len(body)
        added.append(("Content-Length", str(length)))
    elif body is not None and "content-length" not in given:
        added.append(("Transfer-Encoding", "chunked"))
    elif body is None and request.method.upper() not in _NO_BODY_METHODS:
        added.append(("Content-Length", "0"))
    if body is not None:
        added.append(("Content-Type", "application/octet-stream"))
    headers = list(request.headers.items())
    for name, value in added:
        if name.lower() not in given:
            headers.append((name, value))
            given.add(name.lower())
    return headers, body


class H11Transport:
    """HTTP/1.1 with h11 over asyncio streams; keep-alive connections per host."""

    def __init__(self, *, timeouts: Timeouts | None = None, verify_tls: bool = True) -> None:
        self._timeouts = timeouts or Timeouts()
        self._verify_tls = verify_tls
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def send(self, request: HttpRequest, *, timeout_s: float | None = None) -> HttpResponse:
        """Send and read the answer (at most 16 MiB of it). Redirects are not followed."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._exchange(request)
        except VidliftError:
            raise
        except Exception as exc:
            mapped = map_exception(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        """Close every connection."""
        connections, self._open, self._idle = self._open, set(), {}
        for connection in connections:
            connection.close()
        for connection in connections:
            with suppress(OSError):  # already reset: closed all the same
                await connection.writer.wait_closed()

    async def _exchange(self, request: HttpRequest) -> HttpResponse:
        url = urlsplit(request.url)
        headers, body = _frame(request, url)
        connection = await self._connection(url)
        try:
            event = h11.Request(method=request.method, target=_target(url), headers=headers)
            # The server may have answered and closed before taking the whole body (a
            # refusal): read what it said, or fail as a dropped connection. A request not
            # sent whole leaves the connection unusable: it is closed afterwards. (Any
            # other failure, such as the file's, is raised: no answer would come.)
            with suppress(ConnectionError):
                await self._write(connection, event, body)
            response = await self._read(connection)
        except BaseException:
            self._discard(connection)
            raise
        self._release(connection)
        return response

    async def _connection(self, url: SplitResult) -> _Connection:
        scheme, host = url.scheme.lower(), url.hostname or ""
        if scheme not in _DEFAULT_PORTS or not host:
            raise ConfigError(f"not an http(s) URL: {redact_urls(url.geturl())}")
        key = (scheme, host, url.port or _DEFAULT_PORTS[scheme])
        idle = self._idle.get(key, [])
        while idle:
            connection = idle.pop()
            if connection.reusable():
                return connection
            self._discard(connection)
        return await self._connect(key)

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        scheme, host, port = key
        tls = self._tls_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(self._timeouts.connect_s):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=host if tls else None, limit=READ_BYTES
                )
        except ssl.SSLCertVerificationError as exc:
            raise untrusted_certificate(host, port, exc) from exc  # as aiohttp words it
        except TimeoutError as exc:
            raise RequestTimeout(
                f"connecting to {host}:{port} timed out after {self._timeouts.connect_s:g} s"
            ) from exc
        except OSError as exc:
            raise ConnectError(connect_failure(host, port, exc)) from exc
        connection = _Connection(key, reader, writer)
        self._open.add(connection)
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            context = ssl.create_default_context()
            if not self._verify_tls:  # an explicit opt-out (--insecure)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls = context
        return self._tls

    async def _write(self, connection: _Connection, event: h11.Request, body: object) -> None:
        http, writer = connection.http, connection.writer
        writer.write(http.send(event) or b"")
        if isinstance(body, bytes):
            writer.write(http.send(h11.Data(data=body)) or b"")
        elif isinstance(body, FileSlice):
            await writer.drain()
            # h11 counts the placeholder's length; the kernel sends the bytes.
            http.send_with_data_passthrough(h11.Data(data=cast(bytes, _Length(body.length))))

            async def write(data: bytes) -> None:
                writer.write(data)
                await writer.drain()

            await send_file_slice(writer.transport, body, write)
        elif isinstance(body, AsyncIterable):
            async for piece in body:
                writer.write(http.send(h11.Data(data=piece)) or b"")
                await writer.drain()
        writer.write(http.send(h11.EndOfMessage()) or b"")
        await writer.drain()

    async def _read(self, connection: _Connection) -> HttpResponse:
        http, reader = connection.http, connection.reader
        status, headers, body = 0, dict[str, str](), bytearray()
        while True:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError as exc:
                if connection.eof:  # h11's complaint about a message cut by the close
                    raise ConnectionDropped("the server closed the connection mid-answer") from exc
                raise
            if event is h11.NEED_DATA:
                async with asyncio.timeout(self._timeouts.read_s):
                    data = await reader.read(READ_BYTES)
                connection.eof = not data
                http.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_ANSWER_BYTES:  # the parsers refuse it: read no more
                    return HttpResponse(status, headers, bytes(body[: MAX_ANSWER_BYTES + 1]))
            elif isinstance(event, h11.EndOfMessage):
                return HttpResponse(status, headers, bytes(body))
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionDropped("the server closed the connection before answering")
            # h11.InformationalResponse (100 Continue): the real answer follows

    def _release(self, connection: _Connection) -> None:
        http = connection.http
        if http.our_state is h11.DONE and http.their_state is h11.DONE:
            http.start_next_cycle()
            self._idle.setdefault(connection.key, []).append(connection)
        else:
            self._discard(connection)

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)
