"""The naive sequential client users write by hand, as the public JW examples do.

Plain ``requests``: for each file, a create call signed by hand (sorted, percent-encoded
parameters + secret, SHA-1), then its segments one after another, each ``requests.post``
on its own (no session: a new connection per request), reading the file with ``read``.
It imports nothing from vidlift on purpose. Used as the small-files baseline and, for its
``create_video``, to open the sessions that the curl baselines then fill.

    python benchmarks/baselines/naive_client.py ENDPOINT FILE... [--chunk-bytes N]

prints one JSON line: {"files": N, "bytes": B, "wall_s": S}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

API_KEY = "demokey1"
API_SECRET = "demo-secret-not-for-production"  # the emulator's published demo value
TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Created:
    """What videos/create answered: where to send the bytes."""

    video_key: str
    upload_url: str
    session_id: str


def sign(params: dict[str, str], secret: str) -> str:
    """JW API v1 signature: sorted name=value pairs, encoded, joined by &, + secret, SHA-1."""
    base = "&".join(
        f"{quote(name, safe='~')}={quote(value, safe='~')}"
        for name, value in sorted(params.items())
    )
    return hashlib.sha1((base + secret).encode(), usedforsecurity=False).hexdigest()


def create_video(endpoint: str, title: str, session: requests.Session | None = None) -> Created:
    """One signed videos/create call (resumable upload)."""
    params = {
        "api_key": API_KEY,
        "api_nonce": f"{random.randrange(10**9):09d}",
        "api_timestamp": str(int(time.time())),
        "api_format": "json",
        "upload_method": "multipart",
        "title": title,
    }
    params["api_signature"] = sign(params, API_SECRET)
    post = session.post if session is not None else requests.post
    answer = post(f"{endpoint}/v1/videos/create", data=params, timeout=TIMEOUT_S)
    answer.raise_for_status()
    document = answer.json()
    link = document["link"]
    url = f"{link['protocol']}://{link['address']}{link['path']}?key={link['query']['key']}"
    return Created(document["media"]["key"], url + "&api_format=json", document["session_id"])


def upload_file(path: Path, created: Created, chunk_bytes: int) -> None:
    """Send the file's segments one after another; raise unless the last answer is 200."""
    total = path.stat().st_size
    status = 0
    with path.open("rb") as handle:
        offset = 0
        while offset < total:
            data = handle.read(chunk_bytes)
            headers = {
                "X-Session-ID": created.session_id,
                "X-Content-Range": f"bytes {offset}-{offset + len(data) - 1}/{total}",
                "Content-Disposition": f'attachment; filename="{path.name}"',
                "Content-Type": "application/octet-stream",
            }
            answer = requests.post(
                created.upload_url, data=data, headers=headers, timeout=TIMEOUT_S
            )
            status = answer.status_code
            if status not in (200, 201):
                raise RuntimeError(f"{path}: segment answered {status}: {answer.text[:200]}")
            offset += len(data)
    if status != 200:
        raise RuntimeError(f"{path}: the last segment answered {status}, not 200")


def main() -> None:
    """Upload every file given, sequentially; print a JSON summary."""
    parser = argparse.ArgumentParser(description="naive sequential JW upload client")
    parser.add_argument("endpoint")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--chunk-bytes", type=int, default=8 * 1024 * 1024)
    args = parser.parse_args()
    started = time.perf_counter()
    sent = 0
    for path in args.files:
        upload_file(path, create_video(args.endpoint, path.stem), args.chunk_bytes)
        sent += path.stat().st_size
    wall_s = time.perf_counter() - started
    print(json.dumps({"files": len(args.files), "bytes": sent, "wall_s": wall_s}))


if __name__ == "__main__":
    main()
