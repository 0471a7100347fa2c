"""The ``vidlift`` command group (cli layer)."""

from __future__ import annotations

import click

from vidlift import __version__
from vidlift.cli.demo import demo
from vidlift.cli.records import report, retry, status
from vidlift.cli.run import run
from vidlift.cli.serve import serve
from vidlift.cli.upload import upload


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vidlift")
def cli() -> None:
    """Move whole video libraries into JW Platform, resumably."""


cli.add_command(demo)
cli.add_command(serve)
for command in (run, status, report, retry):
    cli.add_command(command)
cli.add_command(upload)


def main() -> None:
    """Entry point of the console script."""
    cli()
