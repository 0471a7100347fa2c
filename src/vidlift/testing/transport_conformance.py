"""The conformance suite every :class:`~vidlift.client.transport.Transport` must pass
(testing kit), and the server it runs against.

:class:`ConformanceServer` is a small HTTP/1.1 server on loopback written on raw asyncio
streams (its own parsing and formatting, not either client library's), with routes for
what servers do to clients: answer, redirect, close after answering, cut an answer
short, answer garbage, answer late, answer more than 16 MiB, refuse a body unread. Each
check is an async function taking a fresh transport and a running server; it raises
AssertionError when the transport breaks the contract::

    @pytest.mark.anyio
    @pytest.mark.parametrize("check", TRANSPORT_CHECKS, ids=check_id)
    async def test_conformance(check, transport, server):
        await check(transport, server)

No pytest import here: the checks are plain coroutines, usable by any runner.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qs

from vidlift.client.fileslice import FileSlice
from vidlift.client.transport import MAX_ANSWER_BYTES, HttpRequest, Transport
from vidlift.errors import (
    ConnectError,
    ConnectionDropped,
    RemoteProtocolError,
    RequestTimeout,
    VidliftError,
)

__all__ = ["TRANSPORT_CHECKS", "ConformanceServer", "ReceivedRequest", "TransportCheck", "check_id"]

SECRET = "s3cr3t-signature-never-shown"


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """What the server read: header names lower case."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # the number of the TCP connection it came on (1, 2, ...)


@dataclass(slots=True)
class ConformanceServer:
    """``async with ConformanceServer() as server:`` serves on 127.0.0.1 (any port)."""

    requests: list[ReceivedRequest] = field(default_factory=list)
    connections: int = 0
    _server: asyncio.Server | None = None
    _port: int = 0
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str) -> str:
        """The URL of ``path`` (with its query, if any) on this server."""
        return f"http://127.0.0.1:{self._port}{path}"

    async def __aenter__(self) -> ConformanceServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            for handler in self._handlers:  # connections still open (a /slow answer)
                handler.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            while await self._one(reader, writer, number):
                pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client went away, or sent what this server does not parse
        finally:
            writer.close()
            self._handlers.discard(handler)

    async def _one(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
    ) -> bool:
        """Serve one request; False when the connection is to be closed."""
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        path = target.partition("?")[0]
        if path == "/refuse":  # answer without reading the body, then close
            writer.write(_answer(413, b"too large", close=True))
            await writer.drain()
            return False
        body = await _read_body(reader, headers)
        self.requests.append(ReceivedRequest(method, target, headers, body, number))
        return await _route(path, method, target, headers, body, writer)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += await reader.readexactly(size)
            await reader.readexactly(2)
            if size == 0:
                return bytes(body)
    return await reader.readexactly(int(headers.get("content-length", "0")))


def _answer(status: int, body: bytes, *, close: bool = False, extra: tuple[str, ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} Answer", f"Content-Length: {len(body)}", *extra]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _route(
    path: str,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    writer: asyncio.StreamWriter,
) -> bool:
    keep = True
    if path == "/echo":
        seen = {"method": method, "target": target, "headers": headers, "length": len(body)}
        seen["md5"] = hashlib.md5(body).hexdigest()
        writer.write(_answer(200, json.dumps(seen).encode(), extra=("X-Echo: Yes",)))
    elif path == "/redirect":
        writer.write(_answer(303, b"see other", extra=("Location: /echo",)))
    elif path == "/close":
        writer.write(_answer(200, b"bye", close=True))
        keep = False
    elif path == "/cut":  # promises 1000 bytes, sends 10, closes
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        keep = False
    elif path == "/garbage":
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        keep = False
    elif path == "/slow":
        await asyncio.sleep(3600)  # until the client gives up and the server closes
    elif path == "/big":
        writer.write(_answer(200, b"b" * (MAX_ANSWER_BYTES + 1024)))
    else:
        writer.write(_answer(404, b"no such route"))
    await writer.drain()
    return keep


TransportCheck = Callable[[Transport, ConformanceServer], Awaitable[None]]


def check_id(check: TransportCheck) -> str:
    """A readable test id for a check."""
    return getattr(check, "__name__", repr(check)).removeprefix("check_")


def _echoed(body: bytes) -> dict[str, object]:
    seen: dict[str, object] = json.loads(body)
    return seen


async def check_get(transport: Transport, server: ConformanceServer) -> None:
    """A GET with a query and a header: the status, lower-case header names, the body."""
    request = HttpRequest("GET", server.url("/echo?a=1&b=two"), {"X-Custom": "v"})
    response = await transport.send(request)
    assert response.status == 200 and response.headers["x-echo"] == "Yes"
    seen = _echoed(response.body)
    assert seen["method"] == "GET" and seen["target"] == "/echo?a=1&b=two"
    headers = seen["headers"]
    assert isinstance(headers, dict) and headers["x-custom"] == "v"
    assert headers["host"] == server.url("").removeprefix("http://")


async def check_form(transport: Transport, server: ConformanceServer) -> None:
    """A form is sent url-encoded, a list as the same name repeated."""
    form: dict[str, str | list[str]] = {"title": "a b&c", "tags": ["x", "y"]}
    response = await transport.send(HttpRequest("POST", server.url("/echo"), form=form))
    assert response.status == 200
    received = server.requests[-1]
    assert received.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(received.body.decode()) == {"title": ["a b&c"], "tags": ["x", "y"]}


async def check_bytes_body(transport: Transport, server: ConformanceServer) -> None:
    """A body of bytes arrives whole, with its Content-Length; given headers are kept."""
    data = os.urandom(300_000)
    headers = {"Content-Type": "video/mp4", "X-Session-ID": "42"}
    response = await transport.send(HttpRequest("POST", server.url("/echo"), headers, data))
    assert response.status == 200
    received = server.requests[-1]
    assert received.body == data and received.headers["content-length"] == str(len(data))
    assert received.headers["content-type"] == "video/mp4"
    assert received.headers["x-session-id"] == "42"


async def check_empty_post(transport: Transport, server: ConformanceServer) -> None:
    """A POST without a body says Content-Length: 0 (servers wait for a body otherwise)."""
    response = await transport.send(HttpRequest("POST", server.url("/echo")))
    assert response.status == 200 and server.requests[-1].body == b""
    assert server.requests[-1].headers.get("content-length") == "0"


async def check_streamed_body(transport: Transport, server: ConformanceServer) -> None:
    """An async iterable body with a Content-Length arrives whole."""
    pieces = [os.urandom(50_000) for _ in range(5)]

    async def stream() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    headers = {"Content-Length": str(sum(map(len, pieces)))}
    response = await transport.send(HttpRequest("PUT", server.url("/echo"), headers, stream()))
    assert response.status == 200 and server.requests[-1].body == b"".join(pieces)


async def check_file_slice(transport: Transport, server: ConformanceServer) -> None:
    """A FileSlice sends exactly its bytes of the file (sendfile), and says how many."""
    data = os.urandom(400_000)
    sent: list[int] = []
    with tempfile.TemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        piece = FileSlice(handle.fileno(), 1000, 300_000, on_sent=sent.append)
        response = await transport.send(HttpRequest("POST", server.url("/echo"), body=piece))
    assert response.status == 200
    assert server.requests[-1].body == data[1000:301_000] and sent == [300_000]


async def check_short_file_slice(transport: Transport, server: ConformanceServer) -> None:
    """A file shorter than its slice: ConnectionDropped, and the transport still works."""
    with tempfile.TemporaryFile() as handle:
        handle.write(b"z" * 1000)
        handle.flush()
        piece = FileSlice(handle.fileno(), 0, 5000)
        try:
            await transport.send(HttpRequest("POST", server.url("/echo"), body=piece))
        except ConnectionDropped:
            pass
        else:
            raise AssertionError("a short file slice was sent as if whole")
    assert (await transport.send(HttpRequest("GET", server.url("/echo")))).status == 200


async def check_keeps_connections_alive(transport: Transport, server: ConformanceServer) -> None:
    """Requests one after another reuse one connection."""
    for _ in range(3):
        assert (await transport.send(HttpRequest("GET", server.url("/echo")))).status == 200
    assert server.connections == 1, server.connections


async def check_server_closing(transport: Transport, server: ConformanceServer) -> None:
    """An answer with Connection: close, then another request: a new connection."""
    assert (await transport.send(HttpRequest("GET", server.url("/close")))).body == b"bye"
    assert (await transport.send(HttpRequest("GET", server.url("/echo")))).status == 200
    assert server.connections == 2, server.connections


async def check_no_redirect_followed(transport: Transport, server: ConformanceServer) -> None:
    """A 303 is returned as it is, never followed."""
    response = await transport.send(HttpRequest("POST", server.url("/redirect"), body=b"x"))
    assert response.status == 303 and response.headers["location"] == "/echo"
    assert [r.target for r in server.requests] == ["/redirect"]


async def check_answer_cut_short(transport: Transport, server: ConformanceServer) -> None:
    """An answer cut by the server's close: ConnectionDropped."""
    await _expect(transport, server.url("/cut"), ConnectionDropped)


async def check_garbage_answer(transport: Transport, server: ConformanceServer) -> None:
    """An answer that is not HTTP: RemoteProtocolError."""
    await _expect(transport, server.url("/garbage"), RemoteProtocolError)


async def check_timeout(transport: Transport, server: ConformanceServer) -> None:
    """No answer within ``timeout_s``: RequestTimeout."""
    try:
        await transport.send(HttpRequest("GET", server.url("/slow")), timeout_s=0.2)
    except RequestTimeout:
        return
    raise AssertionError("no RequestTimeout")


async def check_refused_connection(transport: Transport, server: ConformanceServer) -> None:
    """Nothing listening: ConnectError naming the address and the reason, in the words
    every transport uses, and no query string."""
    free = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = free.sockets[0].getsockname()[1]
    free.close()
    await free.wait_closed()
    url = f"http://127.0.0.1:{port}/x?signature={SECRET}"
    try:
        await transport.send(HttpRequest("GET", url))
    except ConnectError as exc:
        assert str(exc) == f"cannot connect to 127.0.0.1:{port} (connection refused)", exc
        assert SECRET not in repr(exc)
        return
    raise AssertionError("no ConnectError")


async def check_big_answer(transport: Transport, server: ConformanceServer) -> None:
    """An answer over 16 MiB is read up to one byte more (the parsers refuse it)."""
    response = await transport.send(HttpRequest("GET", server.url("/big")))
    assert response.status == 200 and len(response.body) == MAX_ANSWER_BYTES + 1


async def check_refusal_before_the_body(transport: Transport, server: ConformanceServer) -> None:
    """A server that answers 413 and closes without reading a big body: the answer, or
    ConnectionDropped (when the close resets the connection first), never a hang."""
    try:
        response = await transport.send(
            HttpRequest("POST", server.url("/refuse"), body=b"r" * 1_000_000)
        )
    except ConnectionDropped:
        return
    assert response.status == 413


async def _expect(transport: Transport, url: str, error: type[VidliftError]) -> None:
    try:
        await transport.send(HttpRequest("GET", url))
    except error:
        return
    raise AssertionError(f"no {error.__name__}")


TRANSPORT_CHECKS: tuple[TransportCheck, ...] = (
    check_get,
    check_form,
    check_bytes_body,
    check_empty_post,
    check_streamed_body,
    check_file_slice,
    check_short_file_slice,
    check_keeps_connections_alive,
    check_server_closing,
    check_no_redirect_followed,
    check_answer_cut_short,
    check_garbage_answer,
    check_timeout,
    check_refused_connection,
    check_big_answer,
    check_refusal_before_the_body,
)
