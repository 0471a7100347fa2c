"""JW's two batch-migration CSV templates, as published, and the rows they can hold wrong:
``path`` and ``download_url`` are the two ways of naming a source."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from vidlift.manifest import ManifestEntry, ManifestProblem, iter_manifest
from vidlift.manifest.ids import derive_url_job_id, public_source_url
from vidlift.manifest.reader import MISSING_SOURCE_REASON

Result = ManifestEntry | ManifestProblem
SECRET = "X-Amz-Signature=abcdef0123456789"

# The 2019 v1 batch-migration template: download_url, title, description, tags, date
# (Unix time), link, custom.* (../shared/PROTOCOL.md, "The migration manifest").
V1_TEMPLATE = (
    "download_url,title,description,tags,date,link,custom.legacy_id\n"
    'https://cdn.example.com/v/intro.mp4,Intro,First video,"news,intro",1554076800,'
    "https://example.com/1,8812\n"
    f"https://cdn.example.com/v/outro.mp4?{SECRET},Outro,,,,,8813\n"
)
# The v2 guide's CSV: download_url, title, description, tags, publish_start_date
# (YYYY-MM-DD), permalink, external_id, thumbnail_download_url, custom.*.
V2_TEMPLATE = (
    "download_url,title,description,tags,publish_start_date,permalink,external_id,"
    "thumbnail_download_url,custom.legacy_id\n"
    'https://cdn.example.com/v/intro.mp4,Intro,First video,"news, intro",2019-04-01,'
    "https://example.com/1,legacy-8812,https://cdn.example.com/t/intro.jpg,8812\n"
    "s3://old-media/v/outro.mp4,Outro,,,,,legacy-8813,,\n"
)


def read(tmp_path: Path, content: str) -> list[Result]:
    manifest = tmp_path / "m.csv"
    manifest.write_text(content)
    return list(iter_manifest(manifest))


def problems(results: list[Result]) -> list[tuple[str, str]]:
    return [(r.location, r.reason) for r in results if isinstance(r, ManifestProblem)]


def test_the_v1_template_as_published(tmp_path: Path) -> None:
    results = read(tmp_path, V1_TEMPLATE)
    assert problems(results) == []
    first, second = results
    assert isinstance(first, ManifestEntry) and isinstance(second, ManifestEntry)
    assert first.source_url == "https://cdn.example.com/v/intro.mp4" and first.path is None
    assert first.job_id == derive_url_job_id("https://cdn.example.com/v/intro.mp4")
    assert first.job_id.startswith("u-")
    assert (first.title, first.description, first.tags) == (
        "Intro",
        "First video",
        ("news", "intro"),
    )
    assert first.date == datetime(2019, 4, 1, tzinfo=UTC)
    assert first.link == "https://example.com/1" and dict(first.custom) == {"legacy_id": "8812"}
    # The signed URL is kept whole to fetch it, and shown without its query string.
    assert second.source_url == f"https://cdn.example.com/v/outro.mp4?{SECRET}"
    assert second.source_name == "https://cdn.example.com/v/outro.mp4"
    assert second.job_id == derive_url_job_id(second.source_name)
    assert SECRET not in repr(second)


def test_the_v2_template_as_published(tmp_path: Path) -> None:
    results = read(tmp_path, V2_TEMPLATE)
    assert problems(results) == []
    first, second = results
    assert isinstance(first, ManifestEntry) and isinstance(second, ManifestEntry)
    assert (first.job_id, second.job_id) == ("legacy-8812", "legacy-8813")
    assert first.date == datetime(2019, 4, 1, tzinfo=UTC)
    assert first.link == "https://example.com/1" and first.tags == ("news", "intro")
    assert first.thumbnail_url == "https://cdn.example.com/t/intro.jpg"
    assert second.source_url == "s3://old-media/v/outro.mp4"
    assert second.thumbnail_url is None and second.date is None


def test_local_paths_and_urls_in_one_manifest(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"a" * 10)
    results = read(
        tmp_path, "path,download_url,id\na.mp4,,one\n,https://cdn.example.com/b.mp4,two\n"
    )
    local, remote = results
    assert isinstance(local, ManifestEntry) and isinstance(remote, ManifestEntry)
    assert (local.path, local.source_url, local.size_bytes) == (tmp_path / "a.mp4", None, 10)
    assert (remote.path, remote.source_name) == (None, "https://cdn.example.com/b.mp4")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("a.mp4,https://cdn.example.com/a.mp4,,,", "has both `path` and `download_url`"),
        (",,,,2020-01-01", MISSING_SOURCE_REASON),
        (f",ftp://files.example.com/a.mp4?{SECRET},,,", "is not a http://, https://, s3://"),
        (",https://cdn.example.com/a b.mp4,,,", "a URL has no blanks"),
        (",s3://bucket-only,,,", "an S3 source is s3://bucket/key"),
        (",s3://bucket/dir/,,,", "an S3 source is s3://bucket/key"),
        (",https:///no-host.mp4,,,", "has no host"),
        (",https://cdn.example.com:99999/a.mp4,,,", "is not a valid URL"),
        (",https://cdn.example.com/a.mp4,s3://b/t.jpg,,", "thumbnail_download_url"),
        (",https://cdn.example.com/a.mp4,,1554076800,2020-01-01", "are the same field"),
    ],
)
def test_bad_source_rows_say_why_without_the_query_string(
    tmp_path: Path, row: str, reason: str
) -> None:
    (tmp_path / "a.mp4").write_bytes(b"a")
    header = "path,download_url,thumbnail_download_url,date,publish_start_date\n"
    results = read(tmp_path, header + row + "\n")
    ((location, problem),) = problems(results)
    assert location == "m.csv:2"
    assert reason in problem
    assert SECRET not in problem


def test_duplicate_external_ids_and_urls_are_reported(tmp_path: Path) -> None:
    results = read(
        tmp_path,
        "download_url,external_id\n"
        "https://cdn.example.com/a.mp4,e1\n"
        "https://cdn.example.com/b.mp4,e1\n"
        "https://cdn.example.com/c.mp4?sig=1,\n"
        "HTTPS://CDN.example.com/c.mp4?sig=2,\n",
    )
    assert problems(results) == [
        ("m.csv:3", "duplicate external_id 'e1': an earlier row (m.csv:2) has it"),
        (
            "m.csv:5",
            "duplicate download_url: an earlier row (m.csv:4) names the same URL (query "
            "strings aside; give the rows `id` values to upload it more than once)",
        ),
    ]


def test_public_source_url_drops_user_query_and_fragment() -> None:
    url = "HTTPS://user:pw@CDN.Example.com:8443/a/b%20c.mp4?Signature=x#frag"
    assert public_source_url(url) == "https://cdn.example.com:8443/a/b%20c.mp4"
    assert public_source_url("s3://bucket/k/e y.mp4") == "s3://bucket/k/e y.mp4"
