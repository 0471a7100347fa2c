"""The durable state of the emulator's v2 half: media, their uploads, received parts and
completed files (part of the public test kit, :mod:`vidlift.testing`).

Layout under ``data_dir/v2``::

    media/<media id>.json              one document per media: the media and its uploads
    uploads/<upload id>/<n>.part       the bytes of part n of an open multipart upload
    files/<media id>.bin               the completed file of a media

A document is replaced atomically before the answer that depends on it goes out; a part
file is written under a temporary name, fsynced and renamed (one rename commits it). The
part list is not in the document: at start every committed part file is hashed again.
Records are frozen; the store swaps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from vidlift.errors import ConfigError
from vidlift.testing.emulator.runtime import READ_BLOCK_BYTES
from vidlift.testing.emulator.store import Store, fsync_directory, write_atomically

__all__ = [
    "MediaRecord",
    "MediaStatus",
    "PartRecord",
    "UploadMethod",
    "UploadRecord",
    "UploadStatus",
    "V2Store",
]

_FORMAT_VERSION = 1


class MediaStatus(StrEnum):
    """What ``GET /v2/sites/{site}/media/{id}/`` reports."""

    CREATED = "created"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class UploadMethod(StrEnum):
    """``upload.method`` of a create or reupload call."""

    MULTIPART = "multipart"
    DIRECT = "direct"
    FETCH = "fetch"


class UploadStatus(StrEnum):
    """The life of one upload."""

    OPEN = "open"
    COMPLETE = "complete"
    SUPERSEDED = "superseded"  # a reupload issued a new upload for the media


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """One upload of a media. ``token`` is the multipart upload token ("" for direct)."""

    upload_id: str
    media_id: str
    method: UploadMethod
    token: str = field(repr=False)
    status: UploadStatus
    created_at: float


@dataclass(frozen=True, slots=True)
class MediaRecord:
    """A media as the emulator's platform knows it. ``status`` is the stored status; a
    completed media reads as ready/failed once ``processing_s`` passed (see
    :meth:`V2Store.status_of`). ``fails`` is decided at completion."""

    media_id: str
    metadata: dict[str, Any]
    status: MediaStatus
    upload_id: str
    created_at: float
    updated_at: float
    completed_at: float | None = None
    size: int | None = None
    md5: str | None = None
    error_message: str | None = None

    @property
    def external_id(self) -> str | None:
        """The metadata's external_id, if any."""
        value = self.metadata.get("external_id")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class PartRecord:
    """A received part: its size and md5 (hex)."""

    size: int
    md5: str


class V2Store:
    """v2 media and uploads in memory, mirrored durably under ``data_dir/v2``."""

    def __init__(self, store: Store) -> None:
        self._io = store  # its thread pool and fsync setting
        self.root = store.data_dir / "v2"
        self._media: dict[str, MediaRecord] = {}
        self._uploads: dict[str, UploadRecord] = {}
        self._parts: dict[str, dict[int, PartRecord]] = {}
        self._by_external: dict[str, dict[str, None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.completing: set[str] = set()  # uploads being assembled (in memory only)
        for sub in ("media", "uploads", "files"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def fsync(self) -> bool:
        """Whether writes are fsynced before answering."""
        return self._io.fsync

    async def run(self, fn: Any, *args: Any) -> Any:
        """Run blocking ``fn(*args)`` in the store's thread pool."""
        return await self._io.run(fn, *args)

    # ----------------------------------------------------------------- paths

    def part_path(self, upload_id: str, number: int) -> Path:
        """Where part ``number`` of an upload lives once committed."""
        return self.root / "uploads" / upload_id / f"{number}.part"

    def file_path(self, media_id: str) -> Path:
        """Where the completed file of a media lives."""
        return self.root / "files" / f"{media_id}.bin"

    # ----------------------------------------------------------------- reads

    def media(self, media_id: str) -> MediaRecord | None:
        """The media with ``media_id``, if any."""
        return self._media.get(media_id)

    def all_media(self) -> list[MediaRecord]:
        """Every media, in creation order."""
        return list(self._media.values())

    def with_external_id(self, external_id: str) -> list[MediaRecord]:
        """Media whose metadata.external_id is ``external_id``, in creation order."""
        ids = self._by_external.get(external_id, {})
        return sorted((self._media[i] for i in ids), key=lambda m: (m.created_at, m.media_id))

    def upload(self, upload_id: str) -> UploadRecord | None:
        """The upload with ``upload_id``, if any."""
        return self._uploads.get(upload_id)

    def parts(self, upload_id: str) -> dict[int, PartRecord]:
        """The committed parts of an upload, by number (a copy)."""
        return dict(self._parts.get(upload_id, {}))

    def has_id(self, candidate: str) -> bool:
        """True when ``candidate`` is already a media id or upload id."""
        return candidate in self._media or candidate in self._uploads

    @staticmethod
    def status_of(media: MediaRecord, now: float, processing_s: float) -> MediaStatus:
        """The status a reader sees at ``now``: processing ends ``processing_s`` after the
        upload completed, as ready, or failed when an error was decided at completion."""
        done = media.completed_at
        if (
            media.status is MediaStatus.PROCESSING
            and done is not None
            and now >= done + processing_s
        ):
            return MediaStatus.FAILED if media.error_message else MediaStatus.READY
        return media.status

    # ----------------------------------------------------------------- writes

    def put(self, media: MediaRecord | None = None, *uploads: UploadRecord) -> None:
        """Replace records in memory (call :meth:`save` before answering)."""
        if media is not None:
            old = self._media.get(media.media_id)
            if old is not None and old.external_id is not None:
                self._by_external.get(old.external_id, {}).pop(old.media_id, None)
            self._media[media.media_id] = media
            if media.external_id is not None:
                self._by_external.setdefault(media.external_id, {})[media.media_id] = None
        for upload in uploads:
            self._uploads[upload.upload_id] = upload

    def note_part(self, upload_id: str, number: int, part: PartRecord) -> None:
        """Record a committed part (its file was renamed into place)."""
        self._parts.setdefault(upload_id, {})[number] = part

    def forget_parts(self, upload_id: str) -> None:
        """Forget the parts of a completed or superseded upload."""
        self._parts.pop(upload_id, None)

    async def save(self, media_id: str) -> None:
        """Durably write the media's document as it is in memory now (newest wins)."""
        lock = self._locks.setdefault(media_id, asyncio.Lock())
        async with lock:
            document = self._document(media_id)
            await self.run(self._write_document, media_id, document)

    def _document(self, media_id: str) -> dict[str, Any]:
        uploads = [_fields(u) for u in self._uploads.values() if u.media_id == media_id]
        return {
            "format": _FORMAT_VERSION,
            "media": _fields(self._media[media_id]),
            "uploads": uploads,
        }

    def _write_document(self, media_id: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, separators=(",", ":")).encode("utf-8")
        write_atomically(self.root / "media" / f"{media_id}.json", data, fsync=self.fsync)

    async def drop_parts(self, upload_id: str) -> None:
        """Delete the part files of an upload (after completion or when superseded)."""
        self.forget_parts(upload_id)
        await self.run(shutil.rmtree, self.root / "uploads" / upload_id, True)

    def commit_file(self, temp: Path, media_id: str) -> None:
        """Move an assembled file into place (blocking: run in the pool)."""
        os.replace(temp, self.file_path(media_id))
        if self.fsync:
            fsync_directory(self.file_path(media_id).parent)

    # ----------------------------------------------------------------- loading

    def load(self) -> None:
        """Read every media document and hash the committed parts (blocking, at start)."""
        documents = []
        for path in (self.root / "media").glob("*.json"):
            try:
                documents.append(json.loads(path.read_bytes()))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{path}: unreadable emulator state: {exc}") from exc
        documents.sort(key=lambda d: (d["media"]["created_at"], d["media"]["media_id"]))
        for document in documents:
            raw = dict(document["media"])
            raw["status"] = MediaStatus(raw["status"])
            uploads = [_upload_from(u) for u in document["uploads"]]
            self.put(MediaRecord(**raw), *uploads)
            for upload in uploads:
                self._load_parts(upload)

    def _load_parts(self, upload: UploadRecord) -> None:
        directory = self.root / "uploads" / upload.upload_id
        if upload.status is not UploadStatus.OPEN:
            shutil.rmtree(directory, ignore_errors=True)  # a completion cut short by a crash
            return
        if not directory.is_dir():
            return
        for path in directory.glob("*.part"):
            if path.stem.isdigit():
                self.note_part(upload.upload_id, int(path.stem), hash_file(path))


def hash_file(path: Path) -> PartRecord:
    """Size and md5 of a file (blocking)."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(READ_BLOCK_BYTES):
            digest.update(block)
            size += len(block)
    return PartRecord(size=size, md5=digest.hexdigest())


def unlink_quietly(path: Path) -> None:
    """Delete ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _fields(record: MediaRecord | UploadRecord) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _upload_from(raw: dict[str, Any]) -> UploadRecord:
    raw = dict(raw)
    raw["method"] = UploadMethod(raw["method"])
    raw["status"] = UploadStatus(raw["status"])
    return UploadRecord(**raw)
