"""The benchmark suite (issue 6): ``make bench`` runs it all; ``--quick`` a short version;
``--smoke`` the CI case (tests/integration/test_bench_smoke.py). Each benchmark prints a
Markdown table and writes ``results/<name>.json``; see benchmarks/RESULTS.md.

    python benchmarks/run.py [--quick | --smoke] [--runs N]
                             [--only big,small,scale,resume,relay,fleet]
                             [--work-dir DIR] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import bigfiles
import relay
import resume
import scale
import smallfiles
from harness import BENCH_DIR, KiB, MiB, save_results

Plan = dict[str, Callable[[Path], dict[str, object]]]


def _plan(mode: str, runs: int | None) -> Plan:
    """What each benchmark runs in this mode (full, quick, smoke)."""
    if mode == "smoke":
        # no_verify: the zero-copy (sendfile) bodies too, their md5 checked on the server
        big = bigfiles.BigFiles(2, 16 * MiB, 8 * MiB, 2, runs or 1, checked=True, levers=False)
        small = smallfiles.SmallFiles(20, 256 * KiB, runs or 1, naive_files=10, levers=False)
        return {
            "big_files": lambda w: bigfiles.run(big, w / "big"),
            "small_files": lambda w: smallfiles.run(small, w / "small"),
        }
    quick = mode == "quick"
    n = runs or (1 if quick else 3)
    size = 32 * MiB if quick else 128 * MiB
    big = bigfiles.BigFiles(8, size, 8 * MiB, 8, n)
    small = smallfiles.SmallFiles(200 if quick else 400, 256 * KiB, n, 100 if quick else 200)
    latency = smallfiles.SmallFiles(
        300 if quick else 2000, 256 * KiB, n, 30 if quick else 60, latency_ms=20
    )
    rows = (2_000, 10_000) if quick else (10_000, 100_000)
    sizes = (8 * MiB, 32 * MiB) if quick else (8 * MiB, 32 * MiB, 64 * MiB)
    grid = scale.Scale(rows=rows, time_limit_s=5 if quick else 20, file_sizes=sizes)
    kill = resume.Resume(4 if quick else 8, 64 * MiB if quick else size, runs=n)
    relayed = relay.Relay(
        4, 32 * MiB if quick else 128 * MiB, 128 * MiB if quick else 512 * MiB, runs=n
    )
    plan: Plan = {
        "big_files": lambda w: bigfiles.run(big, w / "big"),
        "small_files": lambda w: smallfiles.run(small, w / "small"),
        "small_files_latency": lambda w: smallfiles.run(latency, w / "small-latency"),
        "scale": lambda w: scale.run(grid, w / "scale"),
        "resume": lambda w: resume.run(kill, w / "big"),
        "relay": lambda w: relay.run(relayed, w / "relay"),
    }
    return plan | _fleet_plan(quick)


def _fleet_plan(quick: bool) -> Plan:
    """The fleet benchmark (issue 14), when PostgreSQL answers (about 40 s; quick 25 s)."""
    try:
        import fleet
    except ImportError as exc:  # asyncpg: the postgres extra
        print(f"(fleet benchmark skipped: {exc})")
        return {}
    if not fleet.postgres_answers():
        print(f"(fleet benchmark skipped: no PostgreSQL at {fleet.DEFAULT_URL})")
        return {}
    shape = fleet.Fleet(seconds=4.0 if quick else 8.0)
    return {"fleet": lambda w: fleet.run(shape, w / "fleet")}


def main() -> None:
    """Run the selected benchmarks and write their JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="small sizes, one run each")
    group.add_argument("--smoke", action="store_true", help="the CI case (seconds)")
    parser.add_argument("--runs", type=int, help="runs per client (default 3, quick 1)")
    parser.add_argument("--only", help="comma-separated: big,small,scale,resume,relay,fleet")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/vidlift-bench"))
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    plan = _plan(mode, args.runs)
    if args.only:
        wanted = args.only.split(",")
        plan = {k: v for k, v in plan.items() if any(k.startswith(w) for w in wanted)}
    timings: dict[str, object] = {}
    started = time.perf_counter()
    for name, bench in plan.items():
        print(f"\n## {name} ({mode})", flush=True)
        began = time.perf_counter()
        document = bench(args.work_dir / mode)
        timings[name] = time.perf_counter() - began
        document["mode"], document["elapsed_s"] = mode, timings[name]
        print(f"-> {save_results(args.results_dir, name, document)} ({timings[name]:.0f} s)")
    total = time.perf_counter() - started
    save_results(args.results_dir, "run", {"mode": mode, "elapsed_s": total, "timings": timings})
    print(f"\nbenchmarks done in {total:.0f} s ({mode})")


if __name__ == "__main__":
    main()
