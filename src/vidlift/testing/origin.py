"""A local HTTP origin for tests: files served with Range, ETag and faults (testing layer,
public test kit).

``async with Origin() as origin:`` serves on ``127.0.0.1`` (an ephemeral port);
``origin.add("a.mp4", data)`` publishes bytes and ``origin.url("a.mp4")`` names them.
It answers like a CDN or an object store's public endpoint: ``GET`` and ``HEAD``; one
``Range: bytes=a-b`` / ``a-`` / ``-n`` per request (206 with ``Content-Range``, 416 beyond
the end); a strong ``ETag`` and a ``Last-Modified`` per version; ``If-Range`` (a
mismatch gets the whole file, 200). ``/redirect/<n>/<name>`` redirects ``n`` times before
the file. A query string is accepted and ignored (like a signature the origin checks).

Faults, per file, set with :meth:`Origin.fault` (each one a count of requests it hits, or
for ever), are what real origins do:

- ``status``: answer 404, 403, 410, 500, 503... instead of the file.
- ``drop_after_bytes``: send that many bytes of the body, then cut the connection.
- ``ignore_range``: answer every GET with the whole file (200), as some servers do.
- ``change_after_requests``: after that many requests to the file, it becomes a new
  version (other bytes, same size unless ``changed_data`` says otherwise; a new ETag).
- ``delay_s``: wait that long before the body (for read timeouts).
- ``validators``: False to send neither ETag nor Last-Modified.
- ``require_headers``: headers a request must carry (else 403), for private origins.
- ``require_query``: the query string a request must carry (else 403): a signed URL.

:attr:`Origin.requests` lists what was asked (path, Range header, status, body bytes
sent), never the query string or the headers' values.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from types import TracebackType
from urllib.parse import quote

from aiohttp import web

__all__ = ["Origin", "OriginFault", "OriginRequest"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_WRITE_BYTES = 64 * 1024


@dataclass(slots=True)
class OriginFault:
    """What goes wrong with one file; ``times`` requests are hit (None: all of them)."""

    status: int | None = None
    drop_after_bytes: int | None = None
    ignore_range: bool = False
    change_after_requests: int | None = None
    changed_data: bytes | None = None
    delay_s: float = 0.0
    validators: bool = True
    require_headers: Mapping[str, str] = field(default_factory=dict)
    require_query: str | None = None  # a signed URL: its query string or 403
    times: int | None = None


@dataclass(frozen=True, slots=True)
class OriginRequest:
    """One request as the origin saw it (no query string, no header values)."""

    method: str
    name: str
    range: str | None
    status: int
    body_bytes: int


@dataclass(slots=True)
class _File:
    data: bytes
    version: int = 1
    requests: int = 0
    mtime_s: float = 1_600_000_000.0
    _digest: str = ""

    @property
    def etag(self) -> str:
        if not self._digest:  # once per version: files may be big
            self._digest = hashlib.sha256(self.data).hexdigest()[:16]
        return f'"{self._digest}-v{self.version}"'

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime_s + self.version, usegmt=True)


class Origin:
    """The origin server (see the module docstring)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._files: dict[str, _File] = {}
        self._faults: dict[str, OriginFault] = {}
        self._runner: web.AppRunner | None = None
        self._served: dict[str, int] = {}
        self._waiters: list[tuple[str, int, asyncio.Event]] = []
        self.requests: list[OriginRequest] = []
        self.base_url = ""

    async def __aenter__(self) -> Origin:
        app = web.Application()
        app.router.add_route("*", "/redirect/{hops:\\d+}/{name:.+}", self._redirect)
        app.router.add_route("*", "/{name:.+}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = int(self._runner.addresses[0][1])
        self.base_url = f"http://{self._host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def add(self, name: str, data: bytes) -> str:
        """Publish ``data`` as ``name``; returns its URL."""
        self._files[name] = _File(data)
        return self.url(name)

    def url(self, name: str, *, query: str = "", redirects: int = 0) -> str:
        """The URL of ``name`` (after ``redirects`` redirects), with a query string."""
        quoted = quote(name)
        path = f"/redirect/{redirects}/{quoted}" if redirects else f"/{quoted}"
        return self.base_url + path + (f"?{query}" if query else "")

    def fault(self, name: str, fault: OriginFault | None) -> None:
        """Set (or with None, clear) the fault of ``name``."""
        if fault is None:
            self._faults.pop(name, None)
        else:
            self._faults[name] = fault

    def data(self, name: str) -> bytes:
        """The bytes ``name`` holds now (its current version)."""
        return self._files[name].data

    def body_bytes(self, name: str) -> int:
        """Body bytes sent for ``name`` so far (answers still being sent included)."""
        return self._served.get(name, 0)

    async def wait_served(self, name: str, at_least: int) -> None:
        """Return once ``at_least`` body bytes of ``name`` were sent."""
        if self.body_bytes(name) >= at_least:
            return
        event = asyncio.Event()
        self._waiters.append((name, at_least, event))
        await event.wait()

    def _count(self, name: str, sent: int) -> None:
        total = self._served[name] = self._served.get(name, 0) + sent
        for waiter in [w for w in self._waiters if w[0] == name and total >= w[1]]:
            self._waiters.remove(waiter)
            waiter[2].set()

    # ------------------------------------------------------------------------ handlers

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        hops, name = int(request.match_info["hops"]), request.match_info["name"]
        target = f"/redirect/{hops - 1}/{name}" if hops > 1 else f"/{name}"
        if request.query_string:
            target += "?" + request.query_string
        self._log(request, name, 302, 0)
        raise web.HTTPFound(target)

    def _active_fault(self, name: str) -> OriginFault:
        fault = self._faults.get(name)
        if fault is None:
            return OriginFault()
        if fault.times is not None:
            if fault.times <= 0:
                return OriginFault(validators=fault.validators)
            fault.times -= 1
        return fault

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        file = self._files.get(name)
        if file is None:
            return self._answer(request, name, web.Response(status=404))
        file.requests += 1
        self._maybe_change(file, self._faults.get(name))
        fault = self._active_fault(name)
        for header, value in fault.require_headers.items():
            if request.headers.get(header) != value:
                return self._answer(request, name, web.Response(status=403))
        if fault.require_query is not None and request.query_string != fault.require_query:
            return self._answer(request, name, web.Response(status=403))
        if fault.status is not None:
            return self._answer(request, name, web.Response(status=fault.status))
        headers = {"Accept-Ranges": "bytes", "Content-Type": "video/mp4"}
        if fault.validators:
            headers.update(ETag=file.etag, **{"Last-Modified": file.last_modified})
        start, end = 0, len(file.data) - 1
        status = 200
        wanted = self._wanted_range(request, file, fault)
        if isinstance(wanted, web.Response):
            return self._answer(request, name, wanted)
        if wanted is not None:
            start, end = wanted
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{len(file.data)}"
        return await self._send(request, name, file.data[start : end + 1], status, headers, fault)

    def _maybe_change(self, file: _File, fault: OriginFault | None) -> None:
        after = fault.change_after_requests if fault is not None else None
        if after is not None and file.requests == after + 1:
            assert fault is not None
            new = fault.changed_data
            if new is None:
                new = bytes(b ^ 0xFF for b in file.data)
            file.data, file.version, file._digest = new, file.version + 1, ""

    def _wanted_range(
        self, request: web.Request, file: _File, fault: OriginFault
    ) -> tuple[int, int] | web.Response | None:
        header = request.headers.get("Range")
        if header is None or fault.ignore_range:
            return None
        if_range = request.headers.get("If-Range")
        if if_range is not None and if_range not in (file.etag, file.last_modified):
            return None  # RFC 9110 13.1.5: a changed file is sent whole
        match = _RANGE.fullmatch(header.strip())
        size = len(file.data)
        if match is None or match.groups() == ("", ""):
            return None  # an unreadable Range is ignored
        first, last = match.groups()
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        if start >= size or end < start:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
        return start, end

    async def _send(
        self,
        request: web.Request,
        name: str,
        body: bytes,
        status: int,
        headers: dict[str, str],
        fault: OriginFault,
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        sent = 0
        limit = len(body) if fault.drop_after_bytes is None else fault.drop_after_bytes
        if request.method != "HEAD":
            while sent < min(limit, len(body)):
                piece = body[sent : min(sent + _WRITE_BYTES, limit)]
                await response.write(piece)
                sent += len(piece)
                self._count(name, len(piece))
            if sent < len(body):
                self._log(request, name, status, sent)
                assert request.transport is not None
                request.transport.abort()  # the drop: the client sees a short body
                return response
        await response.write_eof()
        self._log(request, name, status, sent)
        return response

    def _answer(self, request: web.Request, name: str, response: web.Response) -> web.Response:
        self._log(request, name, response.status, 0)
        return response

    def _log(self, request: web.Request, name: str, status: int, sent: int) -> None:
        self.requests.append(
            OriginRequest(request.method, name, request.headers.get("Range"), status, sent)
        )
