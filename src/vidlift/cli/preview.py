"""``vidlift run --dry-run``: say what a run would do, write nothing (cli layer).

The plan is :func:`vidlift.jobs.plan.plan_manifest`'s; the journal, when there is one,
is opened read-only without creating SQLite's ``-wal``/``-shm`` files.
"""

from __future__ import annotations

from pathlib import Path

import click

from vidlift.cli.exits import EXIT_OK, warn
from vidlift.cli.journals import JournalRef, open_journal_readonly
from vidlift.cli.view import human_bytes
from vidlift.cli.wording import count_of
from vidlift.jobs.plan import SHOWN, ManifestPlan, plan_manifest
from vidlift.journal.base import Journal

__all__ = ["dry_run", "print_plan"]


async def dry_run(
    journal_ref: JournalRef, manifest: Path, *, strict: bool, allow_duplicate_files: bool
) -> int:
    """Print what running ``manifest`` would do; exit code 0. Raises ManifestError
    (``strict``: the first bad row) and JournalError like the run would."""
    journal: Journal | None = None
    if isinstance(journal_ref, str) or journal_ref.exists():
        journal = await open_journal_readonly(journal_ref, create_nothing=True)
    try:
        plan = await plan_manifest(
            journal, manifest, strict=strict, allow_duplicate_files=allow_duplicate_files
        )
    finally:
        if journal is not None:
            await journal.close()
    print_plan(plan)
    return EXIT_OK


def print_plan(plan: ManifestPlan) -> None:
    """The plan on stdout (its warnings on stderr)."""
    for text in plan.warnings:
        warn(text)
    click.echo(
        f"dry run: {count_of(plan.rows, 'row')} read, {count_of(plan.new_jobs, 'new job')}, "
        f"{count_of(plan.bad_row_count, 'bad row')}; nothing written"
    )
    for line in plan.bad_rows:
        click.echo(f"    bad row: {line}")
    if plan.changed_file_count:
        click.echo(f"  files changed since queued: {plan.changed_file_count}")
        for line in plan.changed_files:
            click.echo(f"    {line}")
    if plan.metadata_changes:
        videos = count_of(len(plan.metadata_changes), "video")
        click.echo(f"  metadata to update on the platform: {videos}")
        for change in plan.metadata_changes[:SHOWN]:
            click.echo(f"    {change.job_id} ({change.video_key}): {change.metadata.title!r}")
    for state, count in sorted(plan.by_state.items()):
        click.echo(f"  already in the journal, {state.value}: {count}")
    if plan.absent.count:
        click.echo(
            f"  no longer in the manifest (not part of the run): {plan.absent.count} "
            f"({', '.join(plan.absent.first_ids)})"
        )
    unsized = ""
    if plan.unsized_jobs:
        sources = count_of(plan.unsized_jobs, "URL source")
        unsized = f", and {sources} not sized yet (each is sized when its job starts)"
    click.echo(f"  bytes to send: {human_bytes(plan.bytes_to_send)}{unsized}")
