"""The lazy command group: every listed command loads; help needs no import."""

from __future__ import annotations

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
