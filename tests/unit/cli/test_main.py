"""The lazy command group: every listed command loads; help needs no import."""

from __future__ import annotations

import gc

import click
from click.testing import CliRunner

from vidlift.cli.main import COMMANDS, cli


def test_every_listed_command_loads() -> None:
    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert isinstance(command, click.Command), name
        assert command.name == name
    assert cli.get_command(context, "nope") is None


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output


def test_a_command_turns_the_garbage_collector_back_on_before_its_work() -> None:
    # main() turns it off for start-up; loading a command turns it on again, except for
    # `upload`, which imports its stack inside the command and turns it on itself
    context = click.Context(cli)
    try:
        gc.disable()
        cli.get_command(context, "upload")
        assert not gc.isenabled()
        cli.get_command(context, "status")
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # what start-up made is not walked again
    finally:
        gc.unfreeze()
        gc.enable()
