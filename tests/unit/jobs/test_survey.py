"""The library's tag and the sources' tags on the platform: the same library and the same
source whatever path or working directory names them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vidlift.jobs.job import source_tag, source_tags
from vidlift.jobs.survey import library_tag


def test_a_tag_is_the_digest_of_the_absolute_path_so_existing_libraries_keep_theirs() -> None:
    expected = hashlib.sha256(b"/data/lib.csv").hexdigest()[:16]
    assert library_tag(Path("/data/lib.csv")) == expected


def test_a_path_through_dot_dot_names_the_same_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    elsewhere = tmp_path / "home"
    data.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert library_tag(Path("../data/lib.csv")) == library_tag(data / "lib.csv")
    monkeypatch.chdir(data)
    assert library_tag(Path("lib.csv")) == library_tag(data / "lib.csv")
    assert library_tag(Path("./sub/../lib.csv")) == library_tag(data / "lib.csv")


def test_different_manifests_are_different_libraries() -> None:
    assert library_tag(Path("/data/a.csv")) != library_tag(Path("/data/b.csv"))


def test_a_url_sources_tag_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://cdn.example.com/v/a.mp4"
    monkeypatch.chdir(tmp_path)
    here = source_tags(url)
    monkeypatch.chdir("/")
    there = source_tags(url)
    assert here[0] == there[0] == hashlib.sha256(url.encode()).hexdigest()[:16]
    # The form vidlift wrote before, under the working directory, is still accepted.
    assert (
        here[1]
        == hashlib.sha256(f"{tmp_path}/https:/cdn.example.com/v/a.mp4".encode()).hexdigest()[:16]
    )
    assert source_tag(url) == here[0]


def test_a_files_tag_is_its_absolute_path_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = hashlib.sha256(f"{tmp_path}/v/a.mp4".encode()).hexdigest()[:16]
    assert source_tags(Path("v/a.mp4")) == (expected,)
    assert source_tag(str(tmp_path / "v" / "a.mp4")) == expected
