"""``MockTransport``: scripted answers and failures, no sockets (testing layer).

Like httpx's MockTransport: give it a handler that receives each
:class:`~vidlift.client.transport.HttpRequest` (its body already read into bytes) and
returns an :class:`~vidlift.client.transport.HttpResponse` or raises a
:class:`~vidlift.errors.TransportError` (a lost answer, a refused connection). Every
request is recorded in :attr:`MockTransport.requests`.

    def handler(request: SentRequest) -> HttpResponse:
        return HttpResponse(201, {"range": "0-99/1000"}, b"0-99/1000")

    transport = MockTransport(handler)
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from vidlift.client.fileslice import FileSlice
from vidlift.client.transport import HttpRequest, HttpResponse

__all__ = ["Handler", "MockTransport", "SentRequest", "json_response"]


@dataclass(frozen=True, slots=True)
class SentRequest:
    """A request as the mock saw it: the body read whole, the URL split."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    form: Mapping[str, str | list[str]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The URL's path."""
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        """The URL's query parameters (the last value of each)."""
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        """A header, by case-insensitive name."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


Handler = Callable[[SentRequest], HttpResponse | Awaitable[HttpResponse]]


def json_response(
    status: int, document: object, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """An answer with a JSON body."""
    import json

    body = json.dumps(document).encode()
    return HttpResponse(status, {"content-type": "application/json", **(headers or {})}, body)


async def _read_body(request: HttpRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, FileSlice):  # a zero-copy body: read the bytes it names
        data = os.pread(body.fd, body.length, body.offset)
        if body.on_sent is not None:
            body.on_sent(len(data))
        return data
    pieces = [piece async for piece in body]
    return b"".join(pieces)


class MockTransport:
    """A :class:`~vidlift.client.transport.Transport` that answers from a handler."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[SentRequest] = []
        self.closed = False

    async def send(self, request: HttpRequest, *, timeout_s: float | None = None) -> HttpResponse:
        """Read the body, record the request, and return (or raise) the handler's answer."""
        sent = SentRequest(
            request.method,
            request.url,
            dict(request.headers),
            await _read_body(request),
            dict(request.form or {}),
        )
        self.requests.append(sent)
        answer = self._handler(sent)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer

    async def aclose(self) -> None:
        """Nothing to release."""
        self.closed = True
