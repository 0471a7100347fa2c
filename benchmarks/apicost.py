"""API calls per file, and files per minute of API budget (issue 15).

The real platform allows 60 calls a minute per key; for small files that budget, not the
bandwidth, bounds a migration. The emulator runs with that shape scaled in time: 60 calls
per ``window_s`` (6 s: 10x faster than the real minute). Clients:

- **naive checked** (benchmarks/baselines/naive_checked.py): per file a create, the
  upload and a videos/show, sequentially; waits out each 429 until its reset;
- **vidlift lib (64)**: ``run_batch`` at concurrency 64, md5 verified, the finished files
  confirmed in batches by one listing call per 50 (its wait scaled like the window);
- **vidlift lib (64), a show per file**: the same with ``verify_batch_size=0`` (before).

Calls are counted at the emulator (refused ones apart). "files per budget minute" is
files / (wall / window_s): what the client moves per real minute of quota.

``--api v2``: the same through the v2 API (Bearer calls, a direct PUT per small file,
media listings by ``custom_params.vidlift_batch``), vidlift's two clients only (no naive
v2 client: the ratio is to a show per file). The v2 counters are ``v2_api`` and
``v2_error`` (every v2 call, the upload token's included). ``--jw-headers-only`` (v2):
the emulator states the quota as the real platform does, ``JW-Request-Limit`` and
``JW-Request-Remaining`` with no reset time, so vidlift's pacer estimates each window's
end (told the scaled window length).

    python benchmarks/apicost.py [--files 1000] [--naive-files 300] [--shown-files 300]
                                 [--runs 1] [--window-s 6] [--api v1|v2]
                                 [--jw-headers-only]
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import (
    BENCH_DIR,
    PYTHON,
    KiB,
    emulator,
    fresh_dir,
    median,
    print_table,
    run_group,
    save_results,
    write_manifest,
    write_random_files,
)

REAL_WINDOW_S = 60.0
V2_SITE = "demosite"  # the emulator's default site


@dataclass(frozen=True, slots=True)
class ApiCost:
    """The workload's shape."""

    files: int = 1000
    naive_files: int = 300  # the naive client's rate is steady: a prefix is enough
    shown_files: int = 300  # likewise vidlift with a show per file (the manifest's head)
    size_bytes: int = 64 * KiB
    calls_per_window: int = 60
    window_s: float = 6.0
    runs: int = 1
    api: str = "v1"
    jw_headers_only: bool = False  # v2: no reset time in the answers (the real shape)


def _commands(
    shape: ApiCost, files: list[Path], manifests: tuple[Path, Path], endpoint: str
) -> dict[str, list[str]]:
    scale = shape.window_s / REAL_WINDOW_S
    flags = ["--concurrency", "64", "--verify-wait-s", str(30.0 * scale)]
    client = [PYTHON, str(BENCH_DIR / "lib_client.py")]
    lib = [*client, str(manifests[0]), "{journal}", endpoint, *flags]
    shown = [*client, str(manifests[1]), "{journal}", endpoint, *flags]
    naive = [PYTHON, str(BENCH_DIR / "baselines" / "naive_checked.py"), endpoint]
    if shape.api == "v2":
        v2 = ["--site-id", V2_SITE, "--api-window-s", str(shape.window_s)]
        lib, shown = [*lib, *v2], [*shown, *v2]
        return {
            "vidlift lib v2 (64), a show per file": [*shown, "--verify-batch-size", "0"],
            "vidlift lib v2 (64), batched listings": lib,
        }
    return {
        "naive checked (create + upload + show)": [
            *naive,
            *map(str, files[: shape.naive_files]),
        ],
        "vidlift lib (64), a show per file": [*shown, "--verify-batch-size", "0"],
        "vidlift lib (64), batched listings": lib,
    }


def run(shape: ApiCost, work: Path) -> dict[str, object]:
    """Each client ``shape.runs`` times, each against a fresh rate-limited emulator."""
    files = write_random_files(work / "files", shape.files, shape.size_bytes)
    manifest = write_manifest(work / "apicost.csv", files, "cost")
    head = write_manifest(work / "apicost-head.csv", files[: shape.shown_files], "cost")
    flags = ["--rate-limit", str(shape.calls_per_window), "--api-window-s", str(shape.window_s)]
    flags += ["--no-v2-reset-header"] if shape.jw_headers_only else []
    runs: dict[str, list[dict[str, float]]] = {}
    for round_number in range(shape.runs):
        for name, command in _commands(shape, files, (manifest, head), "{endpoint}").items():
            out = fresh_dir(
                work / "runs" / str(round_number) / name.split(",")[0].replace(" ", "_")
            )
            # Each run migrates its own library (a copy of its manifest).
            source = head if "show per file" in name else manifest
            own = str(shutil.copy(source, out / source.name))
            with emulator(out / "emulator.log", extra=flags) as emu:
                args = [
                    emu.endpoint
                    if a == "{endpoint}"
                    else str(out / "j.sqlite")
                    if a == "{journal}"
                    else a
                    for a in command
                ]
                args = [own if a in (str(manifest), str(head)) else a for a in args]
                measured, outputs = run_group([args], out)
                counters = emu.counters()
            summary = json.loads(outputs[0]) if measured.returncode == 0 else {}
            count = int(summary.get("files", summary.get("done", 0)))
            wall = float(summary.get("wall_s", measured.wall_s))
            v2 = shape.api == "v2"
            refused = counters.get("v2_error" if v2 else "api_error", 0)
            calls = counters.get("v2_api" if v2 else "api", 0) - refused
            done = counters.get("media_completed" if v2 else "files_completed", 0)
            row = {
                "files": float(count),
                "completed": float(done),
                "wall_s": wall,
                "calls": float(calls),
                "refused": float(refused),
                "calls_per_file": calls / max(count, 1),
                "files_per_budget_minute": count / (wall / shape.window_s),
            }
            runs.setdefault(name, []).append(row)
            print(f"  {name}: {row}", flush=True)
    return _report(shape, runs)


def _report(shape: ApiCost, runs: dict[str, list[dict[str, float]]]) -> dict[str, object]:
    naive = median([r["files_per_budget_minute"] for r in next(iter(runs.values()))])
    rows = []
    for name, results in runs.items():
        rate = median([r["files_per_budget_minute"] for r in results])
        rows.append(
            [
                name,
                int(median([r["files"] for r in results])),
                f"{median([r['calls_per_file'] for r in results]):.3f}",
                int(median([r["refused"] for r in results])),
                f"{rate:.1f}",
                f"{rate / naive:.2f}",
            ]
        )
    print_table(
        f"API budget ({shape.api}{', no reset header' if shape.jw_headers_only else ''}): "
        f"{shape.calls_per_window} calls per {shape.window_s:g} s window "
        f"(the real minute / {REAL_WINDOW_S / shape.window_s:g}), {shape.size_bytes // KiB} KiB "
        f"files, median of {shape.runs}",
        [
            "client",
            "files",
            "calls/file",
            "429s",
            "files per budget minute",
            "x naive" if shape.api == "v1" else "x a show per file",
        ],
        rows,
    )
    return {"shape": asdict(shape), "runs": runs}


def main() -> None:
    """Parse the flags, run, save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--naive-files", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--shown-files", type=int, default=300)
    parser.add_argument("--window-s", type=float, default=6.0)
    parser.add_argument("--api", choices=("v1", "v2"), default="v1")
    parser.add_argument("--jw-headers-only", action="store_true", help="v2: no reset header")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/vidlift-bench/apicost"))
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args()
    shape = ApiCost(
        args.files,
        args.naive_files,
        args.shown_files,
        runs=args.runs,
        window_s=args.window_s,
        api=args.api,
        jw_headers_only=args.jw_headers_only,
    )
    document = run(shape, args.work_dir)
    name = "api_cost" if args.api == "v1" else "api_cost_v2"
    name += "_jw_headers" if args.jw_headers_only else ""
    print(f"-> {save_results(args.results_dir, name, document)}")


if __name__ == "__main__":
    main()
