"""``vidlift run MANIFEST``: the migration itself (cli layer).

Exit codes: 0 all done; 1 some jobs failed; 2 usage or configuration error;
130 interrupted (Ctrl-C or SIGTERM). Running the same command again resumes.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import click

from vidlift.cli.display import BatchView, LineDisplay, LiveDisplay, human_bytes
from vidlift.cli.eventloop import backend_options
from vidlift.cli.journals import default_journal_path, open_journal
from vidlift.cli.options import size_type, warn_insecure
from vidlift.cli.settings import RunConfig, load_run_config
from vidlift.errors import ConfigError, VidliftError
from vidlift.jobs.batch import run_batch
from vidlift.jobs.ingest import ingest_manifest
from vidlift.jobs.manager import RUNNABLE_STATES, BatchOutcome
from vidlift.journal.base import JobCounts, Journal
from vidlift.journal.state import JobState

__all__ = ["ingest_into_view", "migrate", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _display(config: RunConfig) -> LineDisplay | LiveDisplay:
    view = BatchView()
    mode = config.log_format
    if mode == "auto":
        mode = "rich" if sys.stderr.isatty() else "text"
    if mode == "rich":
        return LiveDisplay(view)
    return LineDisplay(view, as_json=mode == "json")


async def _watch_signals(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if stop.is_set():
                click.echo("vidlift: stopping now", err=True)
                scope.cancel()
                return
            name = signal.Signals(signum).name
            click.echo(
                f"vidlift: {name}: starting no new upload, finishing segments in flight "
                "(press Ctrl-C again to stop at once)",
                err=True,
            )
            stop.set()


async def _dry_run(journal: Journal, manifest: Path, strict: bool) -> int:
    stats = await ingest_manifest(journal, manifest, strict=strict)
    counts = await journal.counts()
    click.echo(
        f"dry run: {stats.rows} rows read, {stats.new_jobs} new jobs, {stats.problems} bad rows"
    )
    for state, count in counts.by_state.items():
        if count:
            click.echo(f"  {state.value:10} {count}")
    click.echo(f"  bytes to send: {human_bytes(counts.total_bytes - counts.done_bytes)}")
    return EXIT_OK


async def _run(
    manifest: Path, journal_path: Path, config: RunConfig, options: dict[str, Any]
) -> int:
    journal = await open_journal(journal_path)
    try:
        if options["dry_run"]:
            return await _dry_run(journal, manifest, options["strict"])
        config.credentials()  # before the display starts
        display = _display(config)
        stop = anyio.Event()
        outcome: BatchOutcome | None = None
        with display:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_watch_signals, stop, tg.cancel_scope)
                outcome = await migrate(
                    journal, manifest, display, config, strict=options["strict"], stop=stop
                )
                tg.cancel_scope.cancel()
        return await _finish(journal, outcome, stop.is_set())
    finally:
        with anyio.CancelScope(shield=True):
            await journal.close()


async def migrate(
    journal: Journal,
    manifest: Path,
    display: LineDisplay | LiveDisplay,
    config: RunConfig,
    *,
    strict: bool = False,
    stop: anyio.Event | None = None,
) -> BatchOutcome:
    """What ``vidlift run`` (and ``vidlift demo``) do with an open journal: queue the
    manifest's rows, size ``concurrency = auto`` for the files left, run the batch."""
    api_key, api_secret = config.credentials()
    counts = await ingest_into_view(journal, manifest, display, strict=strict)
    settings = config.batch_settings(_mean_left_bytes(counts))
    display.view.concurrency = settings.concurrency
    return await run_batch(
        None,
        journal=journal,
        api_key=api_key,
        api_secret=api_secret,
        endpoint=config.endpoint,
        settings=settings,
        bwlimit_bytes_per_s=config.bwlimit,
        on_event=display,
        stop=stop,
    )


def _runnable(counts: JobCounts) -> int:
    return sum(counts.by_state.get(state, 0) for state in RUNNABLE_STATES)


def _mean_left_bytes(counts: JobCounts) -> float | None:
    """The bytes not done yet per runnable job (failed jobs' bytes count too: the journal
    sums sizes by done / not done only); None when no job is runnable."""
    left = _runnable(counts)
    return (counts.total_bytes - counts.done_bytes) / left if left else None


async def ingest_into_view(
    journal: Journal, manifest: Path, display: LineDisplay | LiveDisplay, *, strict: bool
) -> JobCounts:
    """Queue the manifest's rows, then start the display's totals from the journal's
    counts (returned)."""
    await ingest_manifest(journal, manifest, strict=strict, on_event=display)
    counts = await journal.counts()
    view = display.view
    view.total_jobs = counts.total_jobs
    view.total_bytes = counts.total_bytes
    view.done_bytes = counts.done_bytes
    view.done_jobs = counts.by_state.get(JobState.DONE, 0)
    return counts


async def _finish(journal: Journal, outcome: BatchOutcome | None, interrupted: bool) -> int:
    counts = await journal.counts()
    by = counts.by_state
    left = _runnable(counts)
    click.echo(
        f"vidlift: {by.get(JobState.DONE, 0)} done, {by.get(JobState.FAILED, 0)} failed, "
        f"{left} left, of {counts.total_jobs} jobs; {human_bytes(counts.done_bytes)} of "
        f"{human_bytes(counts.total_bytes)} on the platform",
        err=True,
    )
    for failure in counts.recent_failures[:5]:
        click.echo(f"  failed: {failure.location} {failure.path}: {failure.error}", err=True)
    if outcome is not None and outcome.stopped_by:
        click.echo(f"vidlift: the batch stopped: {outcome.stopped_by}", err=True)
        return EXIT_USAGE
    if interrupted or outcome is None:
        click.echo("vidlift: interrupted; run the same command again to resume", err=True)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if by.get(JobState.FAILED, 0) else EXIT_OK


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Journal file (default: MANIFEST's name + .vidlift.sqlite, next to it).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="VIDLIFT_CONFIG",
    default=None,
    help="TOML settings file.",
)
@click.option("--endpoint", default=None, help="API base URL.")
@click.option("--api-key", default=None)
@click.option("--api-secret", default=None, help="Prefer VIDLIFT_API_SECRET; never printed.")
@click.option(
    "--concurrency",
    default=None,
    help="Files in flight, or auto (default): 8, up to 64 when the files are small.",
)
@click.option("--chunk-size", type=size_type, default=None, help="Segment size (default 8MiB).")
@click.option("--bwlimit", type=size_type, default=None, help="Total bandwidth cap, e.g. 50M.")
@click.option(
    "--max-attempts", type=int, default=None, help="Failures in a row before a job fails."
)
@click.option("--log-format", type=click.Choice(["auto", "rich", "text", "json"]), default=None)
@click.option("--insecure", is_flag=True, default=None, help="Do not verify TLS certificates.")
@click.option(
    "--verify-md5/--no-verify-md5",
    default=None,
    help="Compare each file's md5 with the platform's (default on; off saves ~1.5 CPU s/GB).",
)
@click.option(
    "--event-loop",
    type=click.Choice(["asyncio", "uvloop"]),
    default=None,
    help="Event loop (default asyncio: its sendfile gives zero-copy segments).",
)
@click.option(
    "--s3-endpoint-url",
    default=None,
    help="S3-compatible store for s3:// rows (default: AWS). Credentials: the AWS chain.",
)
@click.option("--strict", is_flag=True, help="Stop at the first bad manifest row.")
@click.option("--dry-run", is_flag=True, help="Read the manifest and show what would be done.")
def run(manifest: Path, journal_path: Path | None, config_file: Path | None, **flags: Any) -> None:
    """Migrate every file of MANIFEST (CSV or JSON Lines). Safe to kill; run again to resume."""
    options = {"dry_run": flags.pop("dry_run"), "strict": flags.pop("strict")}
    try:
        config = load_run_config(flags, config_file=config_file)
        if not manifest.is_file():
            raise ConfigError(f"{manifest}: manifest not found")
        if config.insecure:
            warn_insecure()
        loop = backend_options(config.event_loop)
        code = anyio.run(
            _run,
            manifest,
            journal_path or default_journal_path(manifest),
            config,
            options,
            backend_options=loop,
        )
    except ConfigError as exc:
        click.echo(f"vidlift: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except VidliftError as exc:
        click.echo(f"vidlift: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(code)
