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

``--runs R`` plays the 1/2/4 sequence R times (alternating) and gives medians, and the
ratio to N x one worker paired within each round. Each run also records where the CPU
went (the 2 cores are shared): the workers' CPU seconds, the emulator's, PostgreSQL's
(every ``postgres`` process), the whole machine's busy fraction over the run (other
processes included) and the 1-minute load average at its start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psutil
from harness import (
    VIDLIFT,
    EmulatorProcess,
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


class Timeline:
    """The journal sampled every 50 ms during a run, in a thread of its own: when every
    byte was in (every job verifying or done), by the server's clock."""

    def __init__(self, url: str, schema: str) -> None:
        self.url, self.schema = url, schema
        self.all_sent_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Timeline:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        import anyio

        async def poll() -> None:
            conn = await asyncpg.connect(self.url, server_settings={"search_path": self.schema})
            try:
                while not self._stop.is_set() and self.all_sent_at is None:
                    row = await conn.fetchrow(
                        "SELECT COUNT(*) AS jobs, COUNT(*) FILTER (WHERE state IN "
                        "('verifying', 'processing', 'done')) AS sent, "
                        "extract(epoch from now())::float8 AS now FROM jobs"
                    )
                    if row["jobs"] and row["sent"] == row["jobs"]:
                        self.all_sent_at = float(row["now"])
                    await anyio.sleep(0.05)
            finally:
                await conn.close()

        anyio.run(poll)


def _window_and_drop(url: str, schema: str) -> tuple[float, float, float]:
    """(when the first worker started, after its imports; when the last job was done;
    how much later the last worker started), read from the journal (Unix s); then drop
    the schema."""
    import anyio

    async def read_and_drop() -> tuple[float, float, float]:
        conn = await asyncpg.connect(url, server_settings={"search_path": schema})
        try:
            starts = "SELECT MIN(started_at), MAX(started_at) FROM workers"
            first, latest = await conn.fetchrow(starts)
            last = await conn.fetchval("SELECT MAX(updated_at) FROM jobs WHERE state = 'done'")
            if not (first and last):
                return 0.0, 0.0, 0.0
            return float(first), float(last), float(latest - first)
        finally:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()

    return anyio.run(read_and_drop)


def _postgres_cpu_s() -> float:
    """user + sys seconds of PostgreSQL so far: every live ``postgres`` process, and the
    postmaster's ended children (backends of connections closed; the kernel adds them to
    the postmaster's children times when it reaps them). Other clients of the same server
    (other sessions' tests) count too."""
    total = 0.0
    for process in psutil.process_iter(["name", "ppid"]):
        if process.info["name"] != "postgres":
            continue
        try:
            times = process.cpu_times()
            parent = psutil.Process(process.info["ppid"]).name()
        except psutil.Error:
            continue
        total += times.user + times.system
        if parent != "postgres":  # the postmaster
            total += times.children_user + times.children_system
    return total


def _busy_s(times: psutil._common.scputimes) -> float:  # type: ignore[name-defined]
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _one(
    fleet: Fleet, n: int, files: list[Path], work: Path, emu: EmulatorProcess
) -> dict[str, object]:
    """Queue a library for ``n`` workers, run them, measure."""
    endpoint = emu.endpoint
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
        load_1m = os.getloadavg()[0]
        machine_before, emu_before, pg_before = psutil.cpu_times(), emu.cpu_s(), _postgres_cpu_s()
        with Timeline(fleet.postgres, schema) as timeline:
            measured, _ = run_group([worker] * n, folder / "logs")
        machine_after, emu_after, pg_after = psutil.cpu_times(), emu.cpu_s(), _postgres_cpu_s()
    finally:
        first, last, skew = _window_and_drop(fleet.postgres, schema)
    window_s = last - first
    sent_s = timeline.all_sent_at - first if timeline.all_sent_at else window_s
    total = count * fleet.file_bytes
    return {
        "workers": n,
        "files": count,
        "bytes": total,
        "wall_s": round(measured.wall_s, 2),
        "window_s": round(window_s, 2),
        "sent_s": round(sent_s, 2),  # until every byte was in
        "tail_s": round(window_s - sent_s, 2),  # then until the last job was done
        "start_skew_s": round(skew, 2),  # the last worker's start after the first's
        "mb_per_s": round(total / window_s / 1e6, 2) if window_s else 0.0,
        "wall_mb_per_s": round(total / measured.wall_s / 1e6, 2),
        "cpu_s": round(measured.cpu_s, 2),
        "emulator_cpu_s": round(emu_after - emu_before, 2),
        "postgres_cpu_s": round(pg_after - pg_before, 2),
        "machine_busy": round(
            (_busy_s(machine_after) - _busy_s(machine_before))
            / (measured.wall_s * (os.cpu_count() or 1)),
            2,
        ),
        "load_1m": round(load_1m, 2),
        "ok": measured.returncode == 0,
    }


HEADINGS = (
    "workers", "files", "MB/s", "range", "vs N x one", "range", "API calls/file",
    "window s", "all sent s", "tail s", "start skew s", "MB/s, wall", "CPU s workers",
    "CPU s emulator", "CPU s postgres", "machine busy", "load 1m", "all ok",
)  # fmt: skip


def _median(rows: list[dict[str, object]], key: str) -> float:
    return round(statistics.median(float(row[key]) for row in rows), 2)  # type: ignore[arg-type]


def run(fleet: Fleet, work: Path, rounds: int = 1) -> dict[str, object]:
    """Every run (``rounds`` times the sequence of worker counts); the document
    ``save_results`` writes."""
    most = max(
        max(n, round(n * fleet.bwlimit_bytes * fleet.seconds / fleet.file_bytes))
        for n in fleet.workers
    )
    files = write_random_files(work / "files", most, fleet.file_bytes)
    rows: list[dict[str, object]] = []
    with emulator(work / "emulator.log") as emu:
        for number in range(rounds):
            order = fleet.workers if number % 2 == 0 else tuple(reversed(fleet.workers))
            played: list[dict[str, object]] = []
            for n in order:
                before = emu.counters()
                row = _one(fleet, n, files, work, emu)
                after = emu.counters()
                api = after.get("api", 0) - before.get("api", 0)
                row["api_calls_per_file"] = round(api / int(row["files"]), 2)  # type: ignore[call-overload]
                row["round"] = number
                played.append(row)
            ones = [float(row["mb_per_s"]) for row in played if row["workers"] == 1]  # type: ignore[arg-type]
            for row in played:
                n = int(row["workers"])  # type: ignore[call-overload]
                row["vs_n_x_one"] = (
                    round(float(row["mb_per_s"]) / (n * ones[0]), 2) if ones else None
                )  # type: ignore[arg-type]
            rows += played
    summary: list[dict[str, object]] = []
    for n in fleet.workers:
        mine = [row for row in rows if row["workers"] == n]
        ratios = [float(row["vs_n_x_one"]) for row in mine if row["vs_n_x_one"] is not None]  # type: ignore[arg-type]
        summary.append(
            {
                "workers": n,
                "files": mine[0]["files"],
                "mb_per_s": _median(mine, "mb_per_s"),
                "mb_per_s_range": f"{min(float(r['mb_per_s']) for r in mine):.2f}-"  # type: ignore[arg-type]
                f"{max(float(r['mb_per_s']) for r in mine):.2f}",  # type: ignore[arg-type]
                "vs_n_x_one": round(statistics.median(ratios), 2) if ratios else None,
                "vs_range": f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "",
                "api_calls_per_file": _median(mine, "api_calls_per_file"),
                "window_s": _median(mine, "window_s"),
                "sent_s": _median(mine, "sent_s"),
                "tail_s": _median(mine, "tail_s"),
                "start_skew_s": _median(mine, "start_skew_s"),
                "wall_mb_per_s": _median(mine, "wall_mb_per_s"),
                "workers_cpu_s": _median(mine, "cpu_s"),
                "emulator_cpu_s": _median(mine, "emulator_cpu_s"),
                "postgres_cpu_s": _median(mine, "postgres_cpu_s"),
                "machine_busy": _median(mine, "machine_busy"),
                "load_1m": _median(mine, "load_1m"),
                "ok": all(row["ok"] for row in mine),
            }
        )
    columns = ("workers", "files", "mb_per_s", "mb_per_s_range", "vs_n_x_one", "vs_range")
    columns += ("api_calls_per_file", "window_s", "sent_s", "tail_s", "start_skew_s")
    columns += ("wall_mb_per_s",)
    columns += ("workers_cpu_s", "emulator_cpu_s")
    columns += ("postgres_cpu_s", "machine_busy", "load_1m", "ok")
    print_table(
        f"Fleet — workers of {fleet.bwlimit_bytes / MiB:.0f} MiB/s each, "
        f"{fleet.file_bytes / MiB:.0f} MiB files, concurrency {fleet.concurrency}, "
        f"medians of {rounds} round(s)",
        HEADINGS,
        [tuple(row[column] for column in columns) for row in summary],
    )
    return {"machine": machine_info(), "shape": fleet.__repr__(), "summary": summary, "runs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--bwlimit", default="8MiB")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--file-size", default="4MiB")
    parser.add_argument("--postgres", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=1, help="rounds of the sequence (medians)")
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
    document = run(fleet, args.work_dir, args.runs)
    print(f"-> {save_results(args.results_dir, 'fleet', document)}")


if __name__ == "__main__":
    main()
