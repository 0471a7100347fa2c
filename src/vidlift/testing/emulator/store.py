"""The emulator's durable state: videos, upload sessions and their received ranges, and the
files on disk under the data directory (part of the public test kit, :mod:`vidlift.testing`).

Layout of ``data_dir``::

    videos/<video key>.json   one document per video: the video and all its sessions
    parts/<session id>.part   bytes of an upload in progress, written at their offsets
    media/<video key>.bin     the completed file of a video

A document is replaced atomically (write a temp file, fsync, ``os.replace``, fsync the
directory) before the answer that depends on it goes out. Blocking file work runs in the
store's thread pool, never on the event loop. Records are frozen; the store swaps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from vidlift.errors import ConfigError
from vidlift.testing.emulator.ranges import ByteRange

__all__ = ["SessionRecord", "SessionStatus", "Store", "VideoRecord", "VideoStatus"]

_T = TypeVar("_T")
_FORMAT_VERSION = 1


class VideoStatus(StrEnum):
    """What ``/videos/show`` reports (../shared/PROTOCOL.md lists the platform's values)."""

    CREATED = "created"
    UPDATING = "updating"
    PROCESSING = "processing"  # only as read, within v1_processing_s of completion
    READY = "ready"
    FAILED = "failed"  # processing failed (a fault): ``error_message`` says why


class SessionStatus(StrEnum):
    """The life of one upload session."""

    RECEIVING = "receiving"
    COMPLETE = "complete"
    SUPERSEDED = "superseded"  # a later /videos/update issued a new session


_PROCESSED = frozenset({VideoStatus.READY, VideoStatus.FAILED})


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """A video as the emulator's platform knows it. ``size``/``md5``/``sha256`` describe the
    last completed file (None before the first completes, and checksums in discard mode
    when they could not be computed)."""

    key: str
    title: str
    description: str
    tags: str
    custom: dict[str, str]
    status: VideoStatus
    size: int | None
    md5: str | None
    sha256: str | None
    session_id: str
    created_at: float
    date: int | None = None
    link: str = ""
    updated_at: float = 0.0
    completed_at: float | None = None
    error_message: str | None = None

    def status_at(self, now: float, processing_s: float) -> VideoStatus:
        """What videos/show reports at ``now``: processing for ``processing_s`` after the
        file completed, then the stored status (ready, or failed)."""
        done = self.completed_at
        if done is not None and now < done + processing_s and self.status in _PROCESSED:
            return VideoStatus.PROCESSING
        return self.status


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One upload session: issued by create/update, filled by segments."""

    session_id: str
    video_key: str
    upload_key: str
    status: SessionStatus
    total: int | None
    ranges: tuple[ByteRange, ...]
    created_at: float


@dataclass(slots=True)
class _SaveSlot:
    """Serializes the writes of one video's document."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Store:
    """Videos and sessions in memory, mirrored durably to ``data_dir``."""

    def __init__(self, data_dir: Path, *, fsync: bool = True, workers: int = 16) -> None:
        self.data_dir = data_dir
        self.fsync = fsync
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emulator-io")
        self._videos: dict[str, VideoRecord] = {}
        self._sessions: dict[str, SessionRecord] = {}
        self._by_video: dict[str, list[str]] = {}
        self._upload_keys: set[str] = set()
        self._by_custom: dict[tuple[str, str], dict[str, None]] = {}
        self._save_slots: dict[str, _SaveSlot] = {}
        for sub in ("videos", "parts", "media"):
            (data_dir / sub).mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------- thread pool

    def submit(self, fn: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        """Start blocking ``fn(*args)`` in the store's thread pool."""
        return asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run blocking ``fn(*args)`` in the store's thread pool."""
        return await self.submit(fn, *args)

    def close(self) -> None:
        """Finish pending file work and stop the thread pool."""
        self._pool.shutdown(wait=True)

    # ----------------------------------------------------------------- paths

    def part_path(self, session_id: str) -> Path:
        """Where the bytes of an upload in progress go (named by the session id only)."""
        return self.data_dir / "parts" / f"{session_id}.part"

    def media_path(self, video_key: str) -> Path:
        """Where the completed file of a video lives."""
        return self.data_dir / "media" / f"{video_key}.bin"

    # ----------------------------------------------------------------- reads

    def videos(self) -> list[VideoRecord]:
        """Every video, in creation order."""
        return list(self._videos.values())

    def video(self, key: str) -> VideoRecord | None:
        """The video with ``key``, if any."""
        return self._videos.get(key)

    def videos_with_custom(self, name: str, value: str) -> list[VideoRecord]:
        """Videos whose custom parameter ``name`` is ``value``, in creation order (indexed:
        a client may look every job up before creating it)."""
        keys = self._by_custom.get((name, value), {})
        return sorted((self._videos[k] for k in keys), key=lambda v: (v.created_at, v.key))

    def _index_custom(self, old: VideoRecord | None, new: VideoRecord) -> None:
        if old is not None:
            for pair in old.custom.items():
                self._by_custom.get(pair, {}).pop(old.key, None)
        for pair in new.custom.items():
            self._by_custom.setdefault(pair, {})[new.key] = None

    def session(self, session_id: str) -> SessionRecord | None:
        """The session with ``session_id``, if any."""
        return self._sessions.get(session_id)

    def has_key(self, key: str) -> bool:
        """True when ``key`` is already a video key, session id or upload key."""
        return key in self._videos or key in self._sessions or key in self._upload_keys

    # ----------------------------------------------------------------- writes

    def put(self, video: VideoRecord | None = None, *sessions: SessionRecord) -> None:
        """Replace records in memory (call :meth:`save` before answering)."""
        if video is not None:
            self._index_custom(self._videos.get(video.key), video)
            self._videos[video.key] = video
        for session in sessions:
            self._sessions[session.session_id] = session
            self._upload_keys.add(session.upload_key)
            owned = self._by_video.setdefault(session.video_key, [])
            if session.session_id not in owned:
                owned.append(session.session_id)

    async def save(self, video_key: str) -> None:
        """Durably write the video's document as it is in memory now."""
        slot = self._save_slots.get(video_key)
        if slot is None:
            slot = self._save_slots[video_key] = _SaveSlot()
        slot.users += 1
        try:
            async with slot.lock:
                document = self._document(video_key)  # snapshot under the lock: newest wins
                await self.run(self._write_document, video_key, document)
        finally:
            slot.users -= 1
            if slot.users == 0:  # no lock kept per idle video (100,000s of them)
                del self._save_slots[video_key]

    def _document(self, video_key: str) -> dict[str, Any]:
        sessions = [_fields(self._sessions[sid]) for sid in self._by_video.get(video_key, [])]
        return {
            "format": _FORMAT_VERSION,
            "video": _fields(self._videos[video_key]),
            "sessions": sessions,
        }

    def _write_document(self, video_key: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, separators=(",", ":")).encode("utf-8")
        write_atomically(self.data_dir / "videos" / f"{video_key}.json", data, fsync=self.fsync)

    async def finish_file(self, session_id: str, video_key: str, *, size: int, keep: bool) -> None:
        """Move a completed upload's bytes to the video's media file (or drop them)."""
        await self.run(self._finish_file, session_id, video_key, size, keep)

    def _finish_file(self, session_id: str, video_key: str, size: int, keep: bool) -> None:
        part = self.part_path(session_id)
        if keep:
            with part.open("ab") as handle:  # exactly ``size`` bytes: never a stray tail
                if handle.tell() != size:
                    handle.truncate(size)
                    if self.fsync:
                        os.fsync(handle.fileno())
            os.replace(part, self.media_path(video_key))
            if self.fsync:
                fsync_directory(part.parent)
                fsync_directory(self.media_path(video_key).parent)
        else:
            _unlink_quietly(part)

    async def drop_part(self, session_id: str) -> None:
        """Delete the bytes of an abandoned upload, if any."""
        await self.run(_unlink_quietly, self.part_path(session_id))

    # ----------------------------------------------------------------- loading

    def load(self) -> None:
        """Read every video document (blocking: call through :meth:`run` or at start)."""
        documents = []
        for path in (self.data_dir / "videos").glob("*.json"):
            try:
                documents.append(json.loads(path.read_bytes()))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{path}: unreadable emulator state: {exc}") from exc
        documents.sort(key=lambda d: (d["video"]["created_at"], d["video"]["key"]))
        for document in documents:
            video = _video_from(document["video"])
            sessions = [_session_from(raw) for raw in document["sessions"]]
            self.put(video, *sessions)
            self._repair(video, sessions)

    def _repair(self, video: VideoRecord, sessions: list[SessionRecord]) -> None:
        """Finish a completion that a crash interrupted between saving and moving the file."""
        for session in sessions:
            part = self.part_path(session.session_id)
            if session.status is SessionStatus.COMPLETE and part.exists():
                if video.session_id == session.session_id:
                    os.replace(part, self.media_path(video.key))
                else:
                    part.unlink()


def _fields(record: VideoRecord | SessionRecord) -> dict[str, Any]:
    """A record as a plain dict, shallow: records are replaced, never changed in place, so
    their values (tuples, a custom dict) can be serialized later in a worker thread.
    (``dataclasses.asdict`` deep-copies every value: a fifth of the emulator's CPU.)"""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _video_from(raw: dict[str, Any]) -> VideoRecord:
    raw = dict(raw)
    raw["status"] = VideoStatus(raw["status"])
    raw["custom"] = {str(k): str(v) for k, v in raw["custom"].items()}
    return VideoRecord(**raw)


def _session_from(raw: dict[str, Any]) -> SessionRecord:
    raw = dict(raw)
    raw["status"] = SessionStatus(raw["status"])
    raw["ranges"] = tuple((int(lo), int(hi)) for lo, hi in raw["ranges"])
    return SessionRecord(**raw)


def write_atomically(path: Path, data: bytes, *, fsync: bool) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old or the new file, whole."""
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as handle:
        handle.write(data)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temp, path)
    if fsync:
        fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new name in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
