"""JSON Lines manifests: the same fields as CSV, one object per line."""

import json
from pathlib import Path

import pytest

from vidlift.errors import ManifestError
from vidlift.manifest import ManifestEntry, ManifestProblem, derive_job_id, iter_manifest

Result = ManifestEntry | ManifestProblem


@pytest.fixture
def library(tmp_path: Path) -> Path:
    (tmp_path / "a.mp4").write_bytes(b"a" * 100)
    (tmp_path / "b.mp4").write_bytes(b"b" * 200)
    return tmp_path


def read(library: Path, lines: list[str | bytes], name: str = "m.jsonl") -> list[Result]:
    manifest = library / name
    manifest.write_bytes(
        b"".join(line if isinstance(line, bytes) else line.encode() for line in lines)
    )
    return list(iter_manifest(manifest))


def line(**fields: object) -> str:
    return json.dumps(fields) + "\n"


def problems(results: list[Result]) -> list[tuple[str, str]]:
    return [(r.location, r.reason) for r in results if isinstance(r, ManifestProblem)]


def test_good_rows(library: Path) -> None:
    results = read(
        library,
        [
            line(
                path="a.mp4",
                id=17,
                title="A",
                tags=["x", "y"],
                date=1237387851,
                custom={"lang": "fr"},
                **{"custom.legacy_id": 42},
            ),
            "\n",
            line(path="b.mp4", tags="p, q", date="2021-03-04"),
        ],
        name="m.ndjson",
    )
    first, second = results
    assert isinstance(first, ManifestEntry) and isinstance(second, ManifestEntry)
    assert (first.job_id, first.title, first.tags) == ("17", "A", ("x", "y"))
    assert dict(first.custom) == {"lang": "fr", "legacy_id": "42"}
    assert (first.location, second.location) == ("m.ndjson:1", "m.ndjson:3")
    assert second.job_id == derive_job_id("b.mp4") and second.tags == ("p", "q")


def test_bad_lines_are_reported_and_the_rest_goes_on(library: Path) -> None:
    results = read(
        library,
        [
            "\ufeff".encode() + line(path="a.mp4").encode(),  # 1: a BOM is fine
            "{not json\n",  # 2
            "[1, 2]\n",  # 3
            b'{"path": "b.mp4", "title": "caf\xe9"}\n',  # 4
            line(path="b.mp4", id="r5", custom={"x": 1}, **{"custom.x": 2}),  # 5
            line(download_url="https://cdn/x.mp4"),  # 6
            line(path="b.mp4", id="r7", date=True),  # 7
            line(path="b.mp4", id="r8", titel="typo", extra=1).replace("\n", "\r\n"),  # 8
            line(path="b.mp4", id="r9", titel="again"),  # 9: already reported
            line(path=5),  # 10
            "[" * 100_000 + "\n",  # 11
        ],
    )
    assert problems(results) == [
        (
            "m.jsonl:2",
            "not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        ("m.jsonl:3", "not a JSON object but list"),
        ("m.jsonl:4", "not valid UTF-8 text in title: save the manifest as UTF-8"),
        ("m.jsonl:5", "custom parameter 'x' is given twice (again in the custom.x)"),
        (
            "m.jsonl:7",
            "date: cannot read True as a date: use a Unix timestamp or an ISO date "
            "(2021-03-04 or 2021-03-04T10:00:00Z)",
        ),
        (
            "m.jsonl:8",
            "unknown keys 'titel', 'extra' ignored: known keys are date, "
            "description, download_url, external_id, id, link, path, permalink, "
            "publish_start_date, tags, thumbnail_download_url, title; custom parameters are "
            "named custom.<name>",
        ),
        ("m.jsonl:10", "path: Input should be a valid string"),
        (
            "m.jsonl:11",
            "not valid JSON: maximum recursion depth exceeded while decoding a "
            "JSON array from a unicode string",
        ),
    ]
    assert [r.location for r in results if isinstance(r, ManifestEntry)] == [
        "m.jsonl:1",
        "m.jsonl:6",  # a download_url row
        "m.jsonl:8",
        "m.jsonl:9",
    ]
    fourth = next(r for r in results if r.location == "m.jsonl:4")
    assert fourth.job_id == derive_job_id("b.mp4")
    by_id = {r.job_id: r for r in results if r.location == "m.jsonl:8"}
    assert set(by_id) == {"<m.jsonl:8 columns>", "r8"}


def test_strict(library: Path) -> None:
    (library / "m.jsonl").write_text(line(path="a.mp4") + "oops\n")
    with pytest.raises(ManifestError, match=r"m\.jsonl:2: not valid JSON"):
        list(iter_manifest(library / "m.jsonl", strict=True))


def test_utf16_is_refused(library: Path) -> None:
    (library / "m.jsonl").write_bytes(line(path="a.mp4").encode("utf-16"))
    with pytest.raises(ManifestError, match="UTF-16 text: save it as UTF-8"):
        list(iter_manifest(library / "m.jsonl"))
