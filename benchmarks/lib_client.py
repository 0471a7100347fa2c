"""A vidlift library client in a process of its own, so that its CPU time is its own.

Ingests the manifest into the journal and runs :func:`vidlift.run_batch` (what
``run_batch(manifest_path, ...)`` does, with the ingest timed apart), then prints one JSON
line: wall seconds, user/sys CPU seconds of the run (``resource.getrusage`` deltas around
it, interpreter start and imports excluded), peak RSS of the process (``VmHWM``: its
own, unlike ``ru_maxrss``, see harness.py), ingest seconds, jobs
done/failed, bytes sent and the piece size the batch used (``piece_bytes_for``: the
configured one, made smaller at high concurrency). ``--time-limit-s`` stops the batch
cleanly after that long. ``--no-zero-copy`` is ``UploadSettings(zero_copy=False)``: the
segment bodies go through Python even when sendfile would apply. ``--site-id SITE``: the
v2 API (parts, or a direct PUT) instead of v1. ``--api-window-s S``: the API pacer takes
a quota window of S seconds (when answers state no reset time; default 60, JW's minute).

    python benchmarks/lib_client.py MANIFEST JOURNAL ENDPOINT [--concurrency 8]
        [--chunk-bytes N] [--piece-bytes N] [--no-verify-md5] [--no-zero-copy]
        [--lever readinto] [--uvloop] [--memory-journal] [--time-limit-s S] [--site-id SITE]
        [--api-window-s S]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

import anyio
import levers
from harness import API_KEY, API_SECRET

from vidlift import BatchSettings, Limits, MemoryJournal, SqliteJournal, UploadSettings, run_batch
from vidlift.jobs.batch import piece_bytes_for
from vidlift.jobs.ingest import ingest_manifest
from vidlift.jobs.pacing import ApiPacer
from vidlift.jobs.verification import DEFAULT_MAX_WAIT_S
from vidlift.journal.base import Journal


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    journal: Journal
    if args.memory_journal:
        journal = MemoryJournal()
    else:
        journal = await SqliteJournal.open(args.journal)
    settings = BatchSettings(
        limits=Limits(files_in_flight=args.concurrency),
        grace_s=30.0,
        verify_batch_size=args.verify_batch_size,
        verify_wait_s=args.verify_wait_s,
        upload=UploadSettings(
            chunk_size_bytes=args.chunk_bytes,
            piece_bytes=args.piece_bytes,
            verify_md5=not args.no_verify_md5,
            zero_copy=not args.no_zero_copy,
        ),
    )
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    stop = anyio.Event()
    try:
        await ingest_manifest(journal, args.manifest)
        ingest_s = time.perf_counter() - started
        async with anyio.create_task_group() as group:
            if args.time_limit_s:
                group.start_soon(_stop_later, stop, args.time_limit_s)
            outcome = await run_batch(
                None,
                journal=journal,
                api_key=API_KEY,
                api_secret=API_SECRET,
                endpoint=args.endpoint,
                settings=settings,
                stop=stop,
                site_id=args.site_id,
                api_pacer=ApiPacer(window_s=args.api_window_s) if args.api_window_s else None,
            )
            group.cancel_scope.cancel()
    finally:
        await journal.close()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_s": wall,
        "user_s": after.ru_utime - before.ru_utime,
        "sys_s": after.ru_stime - before.ru_stime,
        "peak_rss_bytes": _peak_rss_bytes() or after.ru_maxrss * 1024,
        "ingest_s": ingest_s,
        "done": outcome.done,
        "failed": outcome.failed,
        "bytes_sent": outcome.bytes_sent,
        "piece_bytes": piece_bytes_for(settings),
        "stopped_by": outcome.stopped_by,
    }


def _peak_rss_bytes() -> int | None:
    """This process's own peak RSS (``VmHWM``), None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


async def _stop_later(stop: anyio.Event, delay_s: float) -> None:
    await anyio.sleep(delay_s)
    stop.set()


def main() -> None:
    """Parse the flags, apply the levers, run the batch, print the JSON line."""
    parser = argparse.ArgumentParser(description="vidlift library benchmark client")
    parser.add_argument("manifest", type=Path)
    parser.add_argument("journal", type=Path)
    parser.add_argument("endpoint")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--verify-batch-size", type=int, help="default: 2 x concurrency, max 50")
    parser.add_argument("--verify-wait-s", type=float, default=DEFAULT_MAX_WAIT_S)
    parser.add_argument("--chunk-bytes", type=int, default=8 * 1024 * 1024)
    parser.add_argument("--piece-bytes", type=int, default=1024 * 1024)
    parser.add_argument(
        "--no-verify-md5", action="store_true", help="UploadSettings(verify_md5=False)"
    )
    parser.add_argument(
        "--no-zero-copy", action="store_true", help="UploadSettings(zero_copy=False)"
    )
    parser.add_argument("--lever", action="append", default=[], choices=levers.LEVERS)
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--memory-journal", action="store_true")
    parser.add_argument("--time-limit-s", type=float, help="stop (cleanly) after this long")
    parser.add_argument("--site-id", help="the v2 API on this site (default: v1)")
    parser.add_argument("--api-window-s", type=float, help="the API pacer's quota window")
    args = parser.parse_args()
    levers.apply(args.lever)
    options = {"use_uvloop": True} if args.uvloop else {}
    print(json.dumps(anyio.run(_run, args, backend_options=options)))


if __name__ == "__main__":
    main()
