"""The ``vidlift`` command group (cli layer).

Subcommands are imported when they run, so that ``vidlift run`` does not pay for
importing the emulator (``serve``, ``demo``) and the other way round.

Start-up (issue 15): users script one ``vidlift upload`` per file, so what a process costs
before its first byte counts. Importing the stack makes hundreds of thousands of objects
and almost no garbage, yet the cyclic collector would walk them again and again as they
are made (about a tenth of a short upload's CPU, benchmarks/RESULTS.md). So the collector
is off while commands are imported and set up, and :func:`start_collecting` turns it
back on, with what exists by then frozen (never walked again), before a command's work.
The command also skips pydantic's plugin discovery, which reads the entry points of every
distribution installed beside vidlift (7 ms in the development environment's 102, more in
a big shared one) to find plugins the command's own settings and answers have no use for;
``PYDANTIC_DISABLE_PLUGINS`` set by the user (even empty: every plugin) is kept.
"""

from __future__ import annotations

import gc
import importlib
import os

import click

from vidlift import __version__

# name -> ("module:attribute", the one-line help `vidlift --help` shows without importing)
COMMANDS = {
    "upload": (
        "vidlift.cli.upload:upload",
        "Upload one file (through the API, or to an upload URL).",
    ),
    "run": ("vidlift.cli.run:run", "Migrate every file of a manifest; run again to resume."),
    "status": ("vidlift.cli.status:status", "Is a run active; its rate, ETA, failures by reason."),
    "report": ("vidlift.cli.records:report", "One row per manifest row: id, path, video key..."),
    "retry": ("vidlift.cli.records:retry", "Queue failed jobs again."),
    "enqueue": ("vidlift.cli.fleet:enqueue", "Queue a manifest's jobs in a shared journal."),
    "worker": (
        "vidlift.cli.fleet:worker",
        "Take jobs from a shared journal (on any host).",
    ),
    "serve": ("vidlift.cli.serve:serve", "Run the local JW Platform emulator."),
    "demo": ("vidlift.cli.demo:demo", "Migrate a generated sample library into the emulator."),
}

# Commands that import their stack inside the command (after the flags are parsed, so that
# --help and usage errors stay cheap) and call start_collecting themselves, once imported.
_START_COLLECTING_THEMSELVES = frozenset({"upload"})


def start_collecting() -> None:
    """Turn the cyclic garbage collector back on after start-up (see the module's doc)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        target = COMMANDS[cmd_name][0]
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        if cmd_name not in _START_COLLECTING_THEMSELVES:
            start_collecting()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, short_help) for name, (_, short_help) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vidlift")
def cli() -> None:
    """Move whole video libraries into JW Platform, resumably."""


def main() -> None:
    """Entry point of the console script."""
    gc.disable()  # until start_collecting
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # see the module's doc
    cli()
