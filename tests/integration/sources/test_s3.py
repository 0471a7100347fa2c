"""S3Source against moto's S3 server on loopback: ranges, ETag identity, refusals."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, suppress
from typing import Any

import pytest

from vidlift.config import S3SourceSettings
from vidlift.errors import SourceChanged, SourceError
from vidlift.protocol.ranges import ByteRange
from vidlift.sources.s3 import S3Source, create_s3_client, parse_s3_url

pytestmark = pytest.mark.anyio

KiB = 1024
BUCKET = "old-platform-media"


@pytest.fixture
async def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings = S3SourceSettings(endpoint_url=moto_endpoint, region="us-east-1")
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(await create_s3_client(settings))
        with suppress(client.exceptions.BucketAlreadyOwnedByYou):
            await client.create_bucket(Bucket=BUCKET)
        yield client


async def put(client: Any, key: str, data: bytes) -> str:
    await client.put_object(Bucket=BUCKET, Key=key, Body=data)
    return f"s3://{BUCKET}/{key}"


async def test_ranges_and_md5_of_an_object(s3: Any) -> None:
    data = os.urandom(150 * KiB)
    source = await S3Source.inspect(await put(s3, "videos/a b.mp4", data), client=s3)
    assert source.size_bytes == len(data)
    assert source.identity.startswith('etag:"')
    assert (source.name, source.filename) == (f"s3://{BUCKET}/videos/a b.mp4", "a b.mp4")
    async with source.open(16 * KiB) as reader:
        got = bytearray()
        for start in range(0, len(data), 64 * KiB):
            end = min(start + 64 * KiB, len(data)) - 1
            async for piece in reader.iter_range(ByteRange(start, end)):
                assert len(piece) <= 16 * KiB
                got += piece
        assert bytes(got) == data
        assert await reader.md5_hexdigest() == hashlib.md5(data).hexdigest()
        assert reader.bytes_read == len(data)
    await source.check_unchanged()


async def test_an_object_replaced_mid_way_raises_source_changed(s3: Any) -> None:
    data = os.urandom(100 * KiB)
    url = await put(s3, "changing.mp4", data)
    source = await S3Source.inspect(url, client=s3)
    async with source.open(16 * KiB) as reader:
        first = [p async for p in reader.iter_range(ByteRange(0, 50 * KiB - 1))]
        assert b"".join(first) == data[: 50 * KiB]
        await put(s3, "changing.mp4", os.urandom(100 * KiB))
        with pytest.raises(SourceChanged, match="changed since it was first read"):
            async for _ in reader.iter_range(ByteRange(50 * KiB, 100 * KiB - 1)):
                pass
    with pytest.raises(SourceChanged):
        await source.check_unchanged()


async def test_missing_objects_and_buckets_and_empty_objects_are_source_errors(s3: Any) -> None:
    with pytest.raises(SourceError, match="no such object") as caught:
        await S3Source.inspect(f"s3://{BUCKET}/nothing.mp4", client=s3)
    assert caught.value.path == f"s3://{BUCKET}/nothing.mp4"
    with pytest.raises(SourceError, match="no such object or bucket"):
        await S3Source.inspect("s3://no-such-bucket-1/a.mp4", client=s3)
    with pytest.raises(SourceError, match="empty"):
        await S3Source.inspect(await put(s3, "empty.mp4", b""), client=s3)


@pytest.mark.parametrize(
    "url", ["s3://bucket", "s3://bucket/", "s3:///key", "s3://b/dir/", "s3://b/k?x=1"]
)
def test_bad_s3_urls_are_refused_with_the_form_to_use(url: str) -> None:
    with pytest.raises(ValueError, match="s3://"):
        parse_s3_url(url)
