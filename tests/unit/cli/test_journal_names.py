"""How a journal is named in messages: never a password, always the schema."""

from __future__ import annotations

from pathlib import Path

from vidlift.cli.journals import describe_journal


def test_a_path_is_itself() -> None:
    assert describe_journal(Path("/data/lib.csv.vidlift.sqlite")) == "/data/lib.csv.vidlift.sqlite"


def test_a_url_keeps_its_schema_and_loses_its_password_and_other_parameters() -> None:
    url = "postgresql://mig:s3cret@db.example.com:5432/migration?sslmode=require&schema=lib_b"
    shown = describe_journal(url)
    assert shown == "postgresql://mig@db.example.com:5432/migration?schema=lib_b"
    assert "s3cret" not in shown


def test_a_url_without_a_schema_names_none() -> None:
    assert describe_journal("postgresql://db/test") == "postgresql://db/test"
