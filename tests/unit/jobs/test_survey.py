"""The library's tag on the platform: the same library whatever path names its manifest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

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
