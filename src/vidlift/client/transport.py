"""The transport seam (client layer): what everything above sends requests through.

Everything above talks to :class:`Transport`. Two implementations, each mapping its own
library's exceptions to vidlift's in one table, neither retrying nor following
redirects: :class:`~vidlift.client.aiohttp_transport.AiohttpTransport` (one shared
aiohttp session: batches, fleets, the library's default) and
:class:`~vidlift.client.h11_transport.H11Transport` (h11 over asyncio streams: a
one-file ``vidlift upload``, which would otherwise spend most of its CPU importing
aiohttp). This module imports neither library; ``AiohttpTransport``, ``EXCEPTION_MAP``
and ``map_exception`` are still importable from here (loaded on first use).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from vidlift.client.fileslice import FileSlice
from vidlift.errors import ConfigError

if TYPE_CHECKING:
    from vidlift.client.aiohttp_transport import EXCEPTION_MAP, AiohttpTransport, map_exception

__all__ = [
    "EXCEPTION_MAP",
    "MAX_ANSWER_BYTES",
    "AiohttpTransport",
    "HttpRequest",
    "HttpResponse",
    "Transport",
    "connect_failure",
    "map_exception",
    "redact_urls",
    "untrusted_certificate",
]

_AIOHTTP_NAMES = ("EXCEPTION_MAP", "AiohttpTransport", "map_exception")


def __getattr__(name: str) -> Any:
    """The aiohttp implementation's names, imported when first asked for."""
    if name in _AIOHTTP_NAMES:
        from vidlift.client import aiohttp_transport

        return getattr(aiohttp_transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_ANSWER_BYTES = 16 * 1024 * 1024

Body = bytes | AsyncIterable[bytes] | FileSlice | None

# A query string (``?`` up to a blank or a quote): signed API URLs carry the key, nonce
# and signature there, upload URLs their token. aiohttp puts the URL in some messages.
_QUERY = re.compile(r"\?[^\s'\"<>]*")


def redact_urls(text: str) -> str:
    """``text`` with every URL's query string replaced by ``?…``: an error message never
    carries a signature, nonce, key or token (they end up in journals and reports)."""
    return _QUERY.sub("?…", text)


def connect_failure(host: str, port: int | None, error: OSError) -> str:
    """``cannot connect to HOST:PORT (connection refused)``, or ``cannot resolve the host
    name HOST (...)``: the facts, worded the same by every transport."""
    if isinstance(error, socket.gaierror):
        reason = error.strerror or type(error).__name__
        return f"cannot resolve the host name {host} ({reason.lower()})"
    if error.errno and error.errno > 0:
        reason = os.strerror(error.errno)
    else:
        reason = error.strerror or str(error) or type(error).__name__
    where = f"{host}:{port}" if port else host
    return f"cannot connect to {where} ({reason[:1].lower()}{reason[1:]})"


def untrusted_certificate(host: str, port: int | None, detail: object) -> ConfigError:
    """The error for a certificate that does not verify: a settings problem that stops
    the batch, not a network failure to retry with every job."""
    return ConfigError(
        f"the TLS certificate of {host}:{port} is not trusted ({detail}); check the "
        "endpoint, or turn verification off with --insecure (unsafe)"
    )


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
