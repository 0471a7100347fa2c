"""Files over 4 GiB: offsets past 2**32 in the ranges, the headers, the bytes read from
disk and the journal. A sparse 5 GiB file stands in for a real one; a scripted transport
plays the upload server (uploading 5 GiB to the emulator would take minutes)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from vidlift import SqliteJournal
from vidlift.client.fileslice import FileSlice
from vidlift.client.source import SourceFile
from vidlift.client.transport import HttpRequest, HttpResponse
from vidlift.client.uploader import SegmentSender
from vidlift.jobs.ingest import ingest_manifest
from vidlift.platforms.base import UploadHandle
from vidlift.platforms.v1 import V1Platform
from vidlift.protocol.ranges import RangeSet

pytestmark = pytest.mark.anyio

GiB = 1024**3
TOTAL = 5 * GiB  # 5368709120
FOUR_GIB = 4 * GiB  # 4294967296: the first offset a 32-bit integer cannot hold
CHUNK = 64 * 1024
HEAD_MARKER = b"<<marker at 4 GiB>>"
TAIL_MARKER = b"<<the last 20 bytes>>"[-20:]
SESSION = "bigSession0123456789abcdefghijklmnopqrst"


def sparse_file(path: Path) -> Path:
    with path.open("wb") as handle:
        handle.truncate(TOTAL)
        handle.seek(FOUR_GIB)
        handle.write(HEAD_MARKER)
        handle.seek(TOTAL - len(TAIL_MARKER))
        handle.write(TAIL_MARKER)
    return path


@dataclass
class Sent:
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Answers segment requests from a script and records what it was sent."""

    def __init__(self, answers: list[HttpResponse]) -> None:
        self.answers = answers
        self.sent: list[Sent] = []

    async def send(self, request: HttpRequest, *, timeout_s: float | None = None) -> HttpResponse:
        body = b""
        if isinstance(request.body, bytes):
            body = request.body
        elif isinstance(request.body, FileSlice):  # zero-copy body: read what it names
            part = request.body
            body = os.pread(part.fd, part.length, part.offset)
            if part.on_sent is not None:
                part.on_sent(len(body))
        elif request.body is not None:
            async for piece in request.body:
                body += piece
        self.sent.append(Sent(dict(request.headers), body))
        return self.answers.pop(0)

    async def aclose(self) -> None:
        return None


def partial(ranges: str) -> HttpResponse:
    return HttpResponse(201, {"range": ranges}, ranges.encode())


async def test_segments_past_4_gib_have_exact_ranges_lengths_and_bytes(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "huge.mov")
    source = await SourceFile.inspect(path)
    assert source.size_bytes == TOTAL
    final = {"status": "ok", "media": {"type": "video", "key": "Big12345"}, "file": {"size": TOTAL}}
    server = ScriptedServer(
        [
            partial(f"0-{FOUR_GIB - 1}/{TOTAL}"),  # the probe: the first 4 GiB are there
            partial(f"0-{TOTAL - 21}/{TOTAL}"),  # then all but the last 20 bytes
            HttpResponse(200, {"content-type": "application/json"}, json.dumps(final).encode()),
        ]
    )
    platform = V1Platform(None, SegmentSender(server), chunk_size_bytes=CHUNK)
    handle = UploadHandle("", SESSION, "http://upload.invalid/v1/videos/upload/resumable")
    transfer = platform.transfer(handle, TOTAL, RangeSet())  # resumed: probe first
    sent: list[int] = []

    async def on_acked(ranges: RangeSet) -> None:
        return None

    # hashing 5 GiB of zeros would only cost time
    async with source.open(CHUNK, hash_md5=False) as reader:
        result = await transfer.run(reader, on_sent=sent.append, on_acked=on_acked)
    probe, first, last = server.sent
    assert probe.headers["X-Content-Range"] == f"bytes 0-0/{TOTAL}"
    assert first.headers["X-Content-Range"] == "bytes 4294967296-4295032831/5368709120"
    assert first.headers["Content-Length"] == str(CHUNK) == str(len(first.body))
    assert first.body == HEAD_MARKER + bytes(CHUNK - len(HEAD_MARKER))
    assert last.headers["X-Content-Range"] == "bytes 5368709100-5368709119/5368709120"
    assert last.headers["Content-Length"] == "20"
    assert last.body == TAIL_MARKER
    assert result.final is not None and result.final.size == TOTAL
    assert result.size_bytes == TOTAL
    assert sum(sent) == 1 + CHUNK + 20


async def test_the_journal_keeps_sizes_and_ranges_past_4_gib(tmp_path: Path) -> None:
    sparse_file(tmp_path / "huge.mov")
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,path\nhuge,huge.mov\n")
    journal = await SqliteJournal.open(tmp_path / "j.sqlite")
    try:
        await ingest_manifest(journal, manifest)
        await journal.mark_creating("huge")
        await journal.record_created(
            "huge", video_key="Big12345", upload_url="http://u.invalid/up", session_id=SESSION
        )
        acked = [(0, FOUR_GIB - 1), (FOUR_GIB + CHUNK, TOTAL - 21)]
        await journal.record_progress("huge", acked)
        await journal.flush()
    finally:
        await journal.close()
    journal = await SqliteJournal.open(tmp_path / "j.sqlite")
    try:
        record = await journal.get("huge")
    finally:
        await journal.close()
    assert record is not None
    assert record.size_bytes == TOTAL
    assert record.acked_ranges == tuple(acked)
    gaps = RangeSet.of(record.acked_ranges).gaps(TOTAL)
    assert [(g.start, g.end) for g in gaps] == [
        (FOUR_GIB, FOUR_GIB + CHUNK - 1),
        (TOTAL - 20, TOTAL - 1),
    ]
