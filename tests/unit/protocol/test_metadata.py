"""Video metadata into videos/create parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from vidlift.protocol.metadata import VideoMetadata


def test_empty_metadata_has_no_parameters() -> None:
    assert VideoMetadata().to_params() == {}


def test_every_field() -> None:
    metadata = VideoMetadata(
        title="Holiday",
        description="Sea & sun",
        tags=("beach", "family"),
        date=datetime(2012, 8, 8, 9, 24, 34, tzinfo=UTC),
        link="http://example.com/holiday",
        custom={"legacy_id": "1234", "source": "vimeo"},
    )
    assert metadata.to_params() == {
        "title": "Holiday",
        "description": "Sea & sun",
        "tags": "beach, family",
        "date": "1344417874",
        "link": "http://example.com/holiday",
        "custom.legacy_id": "1234",
        "custom.source": "vimeo",
    }


def test_dates_are_unix_seconds_and_naive_dates_are_utc() -> None:
    aware = datetime(2012, 8, 8, 11, 24, 34, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2012, 8, 8, 9, 24, 34)
    assert VideoMetadata(date=aware).to_params() == {"date": "1344417874"}
    # the same whatever time zone the machine is in
    assert VideoMetadata(date=naive).to_params() == {"date": "1344417874"}
    assert VideoMetadata(date=datetime(1970, 1, 1, tzinfo=UTC)).to_params() == {"date": "0"}
