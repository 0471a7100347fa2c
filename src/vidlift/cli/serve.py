"""``vidlift serve``: run the platform emulator (cli layer). Placeholder until the emulator lands."""

from __future__ import annotations

import click


@click.command()
def serve() -> None:
    """Run the local JW Platform emulator."""
    raise click.ClickException("the emulator is not built yet")
