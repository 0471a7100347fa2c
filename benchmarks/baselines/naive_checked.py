"""The naive sequential client that also checks each file: create, upload, videos/show.

What a careful hand-written script does (benchmarks/baselines/naive_client.py plus the
check): per file a signed videos/create, the segments, then videos/show to compare size
and md5. On a 429 it sleeps until the ``reset`` its answer states, then calls again;
otherwise it ignores the ``rate_limit`` block. Imports nothing from vidlift.

    python benchmarks/baselines/naive_checked.py ENDPOINT FILE... [--chunk-bytes N]

prints one JSON line: {"files": N, "bytes": B, "wall_s": S, "waits_429": W}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path

import requests
from naive_client import API_KEY, API_SECRET, TIMEOUT_S, Created, sign, upload_file


class Caller:
    """Signed v1 calls that wait out a 429 (and count those waits)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.waits_429 = 0

    def call(self, route: str, extra: dict[str, str], *, post: bool) -> dict[str, object]:
        while True:
            params = {
                "api_key": API_KEY,
                "api_nonce": f"{random.randrange(10**9):09d}",
                "api_timestamp": str(int(time.time())),
                "api_format": "json",
                **extra,
            }
            params["api_signature"] = sign(params, API_SECRET)
            url = f"{self.endpoint}/v1/{route}"
            if post:
                answer = requests.post(url, data=params, timeout=TIMEOUT_S)
            else:
                answer = requests.get(url, params=params, timeout=TIMEOUT_S)
            document: dict[str, object] = answer.json()
            if answer.status_code != 429:
                answer.raise_for_status()
                return document
            self.waits_429 += 1
            block = document.get("rate_limit")
            reset = float(block["reset"]) if isinstance(block, dict) else time.time() + 1
            time.sleep(max(0.05, reset - time.time()))

    def create(self, title: str) -> Created:
        document = self.call(
            "videos/create", {"upload_method": "multipart", "title": title}, post=True
        )
        link = document["link"]
        media = document["media"]
        assert isinstance(link, dict) and isinstance(media, dict)
        url = f"{link['protocol']}://{link['address']}{link['path']}?key={link['query']['key']}"
        return Created(media["key"], url + "&api_format=json", str(document["session_id"]))

    def check(self, path: Path, video_key: str) -> None:
        video = self.call("videos/show", {"video_key": video_key}, post=False)["video"]
        assert isinstance(video, dict)
        md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if int(video["size"]) != path.stat().st_size or video["md5"] not in (None, md5):
            raise RuntimeError(f"{path}: the platform holds something else: {video}")


def main() -> None:
    """Create, upload and check every file given, sequentially; print a JSON summary."""
    parser = argparse.ArgumentParser(description="naive sequential client with checks")
    parser.add_argument("endpoint")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--chunk-bytes", type=int, default=8 * 1024 * 1024)
    args = parser.parse_args()
    caller = Caller(args.endpoint)
    started = time.perf_counter()
    sent = 0
    for path in args.files:
        created = caller.create(path.stem)
        upload_file(path, created, args.chunk_bytes)
        caller.check(path, created.video_key)
        sent += path.stat().st_size
    wall_s = time.perf_counter() - started
    summary = {"files": len(args.files), "bytes": sent, "wall_s": wall_s}
    print(json.dumps({**summary, "waits_429": caller.waits_429}))


if __name__ == "__main__":
    main()
