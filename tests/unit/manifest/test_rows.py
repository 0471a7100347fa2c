"""Field rules of a manifest row: dates, tags, custom parameters, the row model."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from vidlift.manifest import ManifestEntry, ManifestRow
from vidlift.manifest.rows import describe_validation_error, parse_date, parse_tags


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1237387851, datetime(2009, 3, 18, 14, 50, 51, tzinfo=UTC)),
        ("1237387851", datetime(2009, 3, 18, 14, 50, 51, tzinfo=UTC)),
        (" 1237387851.5 ", datetime(2009, 3, 18, 14, 50, 51, 500000, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        ("2021-03-04", datetime(2021, 3, 4, tzinfo=UTC)),
        ("2021-03-04T10:30:00", datetime(2021, 3, 4, 10, 30, tzinfo=UTC)),
        ("2021-03-04 10:30", datetime(2021, 3, 4, 10, 30, tzinfo=UTC)),
        ("2021-03-04T10:30:00Z", datetime(2021, 3, 4, 10, 30, tzinfo=UTC)),
        ("2021-03-04T12:30:00+02:00", datetime(2021, 3, 4, 10, 30, tzinfo=UTC)),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_dates(value: object, expected: datetime | None) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


def test_offset_dates_become_utc() -> None:
    parsed = parse_date(
        datetime(2021, 3, 4, 12, 0, tzinfo=timezone(timedelta(hours=5))).isoformat()
    )
    assert parsed is not None and parsed.tzinfo == UTC and parsed.hour == 7


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("04/03/2021", "cannot read '04/03/2021' as a date: use a Unix timestamp or an ISO date"),
        ("yesterday", "cannot read 'yesterday' as a date"),
        ("1615000000000", "out of range (years 1-9999; Unix timestamps are in seconds"),
        (float("nan"), "cannot read 'nan' as a date"),
        (float("inf"), "cannot read 'inf' as a date"),
        (True, "cannot read True as a date"),
        ([2021], "cannot read a list as a date"),
        ("9999-12-31T23:59:59-01:00", "out of range"),
    ],
)
def test_bad_dates(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_date(value)
    assert message in str(caught.value)


def test_tags() -> None:
    assert parse_tags("news, archive ,news,, ") == ("news", "archive")
    assert parse_tags(["a", " b ", "", "a"]) == ("a", "b")
    assert parse_tags(None) == ()
    with pytest.raises(ValueError, match="every tag must be text"):
        parse_tags(["a", 3])
    with pytest.raises(ValueError, match="comma-separated text or a list"):
        parse_tags(3)


def test_row_model_reads_json_values() -> None:
    row = ManifestRow.model_validate(
        {
            "path": " a.mp4 ",
            "id": 1234,
            "title": " Title ",
            "tags": ["x", "y"],
            "date": 0,
            "custom": {"n": 5, "f": 1.5, "b": True, "none": None, "s": "text"},
        }
    )
    assert (row.path, row.id, row.title, row.tags) == ("a.mp4", "1234", "Title", ("x", "y"))
    assert row.custom == {"n": "5", "f": "1.5", "b": "true", "s": "text"}
    assert row.date == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": 5}, "title: Input should be a valid string"),
        ({"custom": {"x": {"y": 1}}}, "custom: custom.x must be text, a number or a boolean"),
        ({"custom": [1]}, "custom: must be an object of name -> text"),
        ({"custom": {" ": "v"}}, "custom: custom parameter names must be non-blank text"),
        (
            {"date": "soon", "tags": 5},
            "tags: must be comma-separated text or a list of texts; date:",
        ),
        ({"id": 1.5}, "id: id must be text or a whole number"),
        ({"id": "a\tb"}, "id: id contains a tab, line break or other control character"),
    ],
)
def test_row_model_reasons(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ManifestRow.model_validate(fields)
    assert describe_validation_error(caught.value).startswith(reason)


def test_entry_is_immutable_and_hashable() -> None:
    custom = {"k": "v"}
    entry = ManifestEntry("j", Path("/a.mp4"), 1, 2, custom=custom)
    custom["k"] = "changed"
    assert entry.custom == {"k": "v"}
    with pytest.raises(TypeError):
        entry.custom["k"] = "x"  # type: ignore[index]
    assert hash(entry) == hash(ManifestEntry("j", Path("/a.mp4"), 1, 2, custom={"k": "v"}))
    assert entry == ManifestEntry("j", Path("/a.mp4"), 1, 2, custom={"k": "v"})
    assert entry != ManifestEntry("j", Path("/a.mp4"), 1, 2, custom={"k": "w"})
