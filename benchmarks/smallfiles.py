"""Workload 2, many small files: files per second of vidlift (library and CLI), each file
with its create call, upload and verification, against the naive sequential client
(benchmarks/baselines/naive_client.py) doing the create call and upload of each file.

Two network conditions: plain loopback, and loopback with ``latency_ms`` added by the
emulator to every request (a stand-in for the round trip to the real platform).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import (
    BENCH_DIR,
    PYTHON,
    VIDLIFT,
    KiB,
    emulator,
    fresh_dir,
    median,
    print_table,
    run_group,
    write_manifest,
    write_random_files,
)

JOURNAL = "{journal}"  # replaced by each run's own journal path


@dataclass(frozen=True, slots=True)
class SmallFiles:
    """The workload's shape."""

    files: int = 2000
    size_bytes: int = 256 * KiB
    runs: int = 3
    naive_files: int = 2000  # the naive client may run on a prefix: its rate is steady
    latency_ms: float = 0.0
    levers: bool = True


def _commands(
    shape: SmallFiles, files: list[Path], manifest: Path, endpoint: str
) -> dict[str, tuple[list[str], int]]:
    lib = [PYTHON, str(BENCH_DIR / "lib_client.py"), str(manifest), JOURNAL, endpoint]
    naive = [PYTHON, str(BENCH_DIR / "baselines" / "naive_client.py"), endpoint]
    cli = [VIDLIFT, "run", str(manifest), "--journal", JOURNAL, "--endpoint", endpoint]
    cli += ["--log-format", "text"]
    n = shape.files
    lib64 = [*lib, "--concurrency", "64"]
    commands = {
        "naive sequential": ([*naive, *map(str, files[: shape.naive_files])], shape.naive_files),
        "vidlift lib (8)": (lib, n),
        "vidlift lib (64)": (lib64, n),
        "vidlift lib (64) uvloop": ([*lib64, "--uvloop"], n),
        # the naive client's work: create + upload, sizes checked, no md5, no videos/show
        "vidlift lib (64) --no-verify-md5": ([*lib64, "--no-verify-md5"], n),
        # the CLI's defaults: concurrency auto (64 for these files), md5 on
        "vidlift cli": (cli, n),
        "vidlift cli --no-verify-md5": ([*cli, "--no-verify-md5"], n),
        "vidlift cli --concurrency 8": ([*cli, "--concurrency", "8"], n),
    }
    if shape.levers and not shape.latency_ms:
        # the journal's share: fsync-free tmpfs, and no SQLite at all
        commands["lever lib (64), journal on tmpfs"] = (lib64, n)
        commands["lever lib (64), memory journal"] = ([*lib64, "--memory-journal"], n)
    return commands


def _journal_dir(name: str, out: Path) -> Path:
    if "tmpfs" in name:
        return Path(tempfile.mkdtemp(prefix="vidlift-bench-", dir="/dev/shm"))
    return out


def run(shape: SmallFiles, work: Path) -> dict[str, object]:
    """Run each client ``shape.runs`` times (interleaved); print and return the table."""
    files = write_random_files(work / "files", shape.files, shape.size_bytes)
    manifest = write_manifest(work / "small.csv", files, "small")
    rates: dict[str, list[float]] = {}
    problems: dict[str, list[str]] = {}
    with emulator(work / "emulator.log", latency_ms=shape.latency_ms) as emu:
        for round_number in range(shape.runs):
            for name, (command, count) in _commands(shape, files, manifest, emu.endpoint).items():
                out = fresh_dir(work / "runs" / str(round_number) / name.replace(" ", "_"))
                journal = _journal_dir(name, out) / "journal.sqlite"
                before = emu.counters().get("files_completed", 0)
                # Each run migrates its own library (a manifest of its own): the same
                # manifest again would be found on the platform and sent nothing.
                own = shutil.copy(manifest, out / manifest.name)
                args = [str(journal) if a == JOURNAL else a for a in command]
                args = [str(own) if a == str(manifest) else a for a in args]
                measured, outputs = run_group([args], out)
                if journal.parent != out:  # the tmpfs lever's directory: RAM, not disk
                    shutil.rmtree(journal.parent, ignore_errors=True)
                done = emu.counters().get("files_completed", 0) - before
                wall = measured.wall_s  # the library's own wall: start-up excluded
                if name.startswith(("vidlift lib", "lever lib")) and measured.returncode == 0:
                    wall = float(json.loads(outputs[0])["wall_s"])
                rates.setdefault(name, []).append(count / wall)
                if done != count or measured.returncode:
                    problems.setdefault(name, []).append(
                        f"{done} of {count} completed, exit {measured.returncode} ({out})"
                    )
                print(f"  {name}: {count / wall:.0f} files/s", flush=True)
    return _report(shape, rates, problems)


def _report(
    shape: SmallFiles, rates: dict[str, list[float]], problems: dict[str, list[str]]
) -> dict[str, object]:
    base = median(rates["naive sequential"])
    rows = {
        name: {
            "files_per_s": median(values),
            "vs_naive": median(values) / base,
            "runs": values,
            "problems": problems.get(name, []),
        }
        for name, values in rates.items()
    }
    latency = f", +{shape.latency_ms:g} ms per request" if shape.latency_ms else ", loopback"
    print_table(
        f"Small files: {shape.files} x {shape.size_bytes // KiB} KiB{latency} (naive: the "
        f"first {shape.naive_files}), median of {shape.runs}",
        ["client", "files/s", "x naive", "ok"],
        [
            [name, row["files_per_s"], row["vs_naive"], "NO" if row["problems"] else "yes"]
            for name, row in rows.items()
        ],
    )
    return {"shape": {n: getattr(shape, n) for n in shape.__slots__}, "clients": rows}
