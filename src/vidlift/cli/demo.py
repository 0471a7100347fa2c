"""``vidlift demo``: the main job on the embedded default (cli layer).

Starts the bundled emulator, generates a sample library and its manifest, migrates it
with the live display, prints the report; then runs the same command again to show
that nothing is sent twice.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import anyio
import click

from vidlift.cli.display import LiveDisplay
from vidlift.cli.eventlog import LineDisplay
from vidlift.cli.journals import default_journal_path
from vidlift.cli.records import print_report_table
from vidlift.cli.run import migrate
from vidlift.cli.settings import RunConfig
from vidlift.cli.view import BatchView, human_bytes
from vidlift.journal.sqlite import SqliteJournal
from vidlift.journal.state import JobState
from vidlift.testing.emulator import Emulator, EmulatorConfig
from vidlift.testing.library import write_sample_library

__all__ = ["demo"]


async def _migrate(
    manifest: Path, emu: Emulator, display: LineDisplay | LiveDisplay, *, show_report: bool
) -> None:
    journal = await SqliteJournal.open(default_journal_path(manifest))
    try:
        # vidlift run's own path, with its defaults
        config = RunConfig(endpoint=emu.endpoint, api_key=emu.api_key, api_secret=emu.api_secret)
        with display:
            await migrate(journal, manifest, display, config)
        counts = await journal.counts()
        if show_report:
            await print_report_table(journal)
        done = counts.by_state.get(JobState.DONE, 0)
        click.echo(
            f"{done} of {counts.total_jobs} files on the platform, {human_bytes(counts.done_bytes)}"
        )
    finally:
        await journal.close()


async def _run(workdir: Path, count: int) -> None:
    manifest = await anyio.to_thread.run_sync(write_sample_library, workdir, count)
    click.echo(f"sample library: {count} files, manifest {manifest}")
    async with Emulator(EmulatorConfig(data_dir=workdir / "emulator")) as emu:
        click.echo(f"emulator running at {emu.endpoint}")
        display = (
            LiveDisplay(BatchView())
            if sys.stderr.isatty()
            else LineDisplay(BatchView(), as_json=False)
        )
        await _migrate(manifest, emu, display, show_report=True)
        before = emu.request_counts().get("segment", 0)
        click.echo("running the same migration again (it must send nothing):")
        await _migrate(manifest, emu, LineDisplay(BatchView(), as_json=False), show_report=False)
        again = emu.request_counts().get("segment", 0) - before
        click.echo(
            f"second run sent {again} segments; the emulator holds {len(emu.videos())} videos"
        )


@click.command()
@click.option(
    "--files", "count", default=40, show_default=True, help="Files in the sample library."
)
@click.option("--keep", is_flag=True, help="Keep the generated files, journal and emulator data.")
def demo(count: int, keep: bool) -> None:
    """Migrate a generated sample library into the bundled emulator, then print the report."""
    workdir = Path(tempfile.mkdtemp(prefix="vidlift-demo-"))
    try:
        anyio.run(_run, workdir, count)
    finally:
        if keep:
            click.echo(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
