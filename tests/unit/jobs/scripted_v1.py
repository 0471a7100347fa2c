"""A scripted v1 platform for unit tests of the job loop: MockTransport, no sockets.

Keeps videos and upload sessions in dicts, answers the API calls the loop makes and
the resumable upload protocol (201 with ranges, 200 with the final answer). Faults are
queued per route and consumed one per matching request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from vidlift.client.api import ApiClient
from vidlift.client.transport import HttpResponse
from vidlift.client.uploader import SegmentSender
from vidlift.config import Credentials
from vidlift.errors import ConnectError, ConnectionDropped
from vidlift.platforms.v1 import V1Platform
from vidlift.testing.transport import MockTransport, SentRequest, json_response

ENDPOINT = "http://api.test"
Fault = Callable[[SentRequest], HttpResponse | None]

_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def drop(request: SentRequest) -> HttpResponse:
    """The answer is lost: the request may have acted."""
    raise ConnectionDropped("connection closed without an answer")


def refuse_connect(request: SentRequest) -> HttpResponse:
    """Nothing was sent."""
    raise ConnectError("connection refused")


def status(code: int, body: bytes = b"") -> Fault:
    """Answer ``code`` with ``body`` instead of handling the request."""
    return lambda request: HttpResponse(code, {}, body)


@dataclass
class Video:
    key: str
    custom: dict[str, str]
    data: bytearray = field(default_factory=bytearray)
    status: str = "created"


@dataclass
class Session:
    video_key: str
    total: int | None = None
    ranges: list[tuple[int, int]] = field(default_factory=list)


class ScriptedV1:
    """The v1 API and upload server, in memory."""

    def __init__(self) -> None:
        self.videos: dict[str, Video] = {}
        self.sessions: dict[str, Session] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.calls: list[str] = []
        self.transport = MockTransport(self.handle)
        self._counter = 0

    def fail(self, route: str, *faults: Fault) -> None:
        """Queue faults for ``route`` (``videos/create``, ``upload``, ...)."""
        self.faults.setdefault(route, []).extend(faults)

    def platform(self, chunk_size_bytes: int = 100) -> V1Platform:
        api = ApiClient(self.transport, endpoint=ENDPOINT, credentials=Credentials("k", "s"))
        return V1Platform(api, SegmentSender(self.transport), chunk_size_bytes=chunk_size_bytes)

    def _next(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:06d}"

    def handle(self, request: SentRequest) -> HttpResponse:
        route = "upload" if request.path == "/upload" else request.path.removeprefix("/v1/")
        self.calls.append(route)
        queued = self.faults.get(route)
        if queued:
            answer = queued.pop(0)(request)
            if answer is not None:
                return answer
        params = {**request.query, **{k: str(v) for k, v in request.form.items()}}
        if route == "upload":
            return self._segment(request)
        if route == "videos/create":
            custom = {k[7:]: v for k, v in params.items() if k.startswith("custom.")}
            key = self._next("V")
            self.videos[key] = Video(key, custom)
            return self._session_answer(key)
        if route == "videos/update":
            if params["video_key"] not in self.videos:
                return json_response(404, {"status": "error", "code": "NotFound", "message": "x"})
            return self._session_answer(params["video_key"])
        if route == "videos/show":
            video = self.videos.get(params["video_key"])
            if video is None:
                return json_response(404, {"status": "error", "code": "NotFound", "message": "x"})
            return json_response(200, {"status": "ok", "video": self._info(video)})
        if route == "videos/list":
            wanted = params.get("search:custom.vidlift_job_id")
            found = [
                self._info(v)
                for v in self.videos.values()
                if v.custom.get("vidlift_job_id") == wanted
            ]
            return json_response(200, {"status": "ok", "videos": found, "total": len(found)})
        return json_response(404, {"status": "error", "code": "NotFound", "message": route})

    def _info(self, video: Video) -> dict[str, object]:
        done = video.status != "created"
        return {
            "key": video.key,
            "status": video.status,
            "size": len(video.data) if done else None,
            "md5": hashlib.md5(video.data).hexdigest() if done else None,
            "custom": video.custom,
        }

    def _session_answer(self, key: str) -> HttpResponse:
        session_id = self._next("S")
        self.sessions[session_id] = Session(key)
        link = {
            "protocol": "http",
            "address": "upload.test",
            "path": "/upload",
            "query": {"key": key, "token": "tok"},
        }
        return json_response(
            200, {"status": "ok", "media": {"key": key}, "link": link, "session_id": session_id}
        )

    def _segment(self, request: SentRequest) -> HttpResponse:
        session = self.sessions.get(request.header("X-Session-ID") or "")
        if session is None:
            return HttpResponse(404, {}, b"no such session")
        match = _RANGE.fullmatch(request.header("X-Content-Range") or "")
        assert match is not None, request.headers
        start, end, total = (int(g) for g in match.groups())
        video = self.videos[session.video_key]
        if len(video.data) < total:
            video.data.extend(bytes(total - len(video.data)))
        video.data[start : end + 1] = request.body
        session.total = total
        session.ranges = _merge([*session.ranges, (start, end)])
        if session.ranges == [(0, total - 1)]:
            del self.sessions[request.header("X-Session-ID") or ""]
            video.status = "ready"
            final = {"status": "ok", "video": {"key": video.key, "size": total}}
            return json_response(200, final)
        text = ",".join(f"{a}-{b}/{total}" for a, b in session.ranges)
        return HttpResponse(201, {"range": text}, text.encode())


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
