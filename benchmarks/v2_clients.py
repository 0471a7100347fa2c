"""The v2 benchmark's client processes (one per run, measured by the harness).

    python benchmarks/v2_clients.py vidlift  ENDPOINT FILE... [--parts-in-flight N]
    python benchmarks/v2_clients.py official ENDPOINT FILE
    python benchmarks/v2_clients.py prepare  ENDPOINT FILE   (curl's media, not measured)

``vidlift``: :class:`vidlift.platforms.v2.V2Platform`, every file at once, parts in flight,
with a minimal retry loop (benchmark only; the job loop is the product's). ``official``:
JW's ``jwplatform`` 2.2.2 client, sequential parts (``upload_method`` multipart, 5 MiB
parts as its default); its HTTPS connections are pointed at the plain-HTTP emulator
(test-only patch: the client hard-codes port 443 and HTTPS). ``prepare`` creates a media
and prints ``upload_id token`` and the part links for curl.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

API_SECRET = "demo-secret-not-for-production"  # the emulator's published demo value
SITE = "demosite"
MiB = 1024 * 1024


async def _vidlift(
    endpoint: str, files: list[Path], parts_in_flight: int, verify_md5: bool
) -> None:
    from vidlift.client.source import SourceFile
    from vidlift.client.transport import AiohttpTransport
    from vidlift.errors import PartLinkRefused, TransportError, UploadServerBusy
    from vidlift.platforms.v2 import V2Platform, V2Settings
    from vidlift.protocol.metadata import VideoMetadata
    from vidlift.protocol.ranges import RangeSet

    transport = AiohttpTransport()
    settings = V2Settings(
        site_id=SITE,
        api_secret=API_SECRET,
        endpoint=endpoint,
        parts_in_flight=parts_in_flight,
        verify_md5=verify_md5,
    )
    platform = V2Platform(transport, settings)

    async def one(path: Path) -> None:
        source = await SourceFile.inspect(path)
        handle = await platform.create(
            VideoMetadata(title=path.stem), marker=path.name, tag=None, size_bytes=source.size_bytes
        )
        transfer = platform.transfer(handle, source.size_bytes, RangeSet())
        for _ in range(5):
            async with source.open(hash_md5=False) as reader:
                try:
                    await transfer.run(reader)
                    return
                except (TransportError, UploadServerBusy, PartLinkRefused):
                    continue
        raise RuntimeError(f"{path}: not uploaded")

    try:
        await asyncio.gather(*(one(path) for path in files))
    finally:
        await transport.aclose()


def _official(endpoint: str, path: Path) -> None:
    from jwplatform import client as jw_client
    from jwplatform import upload as jw_upload

    parts = urlsplit(endpoint)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    class _Plain(http.client.HTTPConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(host, port)

    jw_client.http.client.HTTPSConnection = _Plain  # type: ignore[attr-defined,misc]
    jw_upload.http.client.HTTPSConnection = _Plain  # type: ignore[attr-defined,misc]
    client = jw_client.JWPlatformClient(secret=API_SECRET, host=host)
    with path.open("rb") as handle:
        body = {"metadata": {"title": path.stem}}
        context = client.Media.create_media_and_get_upload_context(
            handle, body=body, site_id=SITE, target_part_size=5 * MiB
        )
        client.Media.upload(handle, context, base_url=host, target_part_size=5 * MiB)


def _prepare(endpoint: str, path: Path, part_bytes: int) -> None:
    """Create a multipart media; print the upload id, token and one link per part."""
    count = -(-path.stat().st_size // part_bytes)
    body = json.dumps({"upload": {"method": "multipart"}, "metadata": {"title": path.stem}})
    created = _call(f"{endpoint}/v2/sites/{SITE}/media/", API_SECRET, "POST", body.encode())
    links = []
    for page in range(1, -(-count // 1000) + 1):
        url = f"{endpoint}/v2/uploads/{created['upload_id']}/parts?page={page}&page_length=1000"
        links += [p["upload_link"] for p in _call(url, created["upload_token"])["parts"]]
    print(json.dumps({**created, "links": links[:count]}))


def _call(url: str, token: str, method: str = "GET", data: bytes | None = None) -> Any:
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


def main() -> None:
    """Parse the arguments and run one client."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["vidlift", "official", "prepare"])
    parser.add_argument("endpoint")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--parts-in-flight", type=int, default=4)
    parser.add_argument("--part-bytes", type=int, default=8 * MiB)
    parser.add_argument("--no-verify-md5", action="store_true")
    args = parser.parse_args()
    if args.kind == "vidlift":
        verify = not args.no_verify_md5
        asyncio.run(_vidlift(args.endpoint, args.files, args.parts_in_flight, verify))
    elif args.kind == "official":
        _official(args.endpoint, args.files[0])
    else:
        _prepare(args.endpoint, args.files[0], args.part_bytes)
    sys.exit(0)


if __name__ == "__main__":
    main()
