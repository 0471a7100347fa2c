"""Workload 3, scale: scheduling overhead per file, journal size and peak RSS of vidlift
at concurrency 64 with 8 MiB segments, against the instant-answer server
(benchmarks/instant_server.py), so that vidlift itself is what is measured.

- manifest length: two manifests of tiny files (e.g. 10,000 and 100,000 rows), each run
  for ``time_limit_s`` after the whole manifest is ingested, then stopped cleanly; the
  rate is taken over the files done, the journal holds every row.
- file size: 64 sparse files of each size (e.g. 8, 32, 64 MiB), run to the end: the
  default (md5 on, bodies read in pieces; ``run_batch`` picks the piece size from the
  concurrency, 512 KiB at 64), the same with the ``readinto`` lever, and
  ``--no-verify-md5`` (zero-copy sendfile bodies: no pieces at all).
Peak RSS must stay the same across both pairs.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import (
    BENCH_DIR,
    PYTHON,
    KiB,
    MiB,
    fresh_dir,
    print_table,
    run_group,
    write_manifest,
    write_random_files,
)


@dataclass(frozen=True, slots=True)
class Scale:
    """The workload's shape."""

    rows: tuple[int, ...] = (10_000, 100_000)
    row_bytes: int = 1 * KiB
    time_limit_s: float = 30.0
    file_sizes: tuple[int, ...] = (8 * MiB, 32 * MiB)
    files: int = 64
    concurrency: int = 64
    chunk_bytes: int = 8 * MiB


def _sparse_files(folder: Path, count: int, size_bytes: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"s{number:04d}.bin" for number in range(count)]
    for path in paths:
        with path.open("wb") as handle:
            handle.truncate(size_bytes)
    return paths


def _one_run(
    endpoint: str, manifest: Path, out: Path, shape: Scale, limit: float | None, *flags: str
) -> dict[str, float]:
    journal = out / "journal.sqlite"
    command = [PYTHON, str(BENCH_DIR / "lib_client.py"), str(manifest), str(journal), endpoint]
    command += ["--concurrency", str(shape.concurrency), "--chunk-bytes", str(shape.chunk_bytes)]
    command += ["--time-limit-s", str(limit)] if limit else []
    command += flags
    measured, outputs = run_group([command], out)
    if measured.returncode:
        raise RuntimeError(f"lib_client failed ({measured.returncode}); see {out}")
    doc = json.loads(outputs[0])
    size = sum(p.stat().st_size for p in out.glob("journal.sqlite*") if p.is_file())
    done = max(int(doc["done"]), 1)
    run_s = float(doc["wall_s"]) - float(doc["ingest_s"])
    return {
        "done": doc["done"],
        "failed": doc["failed"],
        "ingest_s": doc["ingest_s"],
        "ingest_us_per_row": doc["ingest_s"] / _rows(manifest) * 1e6,
        "ms_per_file": run_s / done * 1e3,
        "cpu_ms_per_file": (doc["user_s"] + doc["sys_s"]) / done * 1e3,
        "journal_bytes": size,
        "peak_rss_mb": doc["peak_rss_bytes"] / 1e6,
        "piece_bytes": doc["piece_bytes"],
    }


def _rows(manifest: Path) -> int:
    with manifest.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 1)


def run(shape: Scale, work: Path) -> dict[str, object]:
    """Both pairs of runs against one instant server; print and return the tables."""
    server = subprocess.Popen(
        [PYTHON, str(BENCH_DIR / "instant_server.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().rsplit(" ", 1)[1].strip()
        by_rows: dict[int, dict[str, float]] = {}
        by_size: dict[str, dict[str, float]] = {}
        for rows in shape.rows:
            files = write_random_files(work / "tiny", rows, shape.row_bytes)
            manifest = write_manifest(work / f"rows-{rows}.csv", files, f"r{rows}")
            out = fresh_dir(work / "runs" / f"rows-{rows}")
            by_rows[rows] = _one_run(endpoint, manifest, out, shape, shape.time_limit_s)
            print(f"  {rows} rows: {by_rows[rows]}", flush=True)
        for size in shape.file_sizes:
            files = _sparse_files(work / f"sparse-{size}", shape.files, size)
            manifest = write_manifest(work / f"size-{size}.csv", files, f"s{size}")
            out = fresh_dir(work / "runs" / f"size-{size}")
            by_size[f"{size // MiB}"] = _one_run(endpoint, manifest, out, shape, None)
            # the same with the readinto lever: two reused buffers per file in flight
            out = fresh_dir(work / "runs" / f"size-{size}-readinto")
            by_size[f"{size // MiB} readinto"] = _one_run(
                endpoint, manifest, out, shape, None, "--lever", "readinto"
            )
            # md5 off: plain HTTP, so the bodies are sendfile()d (no pieces in memory)
            out = fresh_dir(work / "runs" / f"size-{size}-no-verify")
            by_size[f"{size // MiB} --no-verify-md5"] = _one_run(
                endpoint, manifest, out, shape, None, "--no-verify-md5"
            )
        print(f"  by file size: {by_size}", flush=True)
    finally:
        server.terminate()
        server.wait()
    _print(shape, by_rows, by_size)
    return {
        "shape": {n: getattr(shape, n) for n in shape.__slots__},
        "by_rows": by_rows,
        "by_file_size": by_size,
    }


def _print(
    shape: Scale, by_rows: dict[int, dict[str, float]], by_size: dict[str, dict[str, float]]
) -> None:
    print_table(
        f"Scale: manifest length ({shape.row_bytes} B files, concurrency {shape.concurrency}, "
        f"{shape.chunk_bytes // MiB} MiB segments, {shape.time_limit_s:g} s of uploads each)",
        ["rows", "ingest us/row", "files done", "ms/file", "CPU ms/file", "journal MB", "RSS MB"],
        [
            [
                rows,
                r["ingest_us_per_row"],
                r["done"],
                r["ms_per_file"],
                r["cpu_ms_per_file"],
                r["journal_bytes"] / 1e6,
                r["peak_rss_mb"],
            ]
            for rows, r in by_rows.items()
        ],
    )
    print_table(
        f"Scale: file size ({shape.files} files, concurrency {shape.concurrency})",
        ["file size MiB", "piece KiB", "files done", "ms/file", "CPU ms/file", "RSS MB"],
        [
            [
                size,
                r["piece_bytes"] // KiB,
                r["done"],
                r["ms_per_file"],
                r["cpu_ms_per_file"],
                r["peak_rss_mb"],
            ]
            for size, r in by_size.items()
        ],
    )
