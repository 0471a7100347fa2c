"""A test-only child process: uploads one file with the v2 platform, keeping the upload
handle and the acked parts in a state file (as the journal would), so that a kill -9 can
be followed by a resume. Usage: python v2_child.py ENDPOINT SECRET FILE STATE"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio

from vidlift.client.source import SourceFile
from vidlift.client.transport import AiohttpTransport
from vidlift.platforms.base import UploadHandle
from vidlift.platforms.v2 import V2Platform, V2Settings
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.ranges import RangeSet


def _load(state: Path) -> dict[str, Any] | None:
    return json.loads(state.read_text()) if state.exists() else None


def _save(state: Path, saved: dict[str, Any]) -> None:
    state.write_text(json.dumps(saved))


async def main(endpoint: str, secret: str, path: Path, state: Path) -> None:
    transport = AiohttpTransport()
    settings = V2Settings(
        site_id="demosite",
        api_secret=secret,
        endpoint=endpoint,
        part_floor_bytes=5 * 1024 * 1024,
        parts_in_flight=2,
    )
    platform = V2Platform(transport, settings)
    source = await SourceFile.inspect(path)
    saved = _load(state)
    if saved is None:
        handle = await platform.create(
            VideoMetadata(title="k"), marker="kill-job", tag=None, size_bytes=source.size_bytes
        )
        saved = {
            "handle": [handle.video_key, handle.upload_id, handle.upload_secret],
            "acked": [],
        }
        _save(state, saved)
    handle = UploadHandle(*saved["handle"])
    acked = RangeSet.of(tuple(pair) for pair in saved["acked"])

    async def keep(ranges: RangeSet) -> None:
        saved["acked"] = [list(pair) for pair in ranges.as_pairs()]
        _save(state, saved)
        print("acked", ranges.byte_count, flush=True)

    transfer = platform.transfer(handle, source.size_bytes, acked)
    async with source.open() as reader:
        await transfer.run(reader, on_acked=keep)
    print("finished", flush=True)
    await transport.aclose()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
