"""CSV manifests: every bad-row case gives its reason at file:line, and the rows after it
still come out."""

import os
from pathlib import Path

import pytest

from vidlift.errors import ManifestError
from vidlift.manifest import ManifestEntry, ManifestProblem, derive_job_id, iter_manifest
from vidlift.manifest.ids import derive_url_job_id
from vidlift.manifest.reader import MISSING_SOURCE_REASON

Result = ManifestEntry | ManifestProblem


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A folder with a.mp4 (100 bytes), b.mp4 (200), empty.mp4 (0) and a sub-folder."""
    (tmp_path / "a.mp4").write_bytes(b"a" * 100)
    (tmp_path / "b.mp4").write_bytes(b"b" * 200)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "folder").mkdir()
    return tmp_path


def read(library: Path, content: str | bytes, name: str = "m.csv") -> list[Result]:
    manifest = library / name
    if isinstance(content, str):
        content = content.encode()
    manifest.write_bytes(content)
    return list(iter_manifest(manifest))


def problems(results: list[Result]) -> list[tuple[str, str]]:
    return [(r.location, r.reason) for r in results if isinstance(r, ManifestProblem)]


def entries(results: list[Result]) -> list[ManifestEntry]:
    return [r for r in results if isinstance(r, ManifestEntry)]


def test_good_rows(library: Path) -> None:
    results = read(
        library,
        "path,title,description,tags,date,link,custom.legacy_id,custom.lang\n"
        'a.mp4,First,"Say ""hi""","news, archive",1237387851,https://x/1,L1,fr\n'
        "b.mp4,Second,,,2021-03-04,,,\n",
    )
    first, second = entries(results)
    assert len(results) == 2
    assert first.job_id == derive_job_id("a.mp4")
    assert (first.path, first.size_bytes) == (library / "a.mp4", 100)
    assert first.mtime_ns == os.stat(library / "a.mp4").st_mtime_ns
    assert (first.title, first.description, first.tags) == (
        "First",
        'Say "hi"',
        ("news", "archive"),
    )
    assert first.date is not None and first.date.year == 2009
    assert (first.link, dict(first.custom), first.location) == (
        "https://x/1",
        {"legacy_id": "L1", "lang": "fr"},
        "m.csv:2",
    )
    assert dict(second.custom) == {} and second.location == "m.csv:3"
    assert first.metadata.to_params()["custom.legacy_id"] == "L1"
    assert first.metadata.to_params()["tags"] == "news, archive"


def test_every_bad_row_is_reported_and_the_rest_goes_on(library: Path) -> None:
    results = read(
        library,
        "path,id,date,download_url\n"
        "missing.mp4,,,\n"  # 2
        "empty.mp4,,,\n"  # 3
        "folder,,,\n"  # 4
        "a.mp4,j1,not a date,\n"  # 5
        ",j2,,\n"  # 6
        ",j3,,https://cdn/x.mp4\n"  # 7
        "b.mp4,j1,,\n"  # 8: j1 already used by line 5
        "a.mp4,,,\n"  # 9
        "./a.mp4,,,\n"  # 10: the same path as line 9
        f"b.mp4,{'x' * 201},,\n"  # 11
        "b.mp4,ok,,https://cdn/ignored.mp4\n",  # 12
    )
    assert problems(results) == [
        ("m.csv:2", "file not found"),
        ("m.csv:3", "file is empty (0 bytes)"),
        ("m.csv:4", "not a regular file: it is a directory"),
        (
            "m.csv:5",
            "date: cannot read 'not a date' as a date: use a Unix timestamp or an "
            "ISO date (2021-03-04 or 2021-03-04T10:00:00Z)",
        ),
        ("m.csv:6", MISSING_SOURCE_REASON),
        ("m.csv:8", "duplicate id 'j1': an earlier row (m.csv:5) has it"),
        (
            "m.csv:10",
            "the same file as row m.csv:9 (the same path): this row is skipped (give both "
            "rows `id` values to upload the file once per row)",
        ),
        ("m.csv:11", "id: id is longer than 200 characters (201)"),
        (
            "m.csv:12",
            "the row has both `path` and `download_url`: give one source per row",
        ),
    ]
    assert [e.location for e in entries(results)] == ["m.csv:7", "m.csv:9"]
    by_location = {r.location: r for r in results}
    assert by_location["m.csv:2"].job_id == derive_job_id("missing.mp4")
    assert by_location["m.csv:2"].path == library / "missing.mp4"
    assert by_location["m.csv:5"].job_id == "j1"
    assert by_location["m.csv:6"].path is None
    assert by_location["m.csv:8"].job_id == "<m.csv:8>"  # never the earlier row's id
    assert by_location["m.csv:10"].job_id == "<m.csv:10>"


def test_bom_crlf_and_quoted_line_breaks(library: Path) -> None:
    content = (
        "\ufeffpath,title,description\r\n"
        'a.mp4,"two\r\nlines","three\r\nmore\r\nlines"\r\n'
        "\r\n"
        "missing.mp4,,\r\n"
        'b.mp4,"x\ny",\r\n'
    )
    results = read(library, content.encode("utf-8"))
    assert [r.location for r in results] == ["m.csv:2", "m.csv:7", "m.csv:8"]
    first = entries(results)[0]
    assert first.title == "two\r\nlines" and first.description == "three\r\nmore\r\nlines"
    assert problems(results) == [("m.csv:7", "file not found")]


def test_old_mac_line_ends(library: Path) -> None:
    results = read(library, "path,title\ra.mp4,A\rmissing.mp4,M\r")
    assert [r.location for r in results] == ["m.csv:2", "m.csv:3"]


def test_ten_megabyte_cells(library: Path) -> None:
    big = "é" * (10 * 1024 * 1024)
    results = read(library, f'path,description\na.mp4,"{big}"\nb.mp4,small\n')
    assert [len(e.description) for e in entries(results)] == [len(big), 5]
    huge = "x" * (17 * 1024 * 1024)
    results = read(library, f"path,description\na.mp4,{huge}\nb.mp4,after\n")
    assert problems(results) == [
        ("m.csv:2", f"a cell is larger than {16 * 1024 * 1024} characters (or a quote is unclosed)")
    ]
    assert [e.description for e in entries(results)] == ["after"]


def test_text_that_is_not_utf8(library: Path) -> None:
    content = b"path,title,custom.x\na.mp4,caf\xe9,ok\nb.mp4,fine,\xff\nmissing.mp4,,\n"
    results = read(library, content)
    assert problems(results) == [
        ("m.csv:2", "not valid UTF-8 text in title: save the manifest as UTF-8"),
        ("m.csv:3", "not valid UTF-8 text in custom.x: save the manifest as UTF-8"),
        ("m.csv:4", "file not found"),
    ]
    assert results[0].job_id == derive_job_id("a.mp4")  # the path itself was readable
    bad_path = read(library, b"path\nv\xe9deo.mp4\na.mp4\n")
    assert problems(bad_path) == [
        ("m.csv:2", "not valid UTF-8 text in path: save the manifest as UTF-8")
    ]
    assert bad_path[0].job_id == "<m.csv:2>" and len(entries(bad_path)) == 1


def test_unknown_columns_are_reported_once_and_ignored(library: Path) -> None:
    results = read(
        library, "Path, Title ,titel,,Custom.Legacy,foo\na.mp4,T,typo,x, L ,f\nb.mp4,,,,,\n"
    )
    assert problems(results) == [
        (
            "m.csv:1",
            "unknown columns 'titel', 'foo' ignored: known columns are date, "
            "description, download_url, external_id, id, link, path, permalink, "
            "publish_start_date, tags, thumbnail_download_url, title; custom parameters are "
            "named custom.<name>",
        ),
    ]
    assert results[0].job_id == "<m.csv:1 columns>" and results[0].path is None
    first = entries(results)[0]
    assert (first.title, dict(first.custom)) == ("T", {"Legacy": "L"})
    assert len(entries(results)) == 2


def test_quoting_errors(library: Path) -> None:
    results = read(library, 'path,title\na.mp4,"bad"quote\nb.mp4,fine\nmissing.mp4,"never closed\n')
    assert problems(results) == [
        ("m.csv:2", 'bad quoting: a quote inside a quoted cell must be doubled ("")'),
        ("m.csv:4", "unclosed quote: this row runs to the end of the file"),
    ]
    assert [e.title for e in entries(results)] == ["fine"]


def test_row_with_extra_cells(library: Path) -> None:
    results = read(library, "path,title\na.mp4,A,extra\nb.mp4,B,,\n")
    assert problems(results) == [("m.csv:2", "the row has 3 cells but the header has 2 columns")]
    assert [e.title for e in entries(results)] == ["B"]


def test_paths_are_relative_to_the_manifest(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    results = read(library, f"path\na.mp4\n{library / 'b.mp4'}\n")
    assert [e.path for e in entries(results)] == [library / "a.mp4", library / "b.mp4"]


def test_strict_stops_at_the_first_problem(library: Path) -> None:
    (library / "m.csv").write_text("path\na.mp4\nmissing.mp4\nb.mp4\n")
    results = iter_manifest(library / "m.csv", strict=True)
    assert isinstance(next(results), ManifestEntry)
    with pytest.raises(ManifestError, match=r"^m.csv:3: file not found$") as caught:
        next(results)
    assert (caught.value.location, caught.value.reason) == ("m.csv:3", "file not found")


def test_strict_and_unknown_columns(library: Path) -> None:
    (library / "m.csv").write_text("path,titel\na.mp4,x\n")
    with pytest.raises(ManifestError, match=r"m\.csv:1: unknown column 'titel' ignored"):
        list(iter_manifest(library / "m.csv", strict=True))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "cannot read the manifest: file is empty (0 bytes)"),
        (b"\n\n  \n", "m.csv: the manifest is empty"),
        (
            b"title,tags\nx,y\n",
            "m.csv:1: the header has no `path` column (nor `download_url`): found 'title', 'tags'",
        ),
        (b"path,title,Title\n", "m.csv:1: column 'Title' appears twice in the header"),
        (b"path,t\xe9\n", "m.csv:1: the header row is not valid UTF-8 text"),
        ("path,title\n".encode("utf-16"), "m.csv: the manifest is UTF-16 text: save it as UTF-8"),
    ],
)
def test_fatal_manifest_errors(library: Path, content: bytes, message: str) -> None:
    (library / "m.csv").write_bytes(content)
    with pytest.raises(ManifestError) as caught:
        list(iter_manifest(library / "m.csv"))
    assert message in str(caught.value)


def test_unusable_manifest_files(library: Path) -> None:
    with pytest.raises(ManifestError, match=r"unknown manifest format '\.txt': use one of \.csv"):
        iter_manifest(library / "m.txt")
    with pytest.raises(ManifestError, match="cannot read the manifest: file not found"):
        iter_manifest(library / "absent.csv")
    (library / "dir.csv").mkdir()
    with pytest.raises(ManifestError, match="cannot read the manifest: not a regular file"):
        iter_manifest(library / "dir.csv")


def test_a_download_url_only_manifest(library: Path) -> None:
    results = read(library, "download_url,title\nhttps://cdn/a.mp4?sig=s3cr3t,A\n")
    (entry,) = entries(results)
    assert entry.job_id == derive_url_job_id("https://cdn/a.mp4")
    assert (entry.path, entry.source_url) == (None, "https://cdn/a.mp4?sig=s3cr3t")
    assert entry.source_name == "https://cdn/a.mp4"
    assert (entry.size_bytes, entry.mtime_ns) == (0, 0)
    assert "s3cr3t" not in repr(entry)


def test_manifest_path_that_is_not_utf8(tmp_path: Path) -> None:
    folder = tmp_path / os.fsdecode(b"caf\xe9")
    folder.mkdir()
    (folder / "m.csv").write_text("path\na.mp4\n")
    with pytest.raises(ManifestError, match="the manifest's path is not valid UTF-8") as caught:
        iter_manifest(folder / "m.csv")
    str(caught.value).encode("utf-8")


def test_one_file_under_several_rows_is_uploaded_once_unless_asked(library: Path) -> None:
    (library / "link.mp4").symlink_to(library / "a.mp4")
    os.link(library / "b.mp4", library / "hard.mp4")
    rows = f"a.mp4\n./a.mp4\n{library / 'a.mp4'}\nlink.mp4\nb.mp4\nhard.mp4\n"
    results = read(library, "path\n" + rows)
    assert [e.location for e in entries(results)] == ["m.csv:2", "m.csv:6"]
    skipped = [r for r in results if isinstance(r, ManifestProblem)]
    assert all(r.warning for r in skipped)  # warnings, never failed jobs
    same_path = "the same file as row m.csv:2 (the same path): this row is skipped"
    assert skipped[0].location == "m.csv:3" and skipped[0].reason.startswith(same_path)
    for problem, earlier in zip(skipped[1:], ("m.csv:2", "m.csv:2", "m.csv:6"), strict=True):
        assert problem.reason.startswith(f"the same file as row {earlier}: this row is skipped")
        assert "--allow-duplicate-files" in problem.reason

    # Asked for: distinct ids on both rows, or the flag (not for the same path written twice).
    with_ids = read(library, "id,path\nx,a.mp4\ny,link.mp4\nz,b.mp4\n,hard.mp4\n")
    assert [e.job_id for e in entries(with_ids)] == ["x", "y", "z"]
    assert entries(with_ids)[1].notice == (
        "the same file as row m.csv:2: uploaded once per row, as asked (distinct ids)"
    )
    assert [p.location for p in with_ids if isinstance(p, ManifestProblem)] == ["m.csv:5"]
    (library / "m.csv").write_text("path\n" + rows)
    flagged = list(iter_manifest(library / "m.csv", allow_duplicate_files=True))
    assert [e.location for e in entries(flagged)] == [
        "m.csv:2",
        *(f"m.csv:{n}" for n in (4, 5, 6, 7)),
    ]
    assert [p.location for p in flagged if isinstance(p, ManifestProblem)] == ["m.csv:3"]
    assert "(--allow-duplicate-files)" in entries(flagged)[1].notice
