"""``vidlift demo``: the main job on the embedded default (cli layer).

Starts the bundled emulator, generates a sample library and its manifest, migrates it
with the live display, prints the report; then runs the same command again to show
that nothing is sent twice. ``--api v2`` does the same through JW's v2 API (parts in
flight, the emulator's v2 half), so both platforms can be seen working.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Literal

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

Api = Literal["v1", "v2"]


async def _migrate(
    manifest: Path,
    emu: Emulator,
    display: LineDisplay | LiveDisplay,
    *,
    api: Api,
    show_report: bool,
) -> None:
    journal = await SqliteJournal.open(default_journal_path(manifest))
    try:
        # vidlift run's own path, with its defaults
        config = RunConfig(
            endpoint=emu.endpoint,
            api_key=emu.api_key,
            api_secret=emu.api_secret,
            api=api,
            site_id=emu.site_id if api == "v2" else None,
        )
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


async def _run(workdir: Path, count: int, api: Api) -> None:
    manifest = await anyio.to_thread.run_sync(write_sample_library, workdir, count)
    click.echo(f"sample library: {count} files, manifest {manifest}")
    async with Emulator(EmulatorConfig(data_dir=workdir / "emulator")) as emu:
        click.echo(f"emulator running at {emu.endpoint}, speaking JW's {api} API")
        display = (
            LiveDisplay(BatchView())
            if sys.stderr.isatty()
            else LineDisplay(BatchView(), as_json=False)
        )
        await _migrate(manifest, emu, display, api=api, show_report=True)
        unit = "segment" if api == "v1" else "part"  # the emulator's counter of body requests
        before = emu.request_counts().get(unit, 0)
        click.echo("running the same migration again (it must send nothing):")
        again_display = LineDisplay(BatchView(), as_json=False)
        await _migrate(manifest, emu, again_display, api=api, show_report=False)
        again = emu.request_counts().get(unit, 0) - before
        held = len(emu.videos()) if api == "v1" else len(emu.media())
        click.echo(
            f"second run sent {again} {unit}s; the emulator holds {held} "
            f"{'videos' if api == 'v1' else 'media'}"
        )


@click.command()
@click.option(
    "--files", "count", default=40, show_default=True, help="Files in the sample library."
)
@click.option(
    "--api",
    type=click.Choice(["v1", "v2"]),
    default="v1",
    show_default=True,
    help="JW API to migrate through: v1 (the seed's resumable protocol) or v2 (parts).",
)
@click.option("--keep", is_flag=True, help="Keep the generated files, journal and emulator data.")
def demo(count: int, api: str, keep: bool) -> None:
    """Migrate a generated sample library into the bundled emulator, then print the report."""
    workdir = Path(tempfile.mkdtemp(prefix="vidlift-demo-"))
    try:
        anyio.run(_run, workdir, count, "v2" if api == "v2" else "v1")
    finally:
        if keep:
            click.echo(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
