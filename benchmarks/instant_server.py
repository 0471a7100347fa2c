"""An instant-answer stand-in for the platform, for the scale benchmark only.

Not the emulator: it checks no signature, keeps no bytes and no state but each video's
size, and assumes segments arrive in order (vidlift sends a file's segments in order).
It answers create, show and list at once and discards segment bodies, so that what is
measured is vidlift's own scheduling, journal and memory, not the server's work. Minimal
HTTP/1.1 with keep-alive on asyncio streams; prints ``listening on http://HOST:PORT``.

    python benchmarks/instant_server.py
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re

_RANGE = re.compile(rb"bytes (\d+)-(\d+)/(\d+)")
_LIMIT = {"reset": 2000000000, "limit": 1000000, "remaining": 1000000}


class Platform:
    """The few facts the answers need: a counter and the size of each video."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.numbers = itertools.count(1)
        self.sizes: dict[str, int] = {}

    def create(self) -> dict[str, object]:
        number = next(self.numbers)
        key = f"V{number:07d}"
        link = {
            "protocol": "http",
            "address": f"127.0.0.1:{self.port}",
            "path": "/v1/videos/upload/resumable",
            "query": {"key": f"U{number:07d}"},
        }
        return {
            "status": "ok",
            "media": {"type": "video", "key": key},
            "link": link,
            "session_id": f"S{key}",
            "rate_limit": _LIMIT,
        }

    def show(self, key: str) -> dict[str, object]:
        size = self.sizes.get(key, 0)
        video = {"key": key, "title": key, "status": "ready", "size": str(size), "md5": None}
        return {"status": "ok", "video": video, "rate_limit": _LIMIT}

    def segment(self, headers: dict[bytes, bytes]) -> tuple[int, bytes, dict[str, str]]:
        match = _RANGE.fullmatch(headers.get(b"x-content-range", b"").strip())
        if match is None:
            return 400, b"bad range", {}
        end, total = int(match[2]), int(match[3])
        key = headers.get(b"x-session-id", b"S").decode()[1:]
        if end + 1 < total:
            text = f"0-{end}/{total}"
            return 201, text.encode(), {"Range": text}
        self.sizes[key] = total
        answer = {"status": "ok", "media": {"type": "video", "key": key}, "file": {"size": total}}
        return 200, json.dumps(answer).encode(), {"Content-Type": "application/json"}


def _answer(
    platform: Platform, target: bytes, form: bytes, headers: dict[bytes, bytes]
) -> tuple[int, bytes, dict[str, str]]:
    path, _, query = target.partition(b"?")
    if path.endswith(b"/upload/resumable"):
        return platform.segment(headers)
    if path.endswith(b"/create"):
        document = platform.create()
    elif path.endswith(b"/show"):
        found = re.search(rb"video_key=([A-Za-z0-9]+)", query + b"&" + form)
        document = platform.show(found[1].decode() if found else "")
    else:  # list: nothing to find (vidlift looks a job up only after a crash)
        document = {"status": "ok", "videos": [], "total": 0, "limit": 50, "offset": 0}
    return 200, json.dumps(document).encode(), {"Content-Type": "application/json"}


async def _read_body(reader: asyncio.StreamReader, length: int, keep: bool) -> bytes:
    if keep:
        return await reader.readexactly(length)
    while length > 0:  # a segment: read and drop
        piece = await reader.read(min(length, 1 << 20))
        if not piece:
            raise ConnectionError("the client went away")
        length -= len(piece)
    return b""


async def _serve(
    platform: Platform, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            target = lines[0].split(b" ")[1]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
            form = await _read_body(reader, length, b"/upload/" not in target)
            status, body, extra = _answer(platform, target, form, headers)
            head_out = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
            head_out += "".join(f"{k}: {v}\r\n" for k, v in extra.items()) + "\r\n"
            writer.write(head_out.encode() + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    """Serve on a free port until killed."""
    platform = Platform(0)
    server = await asyncio.start_server(
        lambda r, w: _serve(platform, r, w), "127.0.0.1", 0, limit=1 << 20
    )
    platform.port = server.sockets[0].getsockname()[1]
    print(f"vidlift emulator listening on http://127.0.0.1:{platform.port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
