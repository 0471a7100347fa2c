"""v2 uploads side by side, 50 ms added per request on the emulator: vidlift's v2 platform
(parts in flight), JW's official ``jwplatform`` client (sequential parts), and curl PUTting
the same parts one after another on one keep-alive connection (and, as the baseline of a
checked upload, the same curl with ``md5sum`` of the file running beside it).

    python benchmarks/v2.py [--work DIR] [--big-mib 1024] [--small-mib 256] [--small-count 8]
        [--runs 1]

Each client runs in a process of its own (harness.run_group: wall, user+sys CPU, peak RSS).
For N files: vidlift uploads all N from one process; the official client and curl get one
process per file, all at once. curl's media are created (and its part links listed)
beforehand by Python, not measured. Prints Markdown tables (quoted in RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from curl_clients import split_file
from harness import (
    BENCH_DIR,
    PYTHON,
    Measured,
    MiB,
    client_env,
    emulator,
    fresh_dir,
    print_table,
    run_group,
    write_random_files,
)

CLIENTS = str(BENCH_DIR / "v2_clients.py")
CURL_PART_BYTES = 8 * MiB


def _vidlift(endpoint: str, files: list[Path], in_flight: int, *more: str) -> list[list[str]]:
    flags = ["--parts-in-flight", str(in_flight), *more]
    return [[PYTHON, CLIENTS, "vidlift", endpoint, *map(str, files), *flags]]


def _official(endpoint: str, files: list[Path]) -> list[list[str]]:
    return [[PYTHON, CLIENTS, "official", endpoint, str(path)] for path in files]


def _curl(endpoint: str, files: list[Path], work: Path, *, md5sum: bool = False) -> list[list[str]]:
    commands = []
    for number, path in enumerate(files):
        prepared = subprocess.run(
            [PYTHON, CLIENTS, "prepare", endpoint, str(path), "--part-bytes", str(CURL_PART_BYTES)],
            check=True,
            capture_output=True,
            env=client_env(),
        )
        created = json.loads(prepared.stdout)
        parts = split_file(path, work / f"parts-{number}", CURL_PART_BYTES)
        config = work / f"curl-{number}.cfg"
        lines: list[str] = []
        for link, part in zip(created["links"], parts, strict=True):
            lines += [f'url = "{link}"', f'upload-file = "{part.path}"', 'output = "/dev/null"']
            lines += ['header = "Expect:"', "silent", "next"]
        token, upload_id = created["upload_token"], created["upload_id"]
        lines += [f'url = "{endpoint}/v2/uploads/{upload_id}/complete"', 'request = "PUT"']
        lines += [f'header = "Authorization: Bearer {token}"', 'output = "/dev/null"', "silent"]
        config.write_text("\n".join(lines) + "\n")
        if md5sum:  # the honest baseline for a checked upload: the file's md5 beside it
            script = f'md5sum "{path}" >/dev/null & curl --config "{config}"; wait'
            commands.append(["sh", "-c", script])
        else:
            commands.append(["curl", "--config", str(config)])
    return commands


def _median_measure(runs: list[Measured]) -> Measured:
    """The run of median wall time (its CPU and RSS with it: one real run, not a blend)."""
    ordered = sorted(runs, key=lambda m: m.wall_s)
    return ordered[len(ordered) // 2]


def _row(name: str, runs: list[Measured], total: int) -> list[object]:
    measured = _median_measure(runs)
    rate = total / MiB / measured.wall_s if measured.wall_s else 0.0
    cpus = sorted(m.cpu_s / (total / 1024**3) for m in runs)
    return [
        name,
        f"{measured.wall_s:.2f}",
        f"{rate:.0f}",
        f"{cpus[len(cpus) // 2]:.2f}",
        f"{measured.peak_rss_bytes / MiB:.0f}",
        max(m.returncode for m in runs),
    ]


def _shape(
    title: str, files: list[Path], work: Path, latency_ms: float, rounds: int
) -> list[list[object]]:
    total = sum(path.stat().st_size for path in files)
    clients: dict[str, Callable[[str], list[list[str]]]] = {
        "vidlift v2, 4 parts in flight": lambda e: _vidlift(e, files, 4),
        "vidlift v2, 8 parts in flight": lambda e: _vidlift(e, files, 8),
        "vidlift v2, 4 in flight, no md5": lambda e: _vidlift(e, files, 4, "--no-verify-md5"),
        "official jwplatform 2.2.2 (sequential parts)": lambda e: _official(e, files),
        "curl, sequential part PUTs (keep-alive)": lambda e: _curl(e, files, work),
        "curl + md5sum of the file beside it": lambda e: _curl(e, files, work, md5sum=True),
    }
    measured: dict[str, list[Measured]] = {name: [] for name in clients}
    completed: dict[str, int] = dict.fromkeys(clients, len(files))
    for _ in range(rounds):  # clients interleaved round by round
        for name, commands_for in clients.items():
            with emulator(work / "emulator.log", latency_ms=latency_ms) as emu:
                commands = commands_for(emu.endpoint)
                result, _ = run_group(commands, fresh_dir(work / "logs"))
                done = emu.counters().get("media_completed", 0)
            measured[name].append(result)
            completed[name] = min(completed[name], done)
    rows = [
        [*_row(name, measured[name], total), f"{completed[name]}/{len(files)}"] for name in clients
    ]
    headers = ["client", "wall s", "MiB/s", "CPU s/GB", "peak RSS MiB", "exit", "media"]
    print_table(f"{title}, {latency_ms:.0f} ms per request, median of {rounds}", headers, rows)
    return rows


def main() -> None:
    """Generate the files, run every client on each shape, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("/tmp/vidlift-bench-v2"))
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--small-mib", type=int, default=256)
    parser.add_argument("--small-count", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=1, help="rounds (medians are printed)")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    big = write_random_files(work / "big", 1, args.big_mib * MiB)
    small = write_random_files(work / "small", args.small_count, args.small_mib * MiB)
    _shape(f"one {args.big_mib} MiB file", big, work, args.latency_ms, args.runs)
    if args.small_count:
        title = f"{args.small_count} x {args.small_mib} MiB"
        _shape(title, small, work, args.latency_ms, args.runs)


if __name__ == "__main__":
    main()
