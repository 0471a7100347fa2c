"""The ``vidlift`` command group (cli layer)."""

from __future__ import annotations

import click

from vidlift import __version__
from vidlift.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vidlift")
def cli() -> None:
    """Move whole video libraries into JW Platform, resumably."""


cli.add_command(serve)


def main() -> None:
    """Entry point of the console script."""
    cli()
