"""``vidlift status``, ``vidlift report`` and ``vidlift retry`` (cli layer)."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

import anyio
import click

from vidlift.cli.journals import find_journal, open_journal, open_journal_readonly
from vidlift.cli.view import human_bytes
from vidlift.errors import VidliftError
from vidlift.journal.base import Journal
from vidlift.journal.state import JobState

__all__ = ["print_report_table", "report", "retry", "status"]

REPORT_FIELDS = ("id", "path", "video_key", "state", "size", "md5", "attempts", "error", "location")
_RATE_WINDOW_S = 60.0

journal_option = click.option(
    "--journal",
    "journal_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Journal file (default: the only *.vidlift.sqlite in this folder).",
)


def _fail(exc: VidliftError) -> None:
    click.echo(f"vidlift: error: {exc}", err=True)
    sys.exit(2)


async def _recent_rate(journal: Journal) -> float:
    """Bytes per second of the jobs finished in the last minute."""
    now = time.time()
    recent = 0
    async for record in journal.iter_jobs([JobState.DONE]):
        if now - record.updated_at <= _RATE_WINDOW_S:
            recent += record.size_bytes
    return recent / _RATE_WINDOW_S


async def _status(path: Path) -> None:
    journal = await open_journal_readonly(path)
    try:
        counts = await journal.counts()
        rate = await _recent_rate(journal)
    finally:
        await journal.close()
    click.echo(f"journal: {path}")
    click.echo(f"jobs: {counts.total_jobs}")
    for state in JobState:
        click.echo(f"  {state.value:10} {counts.by_state.get(state, 0)}")
    held = counts.done_bytes + counts.acked_bytes
    share = 100 * held / counts.total_bytes if counts.total_bytes else 100.0
    click.echo(f"bytes: {human_bytes(held)} of {human_bytes(counts.total_bytes)} ({share:.1f}%)")
    click.echo(f"throughput (finished files, last minute): {human_bytes(rate)}/s")
    if counts.recent_failures:
        click.echo("recent failures:")
        for failure in counts.recent_failures:
            click.echo(f"  {failure.location} {failure.path or ''}: {failure.error}")


@click.command()
@journal_option
def status(journal_path: Path | None) -> None:
    """Counts by state, bytes done, throughput and failures (safe while a run goes on)."""
    try:
        anyio.run(_status, find_journal(journal_path))
    except VidliftError as exc:
        _fail(exc)


async def _rows(journal: Journal) -> AsyncIterator[dict[str, Any]]:
    async for record in journal.iter_jobs():
        yield {
            "id": record.job_id,
            "path": str(record.source_path) if record.source_path else "",
            "video_key": record.video_key or "",
            "state": record.state.value,
            "size": record.size_bytes,
            "md5": record.md5 or "",
            "attempts": record.attempts,
            "error": record.last_error or "" if record.state is not JobState.DONE else "",
            "location": record.location,
        }


async def print_report_table(journal: Journal, *, limit: int = 50) -> None:
    """The report as a rich table on stdout (the first ``limit`` rows)."""
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "path", "video key", "state", "size", "error")
    shown = 0
    async for row in _rows(journal):
        if shown < limit:
            table.add_row(
                row["id"],
                Path(row["path"]).name,
                row["video_key"],
                row["state"],
                human_bytes(row["size"]),
                row["error"][:60],
            )
        shown += 1
    Console().print(table)
    if shown > limit:
        click.echo(f"... and {shown - limit} more rows (vidlift report shows them all)")


async def _report(path: Path, fmt: str, out: TextIO) -> None:
    journal = await open_journal_readonly(path)
    try:
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=REPORT_FIELDS, lineterminator="\n")
            writer.writeheader()
            async for row in _rows(journal):
                writer.writerow(row)
        else:
            out.write("[")
            first = True
            async for row in _rows(journal):
                out.write(("\n" if first else ",\n") + json.dumps(row, ensure_ascii=False))
                first = False
            out.write("\n]\n")
    finally:
        await journal.close()


@click.command()
@journal_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to FILE instead of stdout.",
)
def report(journal_path: Path | None, fmt: str, output: Path | None) -> None:
    """One row per manifest row: id, path, video key, state, size, md5, error."""
    try:
        path = find_journal(journal_path)
        if output is None:
            anyio.run(_report, path, fmt, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as handle:
                anyio.run(_report, path, fmt, handle)
            click.echo(f"report written to {output}", err=True)
    except VidliftError as exc:
        _fail(exc)


async def _retry(path: Path) -> int:
    journal = await open_journal(path)
    try:
        return await journal.requeue_failed()
    finally:
        await journal.close()


@click.command()
@journal_option
@click.option("--failed", is_flag=True, required=True, help="Queue every failed job again.")
def retry(journal_path: Path | None, failed: bool) -> None:
    """Queue failed jobs again; the next `vidlift run` uploads them."""
    try:
        count = anyio.run(_retry, find_journal(journal_path))
    except VidliftError as exc:
        _fail(exc)
        return
    click.echo(f"{count} failed jobs queued again; run `vidlift run MANIFEST` to upload them")
