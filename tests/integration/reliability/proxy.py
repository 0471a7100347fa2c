"""A tampering proxy in front of the emulator: it forwards each request (or not) and may
replace the answer, so that one file of a real batch meets a bad server answer while the
others go through untouched.

The emulator is started with ``public_url`` = the proxy, so the upload links it hands out
point at the proxy too.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan

SECRET = "reliability-proxy-secret-3b8e"
_PASSED_HEADERS = ("content-type", "range", "location", "retry-after")
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_FILENAME = re.compile(r'filename="([^"]*)"')


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to send back (header names lower case)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


DROP = Reply(-1)  # close the connection without any answer


@dataclass(slots=True)
class Call:
    """One request that reached the proxy."""

    method: str
    path_qs: str
    headers: Mapping[str, str]  # names lower case
    body: bytes
    upstream: str
    http: aiohttp.ClientSession

    @property
    def is_segment(self) -> bool:
        return self.path_qs.startswith("/v1/videos/upload/")

    @property
    def route(self) -> str:
        return self.path_qs.split("?", 1)[0].removeprefix("/v1/")

    @property
    def filename(self) -> str:
        match = _FILENAME.search(self.headers.get("content-disposition", ""))
        return match.group(1) if match else ""

    @property
    def byte_range(self) -> tuple[int, int, int]:
        """(first, last, total) of a segment's X-Content-Range."""
        match = _RANGE.fullmatch(self.headers.get("x-content-range", ""))
        assert match is not None, self.headers
        first, last, total = (int(g) for g in match.groups())
        return first, last, total

    @property
    def is_final_segment(self) -> bool:
        _, last, total = self.byte_range
        return last == total - 1

    def params(self) -> dict[str, str]:
        """API parameters from the query string and a form body."""
        query = self.path_qs.partition("?")[2]
        found = dict(parse_qsl(query, keep_blank_values=True))
        if "x-www-form-urlencoded" in self.headers.get("content-type", ""):
            found.update(parse_qsl(self.body.decode(), keep_blank_values=True))
        return found

    async def forward(self, *, body: bytes | None = None) -> Reply:
        """Send the request (or another ``body`` of the same length) on to the emulator and
        return its answer."""
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
        }
        async with self.http.request(
            self.method,
            self.upstream + self.path_qs,
            headers=headers,
            data=self.body if body is None else body,
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            kept = {k.lower(): v for k, v in resp.headers.items() if k.lower() in _PASSED_HEADERS}
            return Reply(resp.status, body, kept)


Hook = Callable[[Call], Awaitable[Reply]]


async def passthrough(call: Call) -> Reply:
    return await call.forward()


@dataclass(slots=True)
class TamperProxy:
    """The running proxy and its emulator. ``hook`` decides every answer."""

    emulator: Emulator
    endpoint: str
    hook: Hook = passthrough
    calls: list[Call] = field(default_factory=list)

    def segments_of(self, filename: str) -> list[Call]:
        return [c for c in self.calls if c.is_segment and c.filename == filename]


@asynccontextmanager
async def tamper_proxy(
    tmp_path: Path, faults: FaultPlan | None = None, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[TamperProxy]:
    """An emulator behind a tampering proxy (pass-through until ``hook`` is set); with
    ``ssl_context`` the proxy speaks HTTPS (the emulator itself only plain HTTP)."""
    holder: list[TamperProxy] = []
    async with aiohttp.ClientSession() as http:

        async def handle(request: web.Request) -> web.StreamResponse:
            proxy = holder[0]
            call = Call(
                request.method,
                request.path_qs,
                {k.lower(): v for k, v in request.headers.items()},
                await request.read(),
                proxy.emulator.endpoint,
                http,
            )
            proxy.calls.append(call)
            reply = await proxy.hook(call)
            if reply is DROP:
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=499)  # never sent
            response = web.Response(status=reply.status, body=reply.body)
            for name, value in reply.headers.items():
                response.headers[name] = value
            return response

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = runner.addresses[0][1]
        endpoint = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
        config = EmulatorConfig(
            data_dir=tmp_path / "emu",
            api_secret=SECRET,
            public_url=endpoint,
            faults=faults or FaultPlan(),
        )
        try:
            async with Emulator(config) as emulator:
                holder.append(TamperProxy(emulator, endpoint))
                yield holder[0]
        finally:
            await runner.cleanup()
