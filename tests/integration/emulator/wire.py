"""Hand-built requests for the emulator's tests: signing written here again (not the
emulator's, not vidlift's), segment requests with explicit headers, and raw HTTP/1.1 over
a socket for requests no HTTP library would send."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from vidlift.testing.emulator import Emulator

_nonces = itertools.count(10_000_000)


def sign(secret: str, params: dict[str, str]) -> dict[str, str]:
    """``params`` plus ``api_signature`` (JW v1: sorted, percent-encoded, sha1 + secret)."""
    base = "&".join(
        f"{quote(name, safe='~')}={quote(value, safe='~')}"
        for name, value in sorted(params.items())
    )
    return {**params, "api_signature": hashlib.sha1((base + secret).encode()).hexdigest()}


def signed(emu: Emulator, **params: str) -> dict[str, str]:
    """A complete signed parameter set for ``emu`` (fresh nonce, current time)."""
    full = {
        "api_key": emu.api_key,
        "api_nonce": f"{next(_nonces):09d}",
        "api_timestamp": str(int(time.time())),
        **params,
    }
    return sign(emu.api_secret, full)


async def call(
    http: aiohttp.ClientSession, emu: Emulator, name: str, **params: str
) -> tuple[int, dict[str, Any]]:
    """A signed GET of ``/v1/videos/<name>``; (status, JSON answer)."""
    async with http.get(f"{emu.endpoint}/v1/videos/{name}", params=signed(emu, **params)) as r:
        return r.status, await r.json()


@dataclass(frozen=True)
class Upload:
    """What create answered: where and under which session to send segments."""

    video_key: str
    url: str
    session_id: str
    upload_key: str


async def create(http: aiohttp.ClientSession, emu: Emulator, **params: str) -> Upload:
    """Create a video for a resumable upload."""
    status, doc = await call(http, emu, "create", upload_method="multipart", **params)
    assert status == 200, doc
    return upload_of(doc)


def on_port(up: Upload, port: int) -> Upload:
    """The same upload, sent to an emulator restarted on another port."""
    old_port = up.url.split(":")[2].split("/")[0]
    return Upload(
        up.video_key, up.url.replace(f":{old_port}/", f":{port}/"), up.session_id, up.upload_key
    )


def upload_of(doc: dict[str, Any]) -> Upload:
    link = doc["link"]
    media = doc["media"]
    assert isinstance(link, dict) and isinstance(media, dict)
    query = link["query"]
    url = f"{link['protocol']}://{link['address']}{link['path']}?key={query['key']}"
    return Upload(media["key"], url, str(doc["session_id"]), query["key"])


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> dict[str, Any]:
        result = json.loads(self.body)
        assert isinstance(result, dict)
        return result


def segment_headers(session_id: str, first: int, last: int, total: int) -> dict[str, str]:
    return {
        "X-Content-Range": f"bytes {first}-{last}/{total}",
        "X-Session-ID": session_id,
        "Content-Disposition": 'attachment; filename="video.mpeg"',
        "Content-Type": "application/octet-stream",
    }


async def send(
    http: aiohttp.ClientSession,
    upload: Upload,
    data: bytes,
    first: int,
    last: int,
    total: int | None = None,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
) -> Reply:
    """POST bytes ``first..last`` of ``data`` as one segment."""
    total = len(data) if total is None else total
    all_headers = segment_headers(upload.session_id, first, last, total) | (headers or {})
    body = data[first : last + 1]
    async with http.post(upload.url + query, data=body, headers=all_headers) as r:
        return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, await r.read())


async def raw(port: int, head: str, body: bytes = b"") -> Reply | None:
    """Send raw HTTP/1.1 bytes; the reply, or None when the server closed without one."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        try:
            await writer.drain()
            raw_head = await reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            return None
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        return Reply(status, headers, await reader.readexactly(length))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def raw_segment_head(
    upload: Upload,
    *,
    length: int | None,
    extra: str = "",
    omit: tuple[str, ...] = (),
    content_range: str | None = None,
) -> str:
    """The head of a raw segment request (lines joined with \\n; ``raw`` makes them CRLF)."""
    target = upload.url.split("//", 1)[1].split("/", 1)[1]
    fields = {
        "Host": "127.0.0.1",
        "Content-Disposition": 'attachment; filename="video.mpeg"',
        "Content-Type": "application/octet-stream",
        "X-Session-ID": upload.session_id,
        "X-Content-Range": content_range or "bytes 0-9/10",
    }
    if length is not None:
        fields["Content-Length"] = str(length)
    lines = [f"POST /{target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in fields.items() if name not in omit]
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"
