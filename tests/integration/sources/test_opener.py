"""SourceOpener: one factory for every kind of reference; the identity a job recorded is
checked when the job opens its source again."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidlift.config import HttpSourceSettings, SourceSettings
from vidlift.errors import SourceChanged
from vidlift.sources.http import HttpSource
from vidlift.sources.opener import SourceKind, SourceOpener, source_kind
from vidlift.testing.origin import Origin, OriginFault

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("ref", "kind"),
    [
        ("https://cdn.example.com/a.mp4?sig=1", SourceKind.HTTP),
        ("HTTP://cdn.example.com/a.mp4", SourceKind.HTTP),
        ("s3://bucket/key.mp4", SourceKind.S3),
        ("videos/a.mp4", SourceKind.FILE),
        ("/abs/a:b.mp4", SourceKind.FILE),
        (Path("https://not-a-url"), SourceKind.FILE),
    ],
)
def test_source_kind_by_scheme(ref: str | Path, kind: SourceKind) -> None:
    assert source_kind(ref) is kind


async def test_an_http_source_and_its_recorded_identity(origin: Origin, payload: bytes) -> None:
    url = origin.add("a.mp4", payload)
    notices: list[str] = []
    settings = SourceSettings(http=HttpSourceSettings(max_redirects=1))
    async with SourceOpener(settings, on_notice=notices.append) as opener:
        first = await opener.open_source(url)
        assert isinstance(first, HttpSource) and first.size_bytes == len(payload)
        again = await opener.open_source(
            url, expected_size=first.size_bytes, expected_identity=first.identity
        )
        assert again.identity == first.identity
        origin.fault("a.mp4", OriginFault(change_after_requests=2))
        with pytest.raises(SourceChanged, match="changed since the job started"):
            await opener.open_source(url, expected_identity=first.identity)
        with pytest.raises(SourceChanged, match="size"):
            await opener.open_source(url, expected_size=first.size_bytes + 1)
    assert notices == []
