"""Workload: relay (issue 13). The same files migrated by ``vidlift run`` from local paths
and from URLs (a local origin process, aiohttp's file responses, Range + ETag), and by
``curl | curl`` (one GET piped into one whole-file POST per file), all against one
emulator process, clients interleaved per round. Targets: the relay's client CPU per GB
at most 1.3x the local-file path's; its peak RSS flat in the file size (a second, larger
file size is run for that).
"""

from __future__ import annotations

import csv
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from baselines.naive_client import create_video
from harness import (
    BENCH_DIR,
    PYTHON,
    VIDLIFT,
    EmulatorProcess,
    Measured,
    MiB,
    emulator,
    fresh_dir,
    median,
    print_table,
    run_group,
    write_manifest,
    write_random_files,
)


@dataclass(frozen=True, slots=True)
class Relay:
    """The workload's shape."""

    files: int = 4
    size_bytes: int = 128 * MiB
    big_size_bytes: int = 512 * MiB  # one file of this size: is the relay's RSS flat?
    chunk_bytes: int = 8 * MiB
    concurrency: int = 4
    runs: int = 3


Runner = Callable[[EmulatorProcess, Path], Measured]


@contextmanager
def origin(folder: Path, log: Path) -> Iterator[str]:
    """The origin process serving ``folder``; yields its base URL."""
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [PYTHON, str(BENCH_DIR / "origin_proc.py"), str(folder)],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    try:
        if "listening on" not in line:
            raise RuntimeError(f"the origin did not start: {line!r}; see {log}")
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def _url_manifest(path: Path, files: Sequence[Path], base: str) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "download_url", "title"])
        for number, file in enumerate(files):
            writer.writerow([f"url-{number:06d}", f"{base}/{file.name}", file.stem])
    return path


def _vidlift(manifest: Path, shape: Relay) -> Runner:
    def run(emu: EmulatorProcess, work: Path) -> Measured:
        own = shutil.copy(manifest, work / manifest.name)  # a library of its own per run
        command = [VIDLIFT, "run", str(own), "--journal", str(work / "journal.sqlite")]
        command += ["--endpoint", emu.endpoint, "--concurrency", str(shape.concurrency)]
        command += ["--chunk-size", str(shape.chunk_bytes), "--log-format", "text"]
        measured, _ = run_group([command], work)
        return measured

    return run


def _curl_pipe(files: Sequence[Path], base: str) -> Runner:
    def run(emu: EmulatorProcess, work: Path) -> Measured:
        commands = []
        for file in files:
            created = create_video(emu.endpoint, file.stem)  # not measured: curl cannot sign
            size = file.stat().st_size
            get = ["curl", "-sf", f"{base}/{file.name}"]
            post = ["curl", "-sf", "-o", "/dev/null", "-X", "POST", "-T", "-"]
            post += ["-H", f"X-Session-ID: {created.session_id}"]
            post += ["-H", f"X-Content-Range: bytes 0-{size - 1}/{size}"]
            post += ["-H", f"Content-Length: {size}", "-H", "Transfer-Encoding:"]
            post += ["-H", f'Content-Disposition: attachment; filename="{file.name}"']
            post += ["-H", "Content-Type: application/octet-stream", "-H", "Expect:"]
            post += [created.upload_url]
            pipeline = f"{shlex.join(get)} | {shlex.join(post)}"
            commands.append(["bash", "-o", "pipefail", "-c", pipeline])
        measured, _ = run_group(commands, work)
        return measured

    return run


def _completed(emu: EmulatorProcess, before: dict[str, int], expected: int) -> bool:
    return emu.counters().get("files_completed", 0) - before.get("files_completed", 0) == expected


def run(shape: Relay, work: Path) -> dict[str, object]:
    """Run every client ``shape.runs`` times (interleaved); print and return the table."""
    folder = work / "files"
    files = write_random_files(folder, shape.files, shape.size_bytes)
    big = write_random_files(work / "big", 1, shape.big_size_bytes)
    total = shape.files * shape.size_bytes
    samples: dict[str, list[tuple[Measured, bool]]] = {}
    with (
        origin(folder, work / "origin.log") as base,
        origin(big[0].parent, work / "origin-big.log") as big_base,
        emulator(work / "emulator.log", max_segment_bytes=shape.big_size_bytes) as emu,
    ):
        clients: dict[str, tuple[Runner, int]] = {
            "vidlift run, local paths": (
                _vidlift(write_manifest(work / "paths.csv", files, "path"), shape),
                shape.files,
            ),
            "vidlift run, URLs (relay)": (
                _vidlift(_url_manifest(work / "urls.csv", files, base), shape),
                shape.files,
            ),
            "curl piped into curl, whole file": (_curl_pipe(files, base), shape.files),
            f"relay, 1 x {shape.big_size_bytes // MiB} MiB": (
                _vidlift(_url_manifest(work / "big.csv", big, big_base), shape),
                1,
            ),
        }
        for round_number in range(shape.runs):
            for number, (name, (runner, count)) in enumerate(clients.items()):
                run_dir = fresh_dir(work / "runs" / f"{round_number}-{number}")
                before = emu.counters()
                measured = runner(emu, run_dir)
                ok = measured.returncode == 0 and _completed(emu, before, count)
                samples.setdefault(name, []).append((measured, ok))
                print(f"  {name}: {measured.wall_s:.2f} s, cpu {measured.cpu_s:.2f} s, ok={ok}")
    return _report(shape, samples, total)


def _report(
    shape: Relay, samples: dict[str, list[tuple[Measured, bool]]], total: int
) -> dict[str, object]:
    rows: dict[str, dict[str, object]] = {}
    for name, runs in samples.items():
        size = shape.big_size_bytes if name.startswith("relay, 1 x") else total
        rows[name] = {
            "bytes": size,
            "mb_per_s": median([size / 1e6 / m.wall_s for m, _ in runs]),
            "client_cpu_s_per_gb": median([m.cpu_s / (size / 1e9) for m, _ in runs]),
            "peak_rss_mb": max(m.peak_rss_bytes for m, _ in runs) / 1e6,
            "all_ok": all(ok for _, ok in runs),
        }
    local = rows["vidlift run, local paths"]
    for row in rows.values():
        row["cpu_vs_local"] = _ratio(row["client_cpu_s_per_gb"], local["client_cpu_s_per_gb"])
    print_table(
        f"Relay: {shape.files} x {shape.size_bytes // MiB} MiB, {shape.chunk_bytes // MiB} MiB "
        f"segments, {shape.concurrency} in flight, median of {shape.runs}",
        ["client", "MB/s", "client CPU s/GB", "x local", "peak RSS MB", "ok"],
        [
            [
                name,
                r["mb_per_s"],
                r["client_cpu_s_per_gb"],
                r["cpu_vs_local"],
                r["peak_rss_mb"],
                "yes" if r["all_ok"] else "NO",
            ]
            for name, r in rows.items()
        ],
    )
    return {"shape": {n: getattr(shape, n) for n in shape.__slots__}, "clients": rows}


def _ratio(value: object, base: object) -> float:
    assert isinstance(value, float) and isinstance(base, float)
    return value / base if base else float("nan")
