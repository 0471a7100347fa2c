"""``vidlift enqueue`` and ``vidlift worker``: one migration run by many workers on a
shared journal (cli layer). ``vidlift run`` on a postgresql:// journal is enqueue plus
one worker.

Exit codes as ``vidlift run``: 0 all done; 1 some jobs failed; 2 usage, configuration
or journal error; 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import click

from vidlift.cli.eventloop import backend_options
from vidlift.cli.exits import warn
from vidlift.cli.journals import as_ref, describe_journal, open_journal
from vidlift.cli.options import (
    chunk_size_option,
    config_option,
    duplicate_files_option,
    size_type,
    warn_insecure,
)
from vidlift.cli.run import (
    EXIT_OK,
    EXIT_USAGE,
    Display,
    _finish,
    _watch_signals,
    ingest_into_view,
    make_display,
)
from vidlift.cli.settings import RunConfig, load_run_config
from vidlift.cli.view import human_bytes
from vidlift.cli.wording import count_of
from vidlift.client.throttle import Throttle
from vidlift.errors import ConfigError, VidliftError
from vidlift.jobs.batch import resolve_limits, run_batch
from vidlift.jobs.feed import (
    BandwidthShare,
    ClaimFeed,
    FeedSettings,
    SharedApiPacer,
    new_worker,
)
from vidlift.jobs.ingest import IngestStats, MetadataChange, ingest_manifest
from vidlift.jobs.manager import BatchOutcome
from vidlift.jobs.membership import AbsentJobs, collect_absent, find_absent
from vidlift.jobs.survey import creates_ahead, library_tag
from vidlift.journal.base import JobRecord
from vidlift.journal.leases import FleetJournal, TokenBucket, api_key_id
from vidlift.journal.state import JobState

__all__ = ["budget_name", "enqueue", "mark_absent", "run_shared", "run_worker", "worker"]


def budget_name(api: str, api_key: str, api_secret: str) -> str:
    """The shared API bucket's name: v1's budget is the API key's, v2's the secret's (a
    Bearer token: 60 calls a minute per token). A digest, never the key or secret."""
    return api_key_id(api_key if api != "v2" else f"v2-token:{api_secret}")


async def run_worker(
    journal: FleetJournal,
    display: Display,
    config: RunConfig,
    *,
    follow: bool = False,
    stop: anyio.Event | None = None,
    library: str | None = None,
    metadata_changes: Sequence[MetadataChange] = (),
) -> BatchOutcome:
    """Claim jobs from the journal and run them until none is left (or forever with
    ``follow``), renewing leases, sharing the API budget with the other workers.

    Every worker tags the videos it creates with the journal's library tag (``library``
    None: the one the first enqueue stored) and, when the journal holds jobs that never
    sent a create, surveys the platform by it first: a journal new or lost while the
    platform holds the library's videos (an earlier `vidlift run` on SQLite, a dropped
    schema) creates nothing twice."""
    api_key, api_secret = config.credentials()
    if library is None:
        library = await _journal_library(journal, follow, config.poll_s, stop)
    survey = library is not None and await creates_ahead(journal)
    absent = await collect_absent(journal.iter_absent())
    if absent.count:
        display.notice(_absent_line(absent))
    counts = absent.subtract_from(await journal.counts())
    view = display.view
    view.total_jobs, view.total_bytes = counts.total_jobs, counts.total_bytes
    view.done_bytes, view.done_jobs = counts.done_bytes, counts.by_state.get(JobState.DONE, 0)
    settings = await resolve_limits(config.batch_settings(), journal)  # auto: chosen now
    pacer = None
    per_minute = settings.limits.api_calls_per_minute
    if per_minute > 0:
        # A burst of a tenth of the minute's calls: in any 60 s, the workers together
        # make at most 1.1 x the per-key rate (a full minute's burst allowed twice it).
        bucket = TokenBucket(per_minute / 60, max(1.0, per_minute / 10))
        pacer = SharedApiPacer(journal, budget_name(config.api, api_key, api_secret), bucket)
    feed_settings = FeedSettings(
        lease_s=config.lease_s,
        claim_batch=settings.limits.files_in_flight,
        poll_s=config.poll_s,
        follow=follow,
    )

    def on_left(record: JobRecord, reason: str) -> None:
        display.notice(
            f"job {record.job_id}: cannot read {record.source_path} on this host ({reason}); "
            "left for another worker"
        )

    throttle, share = None, None
    if config.bwlimit_total is not None:
        own = min(config.bwlimit_total, config.bwlimit or config.bwlimit_total)
        throttle = Throttle(own)
        share = BandwidthShare(config.bwlimit_total, throttle, own_cap=config.bwlimit)

    def on_share(share: BandwidthShare) -> None:
        display.notice(
            f"bandwidth: {human_bytes(share.rate)}/s, this worker's share of "
            f"{human_bytes(share.total)}/s for {count_of(share.workers, 'worker')} sending"
        )

    worker_info = new_worker()
    feed = ClaimFeed(
        journal,
        worker_info,
        feed_settings,
        bytes_sent=lambda: view.sent_bytes,
        on_left=on_left,
        share=share,
        on_share=on_share,
    )
    async with feed, anyio.create_task_group() as tg:
        tg.start_soon(display.pulse)
        outcome = await run_batch(
            None,
            journal=journal,
            api_key=api_key,
            api_secret=api_secret,
            endpoint=config.api_endpoint(),
            site_id=config.site_id if config.api == "v2" else None,
            settings=settings,
            bwlimit_bytes_per_s=config.bwlimit,
            throttle=throttle,
            on_event=display,
            stop=stop,
            library=library,
            survey=survey,
            metadata_changes=metadata_changes,
            jobs=feed,
            api_pacer=pacer,
        )
        tg.cancel_scope.cancel()
    if feed.left:
        display.notice(
            f"this worker left {count_of(len(feed.left), 'job')} to workers that can read "
            "their files"
        )
    return outcome


async def _journal_library(
    journal: FleetJournal, follow: bool, poll_s: float, stop: anyio.Event | None
) -> str | None:
    """The library tag the first enqueue stored (before its first job: a worker that
    sees a job sees the tag). With ``follow`` on a journal that holds no job yet, waits
    for that enqueue (polled: another process writes it) or ``stop``. None: a journal
    queued by a vidlift before the tag was kept (its workers tag nothing, as then)."""
    while follow and (await journal.counts()).total_jobs == 0:
        if stop is not None and stop.is_set():
            break
        with anyio.move_on_after(poll_s):
            await (stop.wait() if stop is not None else anyio.sleep(poll_s))
    return await journal.library()


def _absent_line(absent: AbsentJobs, manifest: Path | None = None) -> str:
    where = manifest.name if manifest is not None else "the manifest"
    return (
        f"{count_of(absent.count, 'job')} of the journal no longer in {where} "
        f"(e.g. {', '.join(absent.first_ids[:3])}): kept, not deleted, and no worker takes "
        "them; put the rows back to resume them (`vidlift report` lists them)"
    )


async def mark_absent(journal: FleetJournal, manifest: Path, stats: IngestStats) -> AbsentJobs:
    """After an ingest: tell the shared journal which of its jobs left ``manifest`` (the
    workers stop taking them; a row put back is taken again) and say how many."""
    absent = await find_absent(journal, stats.job_ids)
    await journal.set_absent(absent.ids)
    if absent.count:
        warn(_absent_line(absent, manifest))
    return absent


async def _keep_library(
    journal: FleetJournal, manifest: Path, say: Callable[[str], None] = warn
) -> str:
    """The journal's library tag: ``manifest``'s the first time it is enqueued; later,
    the one kept (said when ``manifest`` is named by another path, e.g. on another host:
    its videos keep the first tag, so every worker tags and surveys them alike)."""
    tag = library_tag(manifest)
    kept = await journal.keep_library(tag)
    if kept != tag:
        say(
            f"{manifest}: this journal was first enqueued from another path; its videos keep "
            "that manifest's library tag (a survey of the platform finds the videos tagged "
            "with it)"
        )
    return kept


async def _finish_fleet(
    journal: FleetJournal, outcome: BatchOutcome | None, interrupted: bool
) -> int:
    """The summary over the manifest's jobs (the shared journal knows which left it)."""
    absent = await collect_absent(journal.iter_absent())
    return await _finish(journal, outcome, interrupted, absent=absent)


async def run_shared(
    journal: FleetJournal,
    manifest: Path,
    config: RunConfig,
    *,
    strict: bool,
    allow_duplicate_files: bool = False,
) -> int:
    """``vidlift run`` on a shared journal: queue the manifest, then work as one worker."""
    display = make_display(config)
    stop = anyio.Event()
    outcome: BatchOutcome | None = None
    with display:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch_signals, stop, tg.cancel_scope, display)
            library = await _keep_library(journal, manifest, display.notice)  # before jobs
            _, stats = await ingest_into_view(
                journal,
                manifest,
                display,
                strict=strict,
                allow_duplicate_files=allow_duplicate_files,
            )
            await mark_absent(journal, manifest, stats)
            outcome = await run_worker(
                journal,
                display,
                config,
                stop=stop,
                library=library,
                metadata_changes=stats.metadata_changes,
            )
            tg.cancel_scope.cancel()
    return await _finish_fleet(journal, outcome, stop.is_set())


async def _work(journal_ref: str, config: RunConfig, follow: bool) -> int:
    journal = await open_journal(as_ref(journal_ref))
    try:
        config.credentials()  # before the display starts
        display = make_display(config)
        stop = anyio.Event()
        outcome: BatchOutcome | None = None
        with display:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_watch_signals, stop, tg.cancel_scope, display)
                outcome = await run_worker(journal, display, config, follow=follow, stop=stop)
                tg.cancel_scope.cancel()
        return await _finish_fleet(journal, outcome, stop.is_set())
    finally:
        with anyio.CancelScope(shield=True):
            await journal.close()


async def _enqueue(
    manifest: Path, journal_ref: str, strict: bool, allow_duplicate_files: bool
) -> int:
    journal = await open_journal(as_ref(journal_ref))
    try:
        await _keep_library(journal, manifest)  # before the jobs: a worker sees both
        stats = await ingest_manifest(
            journal, manifest, strict=strict, allow_duplicate_files=allow_duplicate_files
        )
        for text in stats.warnings:  # unknown columns, a file under several rows
            warn(text)
        absent = await mark_absent(journal, manifest, stats)
        counts = await journal.counts()
    finally:
        await journal.close()
    gone = f", {absent.count} no longer in the manifest" if absent.count else ""
    click.echo(
        f"{manifest}: {count_of(stats.rows, 'row')}, {count_of(stats.new_jobs, 'new job')}, "
        f"{count_of(stats.problems, 'bad row')}; {describe_journal(as_ref(journal_ref))} "
        f"holds {count_of(counts.total_jobs, 'job')} "
        f"({counts.by_state.get(JobState.DONE, 0)} done{gone})"
    )
    return EXIT_OK


def _fail(exc: VidliftError) -> None:
    click.echo(f"vidlift: error: {exc}", err=True)
    sys.exit(EXIT_USAGE)


journal_required = click.option(
    "--journal",
    "journal_ref",
    required=True,
    help="The shared journal: postgresql://user@host[:port]/db[?schema=NAME] (or a file).",
)


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False))
@journal_required
@click.option("--strict", is_flag=True, help="Stop at the first bad manifest row.")
@duplicate_files_option
def enqueue(manifest: Path, journal_ref: str, strict: bool, allow_duplicate_files: bool) -> None:
    """Queue (or update) MANIFEST's jobs in a shared journal for workers to take."""
    try:
        if not manifest.is_file():
            raise ConfigError(f"{manifest}: manifest not found")
        sys.exit(anyio.run(_enqueue, manifest, journal_ref, strict, allow_duplicate_files))
    except VidliftError as exc:
        _fail(exc)


@click.command()
@journal_required
@config_option
@click.option("--endpoint", default=None, help="API base URL.")
@click.option("--api", type=click.Choice(["v1", "v2"]), default=None, help="JW API (default v1).")
@click.option("--site-id", default=None, help="v2: the site id (or VIDLIFT_SITE_ID).")
@click.option("--parts-in-flight", type=int, default=None, help="v2: parts of a file at once.")
@click.option("--api-key", default=None)
@click.option("--api-secret", default=None, help="Prefer VIDLIFT_API_SECRET; never printed.")
@click.option("--concurrency", default=None, help="Files in flight in this worker, or auto.")
@chunk_size_option
@click.option("--bwlimit", type=size_type, default=None, help="This worker's bandwidth cap.")
@click.option(
    "--bwlimit-total",
    type=size_type,
    default=None,
    help="Bandwidth cap for ALL workers together; each sending worker takes its share.",
)
@click.option("--lease-s", type=float, default=None, help="Lease on a job, seconds (60).")
@click.option("--poll-s", type=float, default=None, help="Idle polling interval (2 s).")
@click.option(
    "--api-calls-per-minute",
    type=float,
    default=None,
    help="API calls a minute for ALL workers of one API key (60; 0: no shared budget).",
)
@click.option("--log-format", type=click.Choice(["auto", "rich", "text", "json"]), default=None)
@click.option("--insecure", is_flag=True, default=None, help="Do not verify TLS certificates.")
@click.option("--verify-md5/--no-verify-md5", default=None, help="Compare md5s (default on).")
@click.option("--follow", is_flag=True, help="When the queue is empty, wait for more jobs.")
def worker(journal_ref: str, config_file: Path | None, follow: bool, **flags: Any) -> None:
    """Take jobs from a shared journal until none is left; run it on any number of hosts."""
    if follow and isinstance(as_ref(journal_ref), Path):
        raise click.UsageError(
            "--follow waits for jobs that another process enqueues: that needs a shared "
            "journal (--journal postgresql://...); a SQLite journal has one writer at a time, "
            "so nothing could be enqueued while this worker holds it"
        )
    try:
        config = load_run_config(flags, config_file=config_file)
        if config.insecure:
            warn_insecure()
        code = anyio.run(
            _work,
            journal_ref,
            config,
            follow,
            backend_options=backend_options(config.event_loop),
        )
    except VidliftError as exc:
        _fail(exc)
    sys.exit(code)
