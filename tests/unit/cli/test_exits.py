"""How commands end: errors inside task groups reach the user as one clear line."""

from __future__ import annotations

import anyio
import click
import pytest
from click.testing import CliRunner

from vidlift.cli.exits import fatal_errors, unwrap_error
from vidlift.cli.wording import count_of
from vidlift.errors import JournalError, ManifestError
from vidlift.journal.sqlite_schema import STATES


def test_unwrap_finds_the_vidlift_error_in_nested_groups() -> None:
    error = ManifestError("m.csv:1", "the header has no `path` column")
    group = BaseExceptionGroup("outer", [ExceptionGroup("inner", [ValueError("x"), error])])
    assert unwrap_error(group) is error
    interrupted = BaseExceptionGroup("g", [error, KeyboardInterrupt()])
    assert isinstance(unwrap_error(interrupted), KeyboardInterrupt)
    assert unwrap_error(error) is error


async def _fails_in_a_task_group() -> None:
    async def fail() -> None:
        raise JournalError("journal j.sqlite: disk full")

    async with anyio.create_task_group() as group:
        group.start_soon(fail)


@click.command()
def _command() -> None:
    with fatal_errors():
        anyio.run(_fails_in_a_task_group)


def test_an_error_from_a_task_group_exits_2_without_traceback() -> None:
    result = CliRunner().invoke(_command)
    assert result.exit_code == 2
    assert result.output.strip() == "vidlift: error: journal j.sqlite: disk full"


def test_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(ExceptionGroup), fatal_errors():
        raise ExceptionGroup("g", [ValueError("a bug")])


def test_an_unknown_stored_state_is_a_journal_error() -> None:
    with pytest.raises(JournalError, match="a job is in state 'weird'"):
        STATES["weird"]


def test_wording() -> None:
    assert (count_of(1, "segment"), count_of(2, "segment")) == ("1 segment", "2 segments")
