"""``vidlift report`` and ``vidlift retry`` (cli layer)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

import anyio
import click

from vidlift.cli.exits import fatal_errors, warn
from vidlift.cli.journals import (
    JOURNAL_SUFFIX,
    JournalRef,
    describe_journal,
    find_journal,
    open_journal,
    open_journal_readonly,
)
from vidlift.cli.view import human_bytes
from vidlift.cli.wording import count_of
from vidlift.errors import ConfigError, ManifestError
from vidlift.jobs.membership import AbsentJobs, collect_absent, find_absent, manifest_job_ids
from vidlift.journal.base import Journal
from vidlift.journal.state import JobState
from vidlift.manifest.ids import SeenIds

__all__ = ["print_report_table", "report", "retry"]

REPORT_FIELDS = (
    "id", "path", "video_key", "state", "size", "md5", "attempts", "error", "location",
    "in_manifest",
)  # fmt: skip

journal_option = click.option(
    "--journal",
    "journal_path",
    default=None,
    help="Journal file, or postgresql://user@host/db (default: the only *.vidlift.sqlite "
    "in this folder).",
)


def _manifest_of(journal: JournalRef, given: Path | None) -> Path | None:
    """The manifest a report compares the journal with: ``--manifest``, else the one
    next to a default-named journal (``m.csv`` for ``m.csv.vidlift.sqlite``), if any."""
    if given is not None or not isinstance(journal, Path):
        return given
    if not journal.name.endswith(JOURNAL_SUFFIX):
        return None
    manifest = journal.with_name(journal.name.removesuffix(JOURNAL_SUFFIX))
    return manifest if manifest.is_file() else None


async def _present_ids(manifest: Path | None, *, given: bool) -> SeenIds | None:
    """The job ids of ``manifest``; a manifest found by its name that cannot be read is
    only a warning (``--manifest``: an error)."""
    if manifest is None:
        return None
    try:
        return await manifest_job_ids(manifest)
    except ManifestError as exc:
        if given:
            raise
        warn(f"{exc}: in_manifest left blank")
        return None


async def _rows(
    journal: Journal, member: Callable[[str], bool] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """One row per job; ``in_manifest``: yes, or no (the row left the manifest); blank
    when nothing says (``member`` None)."""
    async for record in journal.iter_jobs():
        known = "" if member is None else "yes" if member(record.job_id) else "no"
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
            "in_manifest": known,
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


async def _report(
    path: JournalRef, fmt: str, out: TextIO, manifest: Path | None, given: bool
) -> None:
    if fmt == "html" and isinstance(path, str):
        raise ConfigError(
            "--format html needs a SQLite journal (it reads the run history next to it)"
        )
    present = await _present_ids(manifest, given=given)
    journal = await open_journal_readonly(path)
    try:
        member: Callable[[str], bool] | None = None
        absent: AbsentJobs | None = None
        if present is not None:
            member = present.__contains__
        else:  # the rows that left the manifest, as the last `enqueue` or `run` noted
            absent = await collect_absent(journal.iter_absent())
            gone = frozenset(absent.ids)
            member = lambda job_id: job_id not in gone  # noqa: E731
        if fmt == "html":
            from vidlift.cli.htmlreport import render_html_report

            assert isinstance(path, Path)
            out.write(await render_html_report(journal, path))
        elif fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=REPORT_FIELDS, lineterminator="\n")
            writer.writeheader()
            async for row in _rows(journal, member):
                writer.writerow(row)
        else:
            out.write("[")
            first = True
            async for row in _rows(journal, member):
                out.write(("\n" if first else ",\n") + json.dumps(row, ensure_ascii=False))
                first = False
            out.write("\n]\n")
        if present is not None and manifest is not None:
            absent = await find_absent(journal, present)
        if absent is not None and absent.count:
            click.echo(
                f"vidlift: {count_of(absent.count, 'job')} no longer in "
                f"{manifest or 'the manifest enqueued last'} "
                f"(in_manifest=no): {', '.join(absent.first_ids)}"
                + (", ..." if absent.count > len(absent.first_ids) else ""),
                err=True,
            )
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
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Say which jobs are no longer rows of this manifest (default: the manifest "
    "next to a MANIFEST.vidlift.sqlite journal).",
)
def report(journal_path: str | None, fmt: str, output: Path | None, manifest: Path | None) -> None:
    """One row per manifest row: id, path, video key, state, size, md5, error, whether
    the row is still in the manifest; or (--format html) a page with totals, plots,
    failures by reason, the slowest files."""
    with fatal_errors():
        path = find_journal(journal_path)
    with fatal_errors(journal=path if isinstance(path, Path) else None):
        given = manifest is not None
        manifest = _manifest_of(path, manifest)
        if output is None:
            anyio.run(_report, path, fmt, sys.stdout, manifest, given)
        else:
            # Written beside it, then renamed: a report that fails leaves the file that
            # was there (an earlier mapping) as it was, and no empty or partial one.
            target = output.resolve() if output.is_symlink() else output  # through a link
            partial = target.with_name(f".{target.name}.partial")
            try:
                handle = partial.open("w", encoding="utf-8", newline="")
            except OSError as exc:
                raise ConfigError(
                    f"--output {output}: cannot write it ({exc.strerror}); create its folder "
                    "or choose another file"
                ) from None
            try:
                with handle:
                    anyio.run(_report, path, fmt, handle, manifest, given)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
            click.echo(f"report written to {output}", err=True)


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
    with fatal_errors():
        path = find_journal(journal_path)
    with fatal_errors(journal=path if isinstance(path, Path) else None):
        count = anyio.run(_retry, path)
    queued = count_of(count, "failed job")
    if isinstance(path, Path):
        click.echo(f"{queued} queued again; run `vidlift run MANIFEST` to upload them")
    else:  # a shared journal: its workers take them
        click.echo(
            f"{queued} queued again; `vidlift worker --journal {describe_journal(path)}` "
            "(or `vidlift run MANIFEST --journal ...`) uploads them"
        )
