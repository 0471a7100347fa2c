"""``vidlift report`` and ``vidlift retry`` (cli layer)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

import anyio
import click

from vidlift.cli.journals import JournalRef, find_journal, open_journal, open_journal_readonly
from vidlift.cli.view import human_bytes
from vidlift.cli.wording import count_of
from vidlift.errors import ConfigError, VidliftError
from vidlift.journal.base import Journal
from vidlift.journal.state import JobState

__all__ = ["print_report_table", "report", "retry"]

REPORT_FIELDS = ("id", "path", "video_key", "state", "size", "md5", "attempts", "error", "location")

journal_option = click.option(
    "--journal",
    "journal_path",
    default=None,
    help="Journal file, or postgresql://user@host/db (default: the only *.vidlift.sqlite "
    "in this folder).",
)


def _fail(exc: VidliftError) -> None:
    click.echo(f"vidlift: error: {exc}", err=True)
    sys.exit(2)


async def _rows(journal: Journal) -> AsyncIterator[dict[str, Any]]:
    async for record in journal.iter_jobs():
        yield {
            "id": record.job_id,
            "path": record.source_name,
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


async def _report(path: JournalRef, fmt: str, out: TextIO) -> None:
    if fmt == "html" and isinstance(path, str):
        raise ConfigError(
            "--format html needs a SQLite journal (it reads the run history next to it)"
        )
    journal = await open_journal_readonly(path)
    try:
        if fmt == "html":
            from vidlift.cli.htmlreport import render_html_report

            assert isinstance(path, Path)
            out.write(await render_html_report(journal, path))
        elif fmt == "csv":
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
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "html"]),
    default="csv",
    show_default=True,
    help="html: one self-contained page with plots (open it in a browser).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to FILE instead of stdout.",
)
def report(journal_path: str | None, fmt: str, output: Path | None) -> None:
    """One row per manifest row: id, path, video key, state, size, md5, error; or
    (--format html) a page with totals, plots, failures by reason, the slowest files."""
    try:
        path = find_journal(journal_path)
        if output is None:
            anyio.run(_report, path, fmt, sys.stdout)
        else:
            try:
                handle = output.open("w", encoding="utf-8", newline="")
            except OSError as exc:
                raise ConfigError(
                    f"--output {output}: cannot write it ({exc.strerror}); create its folder "
                    "or choose another file"
                ) from None
            with handle:
                anyio.run(_report, path, fmt, handle)
            click.echo(f"report written to {output}", err=True)
    except VidliftError as exc:
        _fail(exc)


async def _retry(path: JournalRef) -> int:
    journal = await open_journal(path)
    try:
        return await journal.requeue_failed()
    finally:
        await journal.close()


@click.command()
@journal_option
@click.option("--failed", is_flag=True, required=True, help="Queue every failed job again.")
def retry(journal_path: str | None, failed: bool) -> None:
    """Queue failed jobs again; the next `vidlift run` uploads them."""
    try:
        count = anyio.run(_retry, find_journal(journal_path))
    except VidliftError as exc:
        _fail(exc)
        return
    queued = count_of(count, "failed job")
    click.echo(f"{queued} queued again; run `vidlift run MANIFEST` to upload them")
