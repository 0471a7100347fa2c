"""``vidlift run MANIFEST``: the migration itself (cli layer).

Exit codes: 0 all done; 1 some jobs failed; 2 usage or configuration error;
130 interrupted (Ctrl-C or SIGTERM). Running the same command again resumes.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union

import anyio
import click

from vidlift.cli.beacon import write_beacons
from vidlift.cli.eventlog import LineDisplay
from vidlift.cli.eventloop import backend_options
from vidlift.cli.exits import fatal_errors, warn
from vidlift.cli.history import HistoryRecorder
from vidlift.cli.journals import JournalRef, as_ref, default_journal_path, open_journal
from vidlift.cli.options import (
    chunk_size_option,
    config_option,
    duplicate_files_option,
    size_type,
    warn_insecure,
)
from vidlift.cli.preview import dry_run
from vidlift.cli.settings import RunConfig, load_run_config
from vidlift.cli.view import BatchView, human_bytes
from vidlift.cli.wording import count_of
from vidlift.errors import ConfigError
from vidlift.jobs.batch import run_batch
from vidlift.jobs.events import BatchEvent, EventSink
from vidlift.jobs.ingest import IngestStats, ingest_manifest
from vidlift.jobs.manager import RUNNABLE_STATES, BatchOutcome
from vidlift.jobs.membership import AbsentJobs, find_absent, in_manifest
from vidlift.jobs.survey import library_tag
from vidlift.journal.base import JobCounts, Journal
from vidlift.journal.state import JobState
from vidlift.manifest.ids import SeenIds

if TYPE_CHECKING:
    from vidlift.cli.display import LiveDisplay
    from vidlift.cli.metrics import MetricsExporter

__all__ = ["Display", "ingest_into_view", "make_display", "migrate", "run"]

Display = Union["LineDisplay", "LiveDisplay"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def make_display(config: RunConfig) -> Display:
    """The live display on a terminal (rich is imported only then), else log lines."""
    view = BatchView()
    mode = config.log_format
    if mode == "auto":
        mode = "rich" if sys.stderr.isatty() else "text"
    if mode == "rich":
        from vidlift.cli.display import LiveDisplay

        return LiveDisplay(view)
    return LineDisplay(view, as_json=mode == "json", interval_s=config.log_interval_s)


def _start_metrics(config: RunConfig, view: BatchView) -> MetricsExporter | None:
    """Serve Prometheus metrics when ``metrics_port`` is set (prometheus-client is
    imported only then). Raises ConfigError when the port cannot be used."""
    if not config.metrics_port:
        return None
    from vidlift.cli.metrics import MetricsExporter

    exporter = MetricsExporter(view)
    exporter.serve(config.metrics_port, config.metrics_addr)
    return exporter


async def _watch_signals(stop: anyio.Event, scope: anyio.CancelScope, display: Display) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if stop.is_set():
                display.notice("vidlift: stopping now")
                scope.cancel()
                return
            name = signal.Signals(signum).name
            display.notice(
                f"vidlift: {name}: finishing segments in flight; Ctrl-C again stops at once"
            )
            stop.set()


async def _run(
    manifest: Path, journal_path: JournalRef, config: RunConfig, options: dict[str, Any]
) -> int:
    if options["dry_run"]:
        return await dry_run(
            journal_path,
            manifest,
            strict=options["strict"],
            allow_duplicate_files=options["allow_duplicate_files"],
        )
    journal = await open_journal(journal_path)
    try:
        config.credentials()  # before the display starts
        if isinstance(journal_path, str):  # a shared journal: enqueue + one worker
            from vidlift.cli.fleet import run_shared

            return await run_shared(
                journal,
                manifest,
                config,
                strict=options["strict"],
                allow_duplicate_files=options["allow_duplicate_files"],
            )
        display = make_display(config)
        metrics = _start_metrics(config, display.view)
        history = HistoryRecorder(journal_path, display.view)
        observers: list[Observer] = [history] if metrics is None else [history, metrics]
        stop = anyio.Event()
        migration: Migration | None = None
        try:
            with display, history:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_watch_signals, stop, tg.cancel_scope, display)
                    tg.start_soon(write_beacons, journal_path, display.view)
                    migration = await migrate(
                        journal,
                        manifest,
                        display,
                        config,
                        strict=options["strict"],
                        allow_duplicate_files=options["allow_duplicate_files"],
                        stop=stop,
                        observers=observers,
                    )
                    tg.cancel_scope.cancel()
        finally:
            if metrics is not None:
                metrics.close()
        outcome = migration.outcome if migration is not None else None
        absent = migration.absent if migration is not None else None
        return await _finish(journal, outcome, stop.is_set(), absent=absent)
    finally:
        with anyio.CancelScope(shield=True):
            await journal.close()


@dataclass(slots=True)
class Migration:
    """What :func:`migrate` did: the batch's outcome, and the journal's jobs that are no
    longer rows of the manifest (not part of the run) with the manifest's job ids."""

    outcome: BatchOutcome
    absent: AbsentJobs
    present: SeenIds


async def migrate(
    journal: Journal,
    manifest: Path,
    display: Display,
    config: RunConfig,
    *,
    strict: bool = False,
    allow_duplicate_files: bool = False,
    stop: anyio.Event | None = None,
    observers: Sequence[Observer] = (),
) -> Migration:
    """What ``vidlift run`` (and ``vidlift demo``) do with an open journal: queue the
    manifest's rows, run the batch (which sizes ``concurrency = auto`` for the files left).
    Jobs whose rows left the manifest are not run (nor counted): see
    :mod:`vidlift.jobs.membership`."""
    api_key, api_secret = config.credentials()
    fresh = (await journal.counts()).total_jobs == 0  # a new (or lost) journal: survey
    counts, stats = await ingest_into_view(
        journal, manifest, display, strict=strict, allow_duplicate_files=allow_duplicate_files
    )
    absent = await find_absent(journal, stats.job_ids)
    jobs = None
    if absent.count:
        warn(
            f"{count_of(absent.count, 'job')} of the journal no longer in {manifest.name} "
            f"(e.g. {', '.join(absent.first_ids[:3])}): not part of this run; "
            "`vidlift report` lists them"
        )
        counts = absent.subtract_from(counts)
        _start_view(display.view, counts)
        jobs = in_manifest(journal.iter_jobs(RUNNABLE_STATES), stats.job_ids)
    everyone = (display, *observers)  # the display first: the others read its view
    async with anyio.create_task_group() as tg:
        for observer in everyone:
            tg.start_soon(observer.pulse)
        outcome = await run_batch(
            None,
            journal=journal,
            api_key=api_key,
            api_secret=api_secret,
            endpoint=config.api_endpoint(),
            site_id=config.site_id if config.api == "v2" else None,
            settings=config.batch_settings(),
            bwlimit_bytes_per_s=config.process_bwlimit(),
            on_event=_fan_out(everyone),
            stop=stop,
            library=library_tag(manifest),
            survey=fresh,
            metadata_changes=stats.metadata_changes,
            jobs=jobs,
            secret_urls=stats.secret_urls,
            thumbnail_urls=stats.thumbnail_urls,
        )
        tg.cancel_scope.cancel()
    return Migration(outcome, absent, stats.job_ids)


class Observer(Protocol):
    """What watches a batch: an event sink with a periodic task."""

    def __call__(self, event: BatchEvent) -> None: ...

    async def pulse(self) -> None: ...


def _fan_out(observers: Sequence[Observer]) -> EventSink:
    def each(event: BatchEvent) -> None:
        for observer in observers:
            observer(event)

    return each


def _runnable(counts: JobCounts) -> int:
    return sum(counts.by_state.get(state, 0) for state in RUNNABLE_STATES)


async def ingest_into_view(
    journal: Journal,
    manifest: Path,
    display: Display,
    *,
    strict: bool,
    allow_duplicate_files: bool = False,
) -> tuple[JobCounts, IngestStats]:
    """Queue the manifest's rows, then start the display's totals from the journal's
    counts (returned, with what the ingest found)."""
    stats = await ingest_manifest(
        journal,
        manifest,
        strict=strict,
        on_event=display,
        allow_duplicate_files=allow_duplicate_files,
    )
    for text in stats.warnings:
        warn(text)
    counts = await journal.counts()
    _start_view(display.view, counts)
    return counts, stats


def _start_view(view: BatchView, counts: JobCounts) -> None:
    view.total_jobs = counts.total_jobs
    view.total_bytes = counts.total_bytes
    view.done_bytes = counts.done_bytes
    view.done_jobs = counts.by_state.get(JobState.DONE, 0)
    view.failed_jobs = counts.by_state.get(JobState.FAILED, 0)


async def _finish(
    journal: Journal,
    outcome: BatchOutcome | None,
    interrupted: bool,
    *,
    absent: AbsentJobs | None = None,
) -> int:
    """The final summary and the exit code; with ``absent``, over the manifest's jobs
    only (and a line for those no longer in it)."""
    counts = await journal.counts()
    if absent is not None and absent.count:
        counts = absent.subtract_from(counts)
        click.echo(
            f"vidlift: {count_of(absent.count, 'job')} of the journal no longer "
            "in the manifest, not counted (vidlift report lists them)",
            err=True,
        )
    by = counts.by_state
    left = _runnable(counts)
    held = counts.done_bytes + counts.acked_bytes  # done files and acknowledged parts
    click.echo(
        f"vidlift: {by.get(JobState.DONE, 0)} done, {by.get(JobState.FAILED, 0)} failed, "
        f"{left} left, of {count_of(counts.total_jobs, 'job')}; {human_bytes(held)} of "
        f"{human_bytes(counts.total_bytes)} on the platform",
        err=True,
    )
    if outcome is not None and outcome.posters_failed:
        click.echo(
            f"vidlift: the poster of {count_of(outcome.posters_failed, 'done video')} could "
            "not be set (poster_failed in the log); the videos themselves are done",
            err=True,
        )
    if outcome is not None and outcome.metadata_updated:
        click.echo(
            f"vidlift: metadata of {outcome.metadata_updated} done "
            f"video{'s' if outcome.metadata_updated != 1 else ''} updated from the manifest",
            err=True,
        )
    for failure in counts.recent_failures[:5]:
        named = (
            "" if failure.path is None or str(failure.path) in failure.error else f" {failure.path}"
        )
        click.echo(f"  failed: {failure.location}{named}: {failure.error}", err=True)
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
    default=None,
    help="Journal file (default: MANIFEST's name + .vidlift.sqlite, next to it), or "
    "postgresql://user@host/db (then: enqueue + one worker, see vidlift worker).",
)
@config_option
@click.option("--endpoint", default=None, help="API base URL.")
@click.option("--api", type=click.Choice(["v1", "v2"]), default=None, help="JW API (default v1).")
@click.option("--site-id", default=None, help="v2: the site id (or VIDLIFT_SITE_ID).")
@click.option("--parts-in-flight", type=int, default=None, help="v2: parts of a file at once.")
@click.option("--api-key", default=None)
@click.option("--api-secret", default=None, help="Prefer VIDLIFT_API_SECRET; never printed.")
@click.option(
    "--concurrency",
    default=None,
    help="Files in flight, or auto (default): 8, up to 64 when the files are small.",
)
@chunk_size_option
@click.option("--bwlimit", type=size_type, default=None, help="Total bandwidth cap, e.g. 50M.")
@click.option(
    "--bwlimit-total",
    type=size_type,
    default=None,
    help="On a postgresql:// journal: the cap for all workers together (this run's share).",
)
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
    "--upload-method",
    type=click.Choice(["multipart", "s3"]),
    default=None,
    help="v1: resumable segments (default), or s3: each file in one signed PUT (not resumable).",
)
@click.option(
    "--wait-ready/--no-wait-ready",
    default=None,
    help="After each upload, wait until the platform has processed the video (ready), "
    "or fail the job with the platform's message.",
)
@click.option(
    "--remote",
    type=click.Choice(["relay", "fetch"]),
    default=None,
    help="download_url rows: relay (vidlift streams the bytes; default) or fetch (the "
    "platform downloads the URL itself; vidlift waits until each video is ready).",
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
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve Prometheus metrics on this port (pip install 'vidlift[metrics]').",
)
@click.option("--metrics-addr", default=None, help="Address for --metrics-port (127.0.0.1).")
@click.option("--strict", is_flag=True, help="Stop at the first bad manifest row.")
@duplicate_files_option
@click.option("--dry-run", is_flag=True, help="Read the manifest and show what would be done.")
def run(manifest: Path, journal_path: str | None, config_file: Path | None, **flags: Any) -> None:
    """Migrate every file of MANIFEST (CSV or JSON Lines). Safe to kill; run again to resume."""
    options = {name: flags.pop(name) for name in ("dry_run", "strict", "allow_duplicate_files")}
    journal = as_ref(journal_path) if journal_path else default_journal_path(manifest)
    # errors from task groups too (an empty manifest, --strict, the journal): one line, exit 2
    with fatal_errors(journal=journal if isinstance(journal, Path) else None):
        config = load_run_config(flags, config_file=config_file)
        if not manifest.is_file():
            raise ConfigError(f"{manifest}: manifest not found")
        if config.insecure:
            warn_insecure()
        loop = backend_options(config.event_loop)
        code = anyio.run(
            _run,
            manifest,
            journal,
            config,
            options,
            backend_options=loop,
        )
    sys.exit(code)
