"""v2 uploads side by side, 50 ms added per request on the emulator: vidlift's v2 platform
(parts in flight), JW's official ``jwplatform`` client (sequential parts), and curl PUTting
the same parts one after another on one keep-alive connection.

    python benchmarks/v2.py [--work DIR] [--big-mib 1024] [--small-mib 256] [--small-count 8]

Each client runs in a process of its own (harness.run_group: wall, user+sys CPU, peak RSS).
For N files: vidlift uploads all N from one process; the official client and curl get one
process per file, all at once. curl's media are created (and its part links listed)
beforehand by Python, not measured. Prints Markdown tables (quoted in RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
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


def _curl(endpoint: str, files: list[Path], work: Path) -> list[list[str]]:
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
        commands.append(["curl", "--config", str(config)])
    return commands


def _row(name: str, measured: Measured, total: int) -> list[object]:
    rate = total / MiB / measured.wall_s if measured.wall_s else 0.0
    cpu_per_gb = measured.cpu_s / (total / 1024**3)
    return [
        name,
        f"{measured.wall_s:.2f}",
        f"{rate:.0f}",
        f"{cpu_per_gb:.2f}",
        f"{measured.peak_rss_bytes / MiB:.0f}",
        measured.returncode,
    ]


def _shape(title: str, files: list[Path], work: Path, latency_ms: float) -> list[list[object]]:
    total = sum(path.stat().st_size for path in files)
    rows: list[list[object]] = []
    runs = {
        "vidlift v2, 4 parts in flight": lambda e: _vidlift(e, files, 4),
        "vidlift v2, 8 parts in flight": lambda e: _vidlift(e, files, 8),
        "vidlift v2, 4 in flight, no md5": lambda e: _vidlift(e, files, 4, "--no-verify-md5"),
        "official jwplatform 2.2.2 (sequential parts)": lambda e: _official(e, files),
        "curl, sequential part PUTs (keep-alive)": lambda e: _curl(e, files, work),
    }
    for name, commands_for in runs.items():
        with emulator(work / "emulator.log", latency_ms=latency_ms) as emu:
            commands = commands_for(emu.endpoint)
            measured, _ = run_group(commands, fresh_dir(work / "logs"))
            done = emu.counters().get("media_completed", 0)
        rows.append([*_row(name, measured, total), f"{done}/{len(files)}"])
    headers = ["client", "wall s", "MiB/s", "CPU s/GB", "peak RSS MiB", "exit", "media"]
    print_table(f"{title}, {latency_ms:.0f} ms per request", headers, rows)
    return rows


def main() -> None:
    """Generate the files, run every client on each shape, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("/tmp/vidlift-bench-v2"))
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--small-mib", type=int, default=256)
    parser.add_argument("--small-count", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    big = write_random_files(work / "big", 1, args.big_mib * MiB)
    small = write_random_files(work / "small", args.small_count, args.small_mib * MiB)
    _shape(f"one {args.big_mib} MiB file", big, work, args.latency_ms)
    _shape(f"{args.small_count} x {args.small_mib} MiB", small, work, args.latency_ms)


if __name__ == "__main__":
    main()
