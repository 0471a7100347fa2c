"""Workload 4, resume cost: ``kill -9`` a ``vidlift run`` in the middle of a big-file batch,
run it again, and count the bytes the emulator received beyond the files' total
(GET /_emulator/stats, ``bytes_received``): interrupted segments plus anything re-sent.
Target: at most one segment per file in flight.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness import (
    VIDLIFT,
    EmulatorProcess,
    MiB,
    client_env,
    emulator,
    fresh_dir,
    median,
    print_table,
    write_manifest,
    write_random_files,
)


@dataclass(frozen=True, slots=True)
class Resume:
    """The workload's shape."""

    files: int = 8
    size_bytes: int = 256 * MiB
    chunk_bytes: int = 8 * MiB
    concurrency: int = 8
    kill_at: float = 0.5  # fraction of the bytes received when the kill comes
    runs: int = 3


def _command(manifest: Path, journal: Path, endpoint: str, shape: Resume) -> list[str]:
    return [
        VIDLIFT,
        "run",
        str(manifest),
        "--journal",
        str(journal),
        "--endpoint",
        endpoint,
        "--concurrency",
        str(shape.concurrency),
        "--chunk-size",
        str(shape.chunk_bytes),
        "--log-format",
        "text",
    ]


def _one(shape: Resume, manifest: Path, out: Path, emu: EmulatorProcess) -> dict[str, float]:
    total = shape.files * shape.size_bytes
    journal = out / "journal.sqlite"
    # A library of its own per run: the same manifest with a new journal would be found
    # on the platform (vidlift surveys it first) and sent nothing.
    own = Path(shutil.copy(manifest, out / manifest.name))
    command = _command(own, journal, emu.endpoint, shape)
    start = emu.counters()
    with (out / "first.log").open("wb") as log:
        first = subprocess.Popen(command, stdout=log, stderr=log, env=client_env())
    received = 0
    while first.poll() is None:
        received = emu.counters().get("bytes_received", 0) - start.get("bytes_received", 0)
        if received >= shape.kill_at * total:
            os.kill(first.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    first.wait()
    at_kill = emu.counters()
    with (out / "second.log").open("wb") as log:
        second = subprocess.run(command, stdout=log, stderr=log, env=client_env(), check=False)
    end = emu.counters()
    sent = end.get("bytes_received", 0) - start.get("bytes_received", 0)
    done = end.get("files_completed", 0) - start.get("files_completed", 0)
    waste = sent - total
    in_flight = min(shape.concurrency, shape.files)
    return {
        "killed_at_bytes": at_kill.get("bytes_received", 0) - start.get("bytes_received", 0),
        "bytes_received": sent,
        "excess_bytes": waste,
        "excess_segments": waste / shape.chunk_bytes,
        "excess_segments_per_in_flight_file": waste / shape.chunk_bytes / in_flight,
        "interrupted_segments": at_kill.get("segment_interrupted", 0)
        - start.get("segment_interrupted", 0),
        "probes": end.get("probe", 0) - start.get("probe", 0),
        "files_completed": done,
        "second_exit": second.returncode,
        "ok": float(done == shape.files and second.returncode == 0),
    }


def run(shape: Resume, work: Path) -> dict[str, object]:
    """Kill and resume ``shape.runs`` times; print and return the table."""
    files = write_random_files(work / "files", shape.files, shape.size_bytes)
    manifest = write_manifest(work / "resume.csv", files, "resume")
    samples = []
    with emulator(work / "emulator.log") as emu:
        for number in range(shape.runs):
            sample = _one(shape, manifest, fresh_dir(work / "runs" / str(number)), emu)
            samples.append(sample)
            print(f"  run {number}: {sample}", flush=True)
    keys = ("excess_bytes", "excess_segments", "excess_segments_per_in_flight_file")
    medians = {key: median([s[key] for s in samples]) for key in keys}
    worst = max(s["excess_segments_per_in_flight_file"] for s in samples)
    print_table(
        f"Resume: kill -9 at {shape.kill_at:.0%} of {shape.files} x "
        f"{shape.size_bytes // MiB} MiB, {shape.chunk_bytes // MiB} MiB segments, "
        f"{shape.concurrency} in flight; median of {shape.runs}",
        ["excess MiB", "excess segments", "per in-flight file", "worst run", "all completed"],
        [
            [
                medians["excess_bytes"] / MiB,
                medians["excess_segments"],
                medians["excess_segments_per_in_flight_file"],
                worst,
                "yes" if all(s["ok"] for s in samples) else "NO",
            ]
        ],
    )
    return {
        "shape": {n: getattr(shape, n) for n in shape.__slots__},
        "medians": medians,
        "worst_segments_per_in_flight_file": worst,
        "runs": samples,
    }
