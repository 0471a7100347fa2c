"""Every Source implementation passes the conformance suite (vidlift.testing)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vidlift.client.source import SourceFile
from vidlift.config import HttpSourceSettings, S3SourceSettings
from vidlift.sources.base import Source
from vidlift.sources.http import HttpSource
from vidlift.sources.s3 import S3Source, create_s3_client
from vidlift.testing.origin import Origin, OriginFault
from vidlift.testing.source_conformance import SOURCE_CHECKS, SourceCheck, check_id

pytestmark = pytest.mark.anyio

DATA = os.urandom(100 * 1024 + 3)


@pytest.fixture(params=["file", "http", "http-ignoring-range", "s3"])
async def source(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Source]:
    async with AsyncExitStack() as stack:
        if request.param == "file":
            (tmp_path / "a.mp4").write_bytes(DATA)
            yield await SourceFile.inspect(tmp_path / "a.mp4")
            return
        if request.param == "s3":
            endpoint = request.getfixturevalue("moto_endpoint")
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            settings = S3SourceSettings(endpoint_url=endpoint, region="us-east-1")
            client: Any = await stack.enter_async_context(await create_s3_client(settings))
            await client.create_bucket(Bucket="conformance")
            await client.put_object(Bucket="conformance", Key="a.mp4", Body=DATA)
            yield await S3Source.inspect("s3://conformance/a.mp4", client=client)
            return
        origin = await stack.enter_async_context(Origin())
        session = await stack.enter_async_context(aiohttp.ClientSession())
        url = origin.add("a.mp4", DATA)
        if request.param == "http-ignoring-range":
            origin.fault("a.mp4", OriginFault(ignore_range=True))
        yield await HttpSource.inspect(
            url, session=session, settings=HttpSourceSettings(), on_notice=lambda _: None
        )


@pytest.mark.parametrize("check", SOURCE_CHECKS, ids=check_id)
async def test_conformance(check: SourceCheck, source: Source) -> None:
    await check(source, DATA)
