"""Property tests: whatever the manifest holds, only entries, problems or a ManifestError
come out, in file order, with unique job ids and storable (UTF-8) text."""

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vidlift.errors import ManifestError
from vidlift.manifest import ManifestEntry, ManifestProblem, iter_manifest

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

COLUMNS = st.sampled_from(
    [
        "path",
        "id",
        "title",
        "description",
        "tags",
        "date",
        "link",
        "download_url",
        "custom.a",
        "custom.b",
        "Title",
        "PATH",
        "weird",
        "custom.",
        "",
    ]
)
CELLS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "a.mp4",
            "./a.mp4",
            "b.mp4",
            "missing.mp4",
            "folder",
            "empty.mp4",
            "",
            " ",
            "1237387851",
            "2021-03-04",
            "x, y",
            '"',
            "\r\n",
            "é",
            "j1",
            "\x00",
        ]
    ),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10) | CELLS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
JSON_KEYS = COLUMNS | st.sampled_from(["custom", "custom.x"]) | st.text(max_size=8)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files the generated rows may name (module-scoped: hypothesis reruns the test)."""
    folder = tmp_path_factory.mktemp("library")
    (folder / "a.mp4").write_bytes(b"a" * 10)
    (folder / "b.mp4").write_bytes(b"b" * 20)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "folder").mkdir()
    return folder


def _corrupt(data: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    for position, junk in edits:
        at = position % (len(data) + 1)
        data = data[:at] + junk + data[at:]
    return data


def _results(manifest: Path, data: bytes) -> Iterator[ManifestEntry | ManifestProblem]:
    manifest.write_bytes(data)
    try:
        yield from iter_manifest(manifest)
    except ManifestError as exc:
        assert str(exc)  # a clear message, and nothing else escapes


def _check(manifest: Path, data: bytes) -> None:
    name = manifest.name
    lines = data.count(b"\n") + data.count(b"\r") + 1
    previous_line = 0
    job_ids: set[str] = set()
    for result in _results(manifest, data):
        assert isinstance(result, ManifestEntry | ManifestProblem)
        match = re.fullmatch(re.escape(name) + r":(\d+)", result.location)
        assert match, result.location
        line = int(match.group(1))
        assert previous_line <= line <= lines
        previous_line = line
        assert result.job_id not in job_ids
        job_ids.add(result.job_id)
        for text in (result.job_id, result.location, str(result.path)):
            text.encode("utf-8")  # storable in the journal
        if isinstance(result, ManifestProblem):
            assert result.reason
            result.reason.encode("utf-8")
        else:
            assert result.path.is_file() and result.size_bytes > 0
            for text in (result.title, result.description, result.link, *result.tags):
                text.encode("utf-8")
            assert result.date is None or result.date.utcoffset() is not None


@FAST
@given(
    header=st.lists(COLUMNS, min_size=1, max_size=6),
    rows=st.lists(st.lists(CELLS, max_size=7), max_size=8),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=3)), max_size=3
    ),
)
def test_csv_manifests(
    library: Path,
    header: list[str],
    rows: list[list[str]],
    quoting: int,
    edits: list[tuple[int, bytes]],
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=quoting)  # type: ignore[arg-type]
    writer.writerow(header)
    writer.writerows(rows)
    _check(library / "m.csv", _corrupt(buffer.getvalue().encode("utf-8", "surrogatepass"), edits))


@FAST
@given(
    objects=st.lists(st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=6), max_size=8),
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=3)), max_size=3
    ),
)
def test_jsonl_manifests(
    library: Path, objects: list[dict[str, object]], edits: list[tuple[int, bytes]]
) -> None:
    text = "".join(json.dumps(item) + "\n" for item in objects)
    _check(library / "m.jsonl", _corrupt(text.encode(), edits))


@FAST
@given(data=st.binary(max_size=300), name=st.sampled_from(["m.csv", "m.jsonl"]))
def test_any_bytes(library: Path, data: bytes, name: str) -> None:
    _check(library / name, data)


@FAST
@given(
    rows=st.lists(
        st.tuples(
            st.text(max_size=15),
            st.lists(
                st.text(
                    alphabet=st.characters(exclude_characters=",", codec="utf-8"),
                    max_size=6,
                ),
                max_size=4,
            ),
            st.text(max_size=10),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_good_rows_keep_their_values(library: Path, rows: list[tuple[str, list[str], str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "path", "title", "tags", "custom.note"])
    for number, (title, tags, note) in enumerate(rows):
        writer.writerow([f"row-{number}", "a.mp4", title, ",".join(tags), note])
    results = list(_results(library / "m.csv", buffer.getvalue().encode()))
    assert len(results) == len(rows)
    for number, (result, (title, tags, note)) in enumerate(zip(results, rows, strict=True)):
        assert isinstance(result, ManifestEntry), result
        assert result.job_id == f"row-{number}"
        assert result.title == title.strip()
        assert result.tags == tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
        assert dict(result.custom) == ({"note": note.strip()} if note.strip() else {})
