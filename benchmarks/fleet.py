"""Fleet throughput (issue 14): 1, 2 and 4 ``vidlift worker`` processes on one PostgreSQL
queue, each with its own ``--bwlimit`` standing for a host's uplink. Aggregate throughput
against N x the one-worker figure (target: at least 0.9), and API calls per file.

    python benchmarks/fleet.py [--workers 1,2,4] [--bwlimit 8MiB] [--seconds 8]
                               [--file-size 4MiB] [--postgres postgresql://...]

Each run queues a library of its own (``vidlift enqueue``) sized for about ``--seconds``
at N x ``--bwlimit``, then starts N workers at once (``--concurrency 4``, no shared API
budget: ``--api-calls-per-minute 0``, the emulator has no quota) and waits for all:
throughput is the library's bytes over the time from the first worker's start (after
its imports; the registry's ``started_at``) to the last job done (the journal's
``updated_at``). "wall" adds the interpreters' start-up and the end, where a worker with
nothing left polls (``poll_s``) until the others' jobs are done. The emulator runs in a
process of its own (no fsync, bytes discarded); each run uses a PostgreSQL schema of its
own, dropped after. ``make bench`` runs it when PostgreSQL answers (``--only fleet``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from harness import (
    VIDLIFT,
    MiB,
    client_env,
    emulator,
    fresh_dir,
    machine_info,
    print_table,
    run_group,
    save_results,
    write_manifest,
    write_random_files,
)

from vidlift.config import parse_size

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class Fleet:
    """One benchmark's shape."""

    workers: tuple[int, ...] = (1, 2, 4)
    bwlimit_bytes: int = 8 * MiB  # per worker: a host's uplink
    seconds: float = 8.0  # each run's library is sized for about this long
    file_bytes: int = 4 * MiB
    concurrency: int = 4
    postgres: str = DEFAULT_URL


def postgres_answers(url: str = DEFAULT_URL) -> bool:
    """Whether the PostgreSQL server at ``url`` takes connections."""
    import anyio

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return anyio.run(probe)


def _window_and_drop(url: str, schema: str) -> float:
    """Seconds from the first worker's start (after its imports) to the last job done,
    read from the journal; then drop the schema."""
    import anyio

    async def read_and_drop() -> float:
        conn = await asyncpg.connect(url, server_settings={"search_path": schema})
        try:
            first = await conn.fetchval("SELECT MIN(started_at) FROM workers")
            last = await conn.fetchval("SELECT MAX(updated_at) FROM jobs WHERE state = 'done'")
            return float(last - first) if first and last else 0.0
        finally:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()

    return anyio.run(read_and_drop)


def _one(fleet: Fleet, n: int, files: list[Path], work: Path, endpoint: str) -> dict[str, object]:
    """Queue a library for ``n`` workers, run them, measure."""
    count = max(n, round(n * fleet.bwlimit_bytes * fleet.seconds / fleet.file_bytes))
    folder = fresh_dir(work / f"workers-{n}")
    manifest = write_manifest(folder / "library.csv", files[:count], prefix=f"fleet{n}")
    schema = f"bench_fleet_{uuid.uuid4().hex[:8]}"
    journal = f"{fleet.postgres}{'&' if '?' in fleet.postgres else '?'}schema={schema}"
    env = client_env() | {"VIDLIFT_ENDPOINT": endpoint}
    try:
        queued = subprocess.run(
            [VIDLIFT, "enqueue", str(manifest), "--journal", journal],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if queued.returncode != 0:
            raise RuntimeError(f"vidlift enqueue failed: {queued.stderr}")
        worker = [VIDLIFT, "worker", "--journal", journal, "--endpoint", endpoint]
        worker += ["--bwlimit", str(fleet.bwlimit_bytes), "--concurrency", str(fleet.concurrency)]
        worker += ["--api-calls-per-minute", "0", "--log-format", "json"]
        measured, _ = run_group([worker] * n, folder / "logs")
    finally:
        window_s = _window_and_drop(fleet.postgres, schema)
    total = count * fleet.file_bytes
    return {
        "workers": n,
        "files": count,
        "bytes": total,
        "wall_s": round(measured.wall_s, 2),
        "window_s": round(window_s, 2),
        "mb_per_s": round(total / window_s / 1e6, 2) if window_s else 0.0,
        "wall_mb_per_s": round(total / measured.wall_s / 1e6, 2),
        "cpu_s": round(measured.cpu_s, 2),
        "ok": measured.returncode == 0,
    }


def run(fleet: Fleet, work: Path) -> dict[str, object]:
    """Every run; the document ``save_results`` writes."""
    most = max(
        max(n, round(n * fleet.bwlimit_bytes * fleet.seconds / fleet.file_bytes))
        for n in fleet.workers
    )
    files = write_random_files(work / "files", most, fleet.file_bytes)
    rows: list[dict[str, object]] = []
    with emulator(work / "emulator.log") as emu:
        for n in fleet.workers:
            before = emu.counters()
            row = _one(fleet, n, files, work, emu.endpoint)
            after = emu.counters()
            api = after.get("api", 0) - before.get("api", 0)
            row["api_calls_per_file"] = round(api / int(row["files"]), 2)  # type: ignore[call-overload]
            rows.append(row)
    one = float(rows[0]["mb_per_s"]) if rows[0]["workers"] == 1 else None  # type: ignore[arg-type]
    for row in rows:
        n = int(row["workers"])  # type: ignore[call-overload]
        row["vs_n_x_one"] = round(float(row["mb_per_s"]) / (n * one), 2) if one else None  # type: ignore[arg-type]
    columns = ("workers", "files", "mb_per_s", "vs_n_x_one", "api_calls_per_file")
    columns += ("wall_mb_per_s", "ok")
    print_table(
        f"Fleet — workers of {fleet.bwlimit_bytes / MiB:.0f} MiB/s each, "
        f"{fleet.file_bytes / MiB:.0f} MiB files, concurrency {fleet.concurrency}",
        ("workers", "files", "MB/s", "vs N x one", "API calls/file", "MB/s, wall", "all ok"),
        [tuple(row[column] for column in columns) for row in rows],
    )
    return {"machine": machine_info(), "shape": fleet.__repr__(), "runs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--bwlimit", default="8MiB")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--file-size", default="4MiB")
    parser.add_argument("--postgres", default=DEFAULT_URL)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/vidlift-bench/fleet"))
    parser.add_argument("--results-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if not postgres_answers(args.postgres):
        sys.exit(f"PostgreSQL does not answer at {args.postgres}")
    fleet = Fleet(
        workers=tuple(int(n) for n in args.workers.split(",")),
        bwlimit_bytes=parse_size(args.bwlimit),
        seconds=args.seconds,
        file_bytes=parse_size(args.file_size),
        postgres=args.postgres,
    )
    document = run(fleet, args.work_dir)
    print(f"-> {save_results(args.results_dir, 'fleet', document)}")


if __name__ == "__main__":
    main()
