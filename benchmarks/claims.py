"""Fleet mode's journal figures (issue 14): how many claims a second the PostgreSQL
journal sustains with 1, 2 and 4 concurrent claimers, how many jobs a second with every
write a worker makes, and how big the journal is per 100,000 jobs (PostgreSQL, SQLite).

    python benchmarks/claims.py [--jobs 100000] [--claims 2000] [--claimers 1,2,4]
                                [--sizes 1,16] [--in-flight 1000]
                                [--postgres postgresql://postgres@127.0.0.1:5432/test]

The size is measured with ``--jobs`` jobs. The runs then use a queue of ``--claims``
jobs behind ``--in-flight`` jobs leased by a worker elsewhere (uploads in progress on
other hosts, which every claim must step over). Each claimer is its own journal (its own
connection pool, as on its own host) and claims until the queue is empty:

- *claims*: ``claim(n)`` alone (``n`` jobs a statement); a second connection settles
  each claimed batch in one statement, so that it is not counted as a worker's write;
- *jobs*: one claim a job then the writes a worker makes for a file: attempt, creating,
  created, progress, verifying, done.

Runs in a schema of its own, dropped after. Works with any version of ``src/`` that has
``PostgresJournal`` (run it with ``PYTHONPATH=<other checkout>/src`` to compare).
"""

from __future__ import annotations

import argparse
import json
import statistics
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
_ELSEWHERE = (
    "UPDATE jobs SET state = 'uploading', lease_owner = 'elsewhere', "
    "lease_expires_at = extract(epoch from now()) + 3600 WHERE seq <= $1"
)


async def _fill(journal: PostgresJournal | SqliteJournal, jobs: int) -> float:
    started = time.perf_counter()
    await journal.add_entries(sample_entry(n) for n in range(jobs))
    return time.perf_counter() - started


async def _sql(base: str, schema: str, *statements: tuple[str, tuple[object, ...]]) -> None:
    conn = await asyncpg.connect(base, server_settings={"search_path": schema})
    try:
        for statement, args in statements:
            await conn.execute(statement, *args)
    finally:
        await conn.close()


async def _work_one_job(journal: PostgresJournal, job_id: str) -> None:
    """The writes a worker makes for one file (v1, nothing retried)."""
    await journal.bump_attempts(job_id)
    await journal.mark_creating(job_id)
    await journal.record_created(job_id, video_key="K", upload_url="u", session_id="s")
    await journal.record_progress(job_id, [(0, 1023)])
    await journal.mark_verifying(job_id)
    await journal.mark_done(job_id, video_key="K", md5=None)


async def _drain(url: str, base: str, schema: str, claimers: int, size: int, jobs: bool) -> float:
    """Claim everything with ``claimers`` journals; claims (or jobs) a second."""
    journals = [await PostgresJournal.open(url, max_connections=2) for _ in range(claimers)]
    settle = [
        await asyncpg.connect(base, server_settings={"search_path": schema})
        for _ in range(claimers)
    ]
    claimed = [0] * claimers

    async def claim(index: int) -> None:
        journal = journals[index]
        while records := await journal.claim(f"bench-{index}", size, 60.0):
            claimed[index] += len(records)
            if jobs:
                for record in records:
                    await _work_one_job(journal, record.job_id)
            else:
                await settle[index].execute(_SETTLE, [record.job_id for record in records])

    started = time.perf_counter()
    try:
        async with anyio.create_task_group() as group:
            for index in range(claimers):
                group.start_soon(claim, index)
        elapsed = time.perf_counter() - started  # closing (giving leases back) not counted
    finally:
        for journal in journals:
            await journal.close()
        for conn in settle:
            await conn.close()
    return sum(claimed) / elapsed


async def _schema_bytes(base: str, schema: str) -> dict[str, int]:
    conn = await asyncpg.connect(base)
    try:
        row = await conn.fetchrow(
            "SELECT SUM(pg_table_size(c.oid)), SUM(pg_indexes_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind = 'r'",
            schema,
        )
        return {"table_bytes": int(row[0] or 0), "index_bytes": int(row[1] or 0)}
    finally:
        await conn.close()


async def _reset(base: str, schema: str, claims: int, in_flight: int) -> None:
    """The same queue for every run: ``in_flight`` jobs leased elsewhere, then
    ``claims`` pending jobs; nothing else in the table."""
    await _sql(
        base,
        schema,
        ("DELETE FROM jobs WHERE seq > $1", (claims + in_flight,)),
        (
            "UPDATE jobs SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, "
            "video_key = NULL, upload_url = NULL, session_id = NULL, acked_ranges = '[]', "
            "acked_bytes = 0, attempts = 0, create_sent = false, last_error = NULL, md5 = NULL",
            (),
        ),
        (_ELSEWHERE, (in_flight,)),
        ("VACUUM ANALYZE jobs", ()),
    )


async def measure(args: argparse.Namespace) -> dict[str, object]:
    """Every figure, as a dict (printed as JSON and a table)."""
    base: str = args.postgres
    results: dict[str, object] = {"jobs": args.jobs, "in_flight": args.in_flight, "runs": []}
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{base}{'&' if '?' in base else '?'}schema={schema}"
    try:
        async with await PostgresJournal.open(url) as journal:
            results["postgres_fill_s"] = round(await _fill(journal, args.jobs), 2)
        results["postgres"] = await _schema_bytes(base, schema)
        for what in args.what:
            sizes = args.sizes if what == "claims" else [1]
            for size in sizes:
                for claimers in args.claimers:
                    rates = []
                    for _ in range(args.repeat):
                        await _reset(base, schema, args.claims, args.in_flight)
                        rates.append(
                            await _drain(url, base, schema, claimers, size, what == "jobs")
                        )
                    row = {"what": what, "claimers": claimers, "claim_size": size}
                    row["per_s"] = round(statistics.median(rates))
                    results["runs"].append(row)  # type: ignore[attr-defined]
                    print(f"  {what:6} {claimers} claimer(s), {size:3} a claim: {row['per_s']:6}/s")
    finally:
        await _sql(base, "public", (f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', ()))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.vidlift.sqlite"
        async with await SqliteJournal.open(path) as sqlite:
            results["sqlite_fill_s"] = round(await _fill(sqlite, args.jobs), 2)
        results["sqlite_bytes"] = _folder_bytes(Path(folder))
    return results


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (median)")
    parser.add_argument(
        "--claimers", type=lambda s: [int(n) for n in s.split(",")], default="1,2,4"
    )
    parser.add_argument("--sizes", type=lambda s: [int(n) for n in s.split(",")], default="1,16")
    parser.add_argument("--what", type=lambda s: s.split(","), default="claims,jobs")
    parser.add_argument("--postgres", default=DEFAULT_URL)
    args = parser.parse_args()
    print(
        f"## journal claims ({args.jobs} jobs; queue of {args.claims}, {args.in_flight} in flight)"
    )
    results = anyio.run(measure, args)
    per_100k = 100_000 / args.jobs
    pg = results["postgres"]
    assert isinstance(pg, dict)
    print(
        f"  PostgreSQL: {(pg['table_bytes'] + pg['index_bytes']) * per_100k / 2**20:.0f} MiB per "
        f"100,000 jobs ({pg['index_bytes'] * per_100k / 2**20:.0f} MiB of it indexes), "
        f"queued in {results['postgres_fill_s']} s"
    )
    sqlite_mib = int(results["sqlite_bytes"]) * per_100k / 2**20  # type: ignore[call-overload]
    fill_s = results["sqlite_fill_s"]
    print(f"  SQLite:     {sqlite_mib:.0f} MiB per 100,000 jobs, queued in {fill_s} s")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
