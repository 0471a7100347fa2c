"""Fleet mode's journal figures (issue 14): how many claims a second PostgreSQL sustains,
and how big the journal is per 100,000 jobs (PostgreSQL and SQLite).

    python benchmarks/claims.py [--jobs 100000] [--claim-jobs 3000] [--workers 1,4,16]
                                [--batch 1,10]
                                [--postgres postgresql://postgres@127.0.0.1:5432/test]

The size is measured with ``--jobs`` jobs; the claim runs then drain a queue of the first
``--claim-jobs``. Each worker is its own journal (its own connection pool, as on its own
host) claiming jobs until the queue is empty: the claim alone (one bulk statement then
settles each claimed batch), then with two writes per claimed job (mark_creating,
mark_failed). Runs in a schema of its own, dropped after.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import anyio
import asyncpg

from vidlift.journal.postgres import PostgresJournal
from vidlift.journal.sqlite import SqliteJournal
from vidlift.testing.journal_conformance import sample_entry

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
_SETTLE = (
    "UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL "
    "WHERE job_id = ANY($1::text[])"
)


async def _fill(journal: PostgresJournal | SqliteJournal, jobs: int) -> float:
    started = time.perf_counter()
    await journal.add_entries(sample_entry(n) for n in range(jobs))
    return time.perf_counter() - started


async def _connect(base: str, schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(base, server_settings={"search_path": schema})


async def _drain(
    url: str, base: str, schema: str, workers: int, batch: int, *, settle: bool
) -> tuple[int, float]:
    """Claim everything with ``workers`` journals; (claims, seconds). ``settle``: two
    writes per claimed job, as a worker makes at least; else one bulk statement per
    claimed batch (claimed jobs left runnable would be skipped by every later claim)."""
    journals = [await PostgresJournal.open(url, max_connections=2) for _ in range(workers)]
    bulk = [await _connect(base, schema) for _ in range(0 if settle else workers)]
    claimed = [0] * workers

    async def work(index: int) -> None:
        journal = journals[index]
        while records := await journal.claim(f"bench-{index}", batch, 60.0):
            claimed[index] += len(records)
            if settle:  # two more writes per job (a real worker makes six or more)
                for record in records:
                    await journal.mark_creating(record.job_id)
                    await journal.mark_failed(record.job_id, "bench")
            else:  # the claim alone: one statement settles the batch, so it is not skipped
                await bulk[index].execute(_SETTLE, [record.job_id for record in records])

    started = time.perf_counter()
    try:
        async with anyio.create_task_group() as group:
            for index in range(workers):
                group.start_soon(work, index)
    finally:
        for journal in journals:
            await journal.close()
        for conn in bulk:
            await conn.close()
    return sum(claimed), time.perf_counter() - started


async def _schema_size(base: str, schema: str) -> int:
    conn = await asyncpg.connect(base)
    try:
        size = await conn.fetchval(
            "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind = 'r'",
            schema,
        )
        return int(size or 0)
    finally:
        await conn.close()


async def _shrink(base: str, schema: str, keep: int) -> None:
    """Keep the first ``keep`` jobs: the claim runs drain a smaller queue."""
    conn = await asyncpg.connect(base, server_settings={"search_path": schema})
    try:
        await conn.execute("DELETE FROM jobs WHERE seq > $1", keep)
    finally:
        await conn.close()


async def _requeue(base: str, schema: str) -> None:
    """Every job pending and unleased again (the same queue for the next run)."""
    conn = await asyncpg.connect(base, server_settings={"search_path": schema})
    try:
        await conn.execute(
            "UPDATE jobs SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL"
        )
        await conn.execute("VACUUM ANALYZE jobs")
    finally:
        await conn.close()


async def _drop(base: str, schema: str) -> None:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def measure(
    base: str, jobs: int, claim_jobs: int, workers: list[int], batches: list[int]
) -> dict[str, object]:
    """Every figure, as a dict (printed as JSON and a table)."""
    results: dict[str, object] = {"jobs": jobs, "claims": []}
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{base}{'&' if '?' in base else '?'}schema={schema}"
    try:
        async with await PostgresJournal.open(url) as journal:
            results["postgres_fill_s"] = round(await _fill(journal, jobs), 2)
        results["postgres_bytes"] = await _schema_size(base, schema)
        await _shrink(base, schema, claim_jobs)
        for count in workers:
            for batch in batches:
                for settle in (False, True):
                    await _requeue(base, schema)
                    claims, seconds = await _drain(url, base, schema, count, batch, settle=settle)
                    row = {"workers": count, "batch": batch, "writes_per_job": 2 * settle}
                    row |= {"claims": claims, "per_s": round(claims / seconds)}
                    results["claims"].append(row)  # type: ignore[attr-defined]
                    what = "jobs/s with 2 writes each" if settle else "claims/s (claim only)"
                    print(f"  {count:3} workers, claim batch {batch:3}: {row['per_s']:6} {what}")
    finally:
        await _drop(base, schema)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.vidlift.sqlite"
        async with await SqliteJournal.open(path) as sqlite:
            results["sqlite_fill_s"] = round(await _fill(sqlite, jobs), 2)
        results["sqlite_bytes"] = _folder_bytes(Path(folder))
    return results


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--claim-jobs", type=int, default=3000)
    parser.add_argument("--workers", default="1,4,16")
    parser.add_argument("--batch", default="1,10")
    parser.add_argument("--postgres", default=DEFAULT_URL)
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",")]
    batches = [int(n) for n in args.batch.split(",")]
    print(f"## journal claims ({args.jobs} jobs)")
    results = anyio.run(measure, args.postgres, args.jobs, args.claim_jobs, workers, batches)
    per_100k = 100_000 / args.jobs
    print(f"  PostgreSQL: {results['postgres_bytes'] * per_100k / 2**20:.0f} MiB per 100,000 jobs")
    print(f"  SQLite:     {results['sqlite_bytes'] * per_100k / 2**20:.0f} MiB per 100,000 jobs")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
