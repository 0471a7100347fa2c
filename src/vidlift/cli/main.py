"""The ``vidlift`` command group (cli layer).

Subcommands are imported when they run, so that ``vidlift run`` does not pay for
importing the emulator (``serve``, ``demo``) and the other way round.
"""

from __future__ import annotations

import importlib

import click

from vidlift import __version__

# name -> "module:attribute"
COMMANDS = {
    "upload": "vidlift.cli.upload:upload",
    "run": "vidlift.cli.run:run",
    "status": "vidlift.cli.records:status",
    "report": "vidlift.cli.records:report",
    "retry": "vidlift.cli.records:retry",
    "serve": "vidlift.cli.serve:serve",
    "demo": "vidlift.cli.demo:demo",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vidlift")
def cli() -> None:
    """Move whole video libraries into JW Platform, resumably."""


def main() -> None:
    """Entry point of the console script."""
    cli()
