"""``vidlift status``: a journal seen from another terminal while a run goes on (cli layer).

Whether a run is active (the journal's writer lock) and where (host, pid), the current
rate and ETA (from the run's beacon, :mod:`vidlift.cli.beacon`: bytes sent over the last
10 s, not finished files), counts by state, files in flight, failures grouped by reason.
``--json`` prints one JSON object; ``--watch N`` prints again every N seconds until
Ctrl-C (exit 130).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import click

from vidlift.cli.beacon import read_beacon
from vidlift.cli.exits import fatal_errors
from vidlift.cli.failures import read_failures
from vidlift.cli.journals import (
    JournalRef,
    describe_journal,
    find_journal,
    lock_holder,
    open_journal_readonly,
)
from vidlift.cli.view import human_bytes, human_duration
from vidlift.journal.base import JobCounts
from vidlift.journal.state import JobState

__all__ = ["status", "status_document"]

# A beacon older than this while the lock is held: the run is stuck writing it, or is a
# library user's run_batch (which writes none); the journal is then sampled instead.
_BEACON_FRESH_S = 30.0
_SAMPLE_S = 2.0
_JOBS_PER_REASON = 20
EXIT_INTERRUPTED = 130


def _stamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


async def _read(path: JournalRef) -> tuple[JobCounts, list[dict[str, Any]], int]:
    """The journal's counts, its failures by reason, and how many of its jobs left the
    manifest (as the last ``enqueue`` or ``run`` noted)."""
    journal = await open_journal_readonly(path)
    try:
        counts = await journal.counts()
        groups = await read_failures(journal)
        absent = sum([1 async for _ in journal.iter_absent()])
    finally:
        await journal.close()
    failures = [
        {
            "reason": group.reason,
            "count": len(group.jobs),
            "jobs": [
                {"id": job.job_id, "path": job.path, "location": job.location, "error": job.error}
                for job in group.jobs[:_JOBS_PER_REASON]
            ],
        }
        for group in groups
    ]
    return counts, failures, absent


async def _sampled_rate(path: Path, held: int) -> float:
    """Bytes per second the journal's acknowledged bytes grew by over ``_SAMPLE_S``."""
    await anyio.sleep(_SAMPLE_S)
    journal = await open_journal_readonly(path)
    try:
        later = await journal.counts()
    finally:
        await journal.close()
    return max(0.0, (later.done_bytes + later.acked_bytes - held) / _SAMPLE_S)


def _run_part(pid: int | None, beacon: dict[str, Any] | None) -> dict[str, Any] | None:
    if beacon is None and pid is None:
        return None
    same = beacon is not None and (pid is None or pid in (0, beacon.get("pid")))
    info = beacon if same and beacon is not None else {}
    return {
        "pid": pid if pid else info.get("pid"),
        "host": info.get("host"),
        "started_at": _stamp(info.get("started_at")),
        "updated_at": _stamp(info.get("updated_at")),
        "ended_at": _stamp(info.get("ended_at")),
    }


async def _fleet(path: JournalRef) -> dict[str, Any]:
    """A shared journal's workers (host, pid, jobs held, heartbeat, bytes), stuck leases
    and the jobs no longer in the manifest."""
    from vidlift.jobs.membership import collect_absent  # it imports the manifest reader

    journal = await open_journal_readonly(path)
    try:
        workers = await journal.workers()
        stuck = await journal.expired_leases()
        absent = await collect_absent(journal.iter_absent())
    finally:
        await journal.close()
    now = time.time()
    return {
        "workers": [
            {
                "id": w.worker_id,
                "host": w.host,
                "pid": w.pid,
                "jobs_held": w.jobs_held,
                "heartbeat_s_ago": round(now - w.heartbeat_at, 1),
                "ended_s_ago": None if w.ended_at is None else round(now - w.ended_at, 1),
                "bytes_sent": w.bytes_sent,
                "rate_bytes_per_s": round(w.bytes_sent / max(w.heartbeat_at - w.started_at, 1)),
            }
            for w in workers
        ],
        "stuck_leases": stuck,
        "not_in_manifest": absent.count,
        "workers_bytes_sent": sum(w.bytes_sent for w in workers),
    }


def _is_live(worker: dict[str, Any]) -> bool:
    """A worker runs: it did not say it ended, and its heartbeat is fresh (a worker
    killed with SIGKILL says nothing: its heartbeat grows old)."""
    return worker["ended_s_ago"] is None and worker["heartbeat_s_ago"] < _BEACON_FRESH_S


async def _shared_document(url: str) -> dict[str, Any]:
    """``status_document`` of a PostgreSQL journal: no lock file and no beacon; the
    workers' heartbeats say who runs."""
    counts, failures, _ = await _read(url)  # the fleet part counts the absent jobs
    fleet = await _fleet(url)
    held = counts.done_bytes + counts.acked_bytes
    live = [w for w in fleet["workers"] if _is_live(w)]
    return {
        "journal": describe_journal(url),
        "active": bool(live),
        "run": None,
        "jobs": {
            "total": counts.total_jobs,
            **{s.value: counts.by_state.get(s, 0) for s in JobState},
        },
        "bytes_total": counts.total_bytes,
        "bytes_held": held,
        "rate_bytes_per_s": sum(w["rate_bytes_per_s"] for w in live) if live else None,
        "eta_s": None,
        "in_flight": [],
        "failures": failures,
        **fleet,
    }


async def status_document(path: JournalRef) -> dict[str, Any]:
    """Everything ``vidlift status --json`` prints."""
    if isinstance(path, str):
        return await _shared_document(path)
    pid = lock_holder(path)
    beacon = read_beacon(path)
    counts, failures, absent = await _read(path)
    held = counts.done_bytes + counts.acked_bytes
    rate: float | None = None
    eta: float | None = None
    in_flight: list[dict[str, Any]] = []
    if pid is not None:
        fresh = beacon is not None and time.time() - beacon["updated_at"] < _BEACON_FRESH_S
        if fresh and beacon is not None and beacon.get("ended_at") is None:
            rate = float(beacon["summary"]["rate_bytes_per_s"])
            in_flight = beacon["files"]
        else:
            rate = await _sampled_rate(path, held)
        left = max(0, counts.total_bytes - held)
        eta = 0.0 if left == 0 else (left / rate if rate else None)
    return {
        "journal": str(path),
        "active": pid is not None,
        "run": _run_part(pid, beacon),
        "jobs": {
            "total": counts.total_jobs,
            **{s.value: counts.by_state.get(s, 0) for s in JobState},
        },
        "bytes_total": counts.total_bytes,
        "bytes_held": held,
        "rate_bytes_per_s": round(rate) if rate is not None else None,
        "eta_s": round(eta) if eta is not None else None,
        "in_flight": in_flight,
        "failures": failures,
        "not_in_manifest": absent,
    }


def _run_lines(doc: dict[str, Any]) -> list[str]:
    if "workers" in doc:  # a shared journal: its workers' heartbeats say who runs
        return [_fleet_run_line(doc["workers"])]
    run = doc["run"]
    if doc["active"]:
        where = f"pid {run['pid']}" + (f" on {run['host']}" if run["host"] else "")
        since = f", started {run['started_at']}" if run["started_at"] else ""
        rate = doc["rate_bytes_per_s"] or 0
        return [
            f"run:     active, {where}{since}",
            f"rate:    {human_bytes(rate)}/s (last 10 s), ETA {human_duration(doc['eta_s'])}",
        ]
    if run is not None and run["ended_at"]:
        return [f"run:     none active (the last one ended {run['ended_at']})"]
    return ["run:     none active"]


def _fleet_run_line(workers: list[dict[str, Any]]) -> str:
    """``N of M workers heartbeating``, or ``none active``, with the ended workers and
    the silent ones (no heartbeat for a while, never said they ended) counted apart."""
    live = sum(1 for w in workers if _is_live(w))
    ended = sum(1 for w in workers if w["ended_s_ago"] is not None)
    silent = len(workers) - live - ended
    apart = [f"{ended} ended"] * bool(ended) + [f"{silent} silent"] * bool(silent)
    if live:
        rest = f" ({', '.join(apart)})" if apart else ""
        return f"run:     {live} of {len(workers)} workers heartbeating{rest}"
    if not workers:
        return "run:     none active (no worker registered)"
    noun = "worker" if len(workers) == 1 else "workers"
    return f"run:     none active ({len(workers)} {noun}: {', '.join(apart)})"


def _worker_line(w: dict[str, Any]) -> str:
    if w["ended_s_ago"] is not None:
        when = f"ended {w['ended_s_ago']:.0f} s ago"
    else:
        when = f"heartbeat {w['heartbeat_s_ago']:.0f} s ago"
    return (
        f"  {w['id']}  host {w['host']} pid {w['pid']}  {w['jobs_held']} jobs held  "
        f"{when}  {human_bytes(w['bytes_sent'])} sent ({human_bytes(w['rate_bytes_per_s'])}/s)"
    )


def _fleet_lines(doc: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if doc.get("workers"):
        lines.append(f"workers: {len(doc['workers'])}")
        lines.extend(_worker_line(w) for w in doc["workers"])
        lines.append(
            f"sent:    {human_bytes(doc['workers_bytes_sent'])} by the workers (re-sent bytes "
            f"count again; as of their last heartbeats) for {human_bytes(doc['bytes_held'])} "
            "the platform holds"
        )
    if doc.get("stuck_leases"):
        lines.append(
            f"stuck leases: {doc['stuck_leases']} jobs whose worker stopped renewing "
            "(another worker takes them over)"
        )
    if doc.get("not_in_manifest"):
        lines.append(
            f"no longer in the manifest: {doc['not_in_manifest']} jobs, kept, not taken by "
            "workers (vidlift report: in_manifest=no)"
        )
    return lines


def _text(doc: dict[str, Any]) -> list[str]:
    lines = [f"journal: {doc['journal']}", *_run_lines(doc)]
    total, held = doc["bytes_total"], doc["bytes_held"]
    share = 100 * held / total if total else 100.0
    lines.append(f"bytes:   {human_bytes(held)} of {human_bytes(total)} ({share:.1f}%)")
    lines.append(f"jobs: {doc['jobs']['total']}")
    lines.extend(f"  {state.value:10} {doc['jobs'][state.value]}" for state in JobState)
    if doc["in_flight"]:
        lines.append("in flight:")
        for file in doc["in_flight"]:
            done = 100 * file["done_bytes"] / max(1, file["size_bytes"])
            lines.append(
                f"  {Path(file['path']).name}  {human_bytes(file['size_bytes'])}  {done:.0f}%  "
                f"{human_bytes(file['rate_bytes_per_s'])}/s  {file['state']}"
            )
    lines.extend(_fleet_lines(doc))
    if doc["failures"]:
        lines.append("failures by reason:")
        for group in doc["failures"]:
            lines.append(f"  {group['count']} x {group['reason']}")
            lines.extend(
                f"      {job['id']} {job['location']} {job['path']}" for job in group["jobs"][:5]
            )
    return lines


async def _show(path: JournalRef, as_json: bool, watch_s: float | None) -> None:
    while True:
        doc = await status_document(path)
        if as_json:
            click.echo(json.dumps(doc))
        else:
            if watch_s is not None and sys.stdout.isatty():
                click.echo("\x1b[H\x1b[2J", nl=False)
            click.echo("\n".join(_text(doc)))
            if watch_s is not None:
                click.echo(f"(every {watch_s:g} s; Ctrl-C to stop)")
        if watch_s is None:
            return
        await anyio.sleep(watch_s)


@click.command()
@click.option(
    "--journal",
    "journal_path",
    default=None,
    help="Journal file, or postgresql://user@host/db (default: the only *.vidlift.sqlite "
    "in this folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (per refresh).")
@click.option(
    "--watch",
    "watch_s",
    type=click.FloatRange(min=0.2),
    default=None,
    metavar="SECONDS",
    help="Print again every SECONDS until Ctrl-C.",
)
def status(journal_path: str | None, as_json: bool, watch_s: float | None) -> None:
    """Is a run active (host, pid), its rate and ETA, counts, failures by reason."""
    with fatal_errors():
        path = find_journal(journal_path)
    with fatal_errors(journal=path if isinstance(path, Path) else None):
        try:
            anyio.run(_show, path, as_json, watch_s)
        except KeyboardInterrupt:
            click.echo("", err=True)
            sys.exit(EXIT_INTERRUPTED)
