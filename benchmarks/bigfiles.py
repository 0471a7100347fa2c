"""Workload 1, big files: aggregate MB/s, client CPU s/GB and server CPU s/GB of vidlift
(library default and tuned, CLI, each also with ``--no-verify-md5``, which on plain HTTP
sends the segment bodies with sendfile; the library with ``--no-verify-md5
--no-zero-copy``, the same bodies through Python; the ``readinto`` lever prototype)
against curl keep-alive and the whole-file upper bound, all against one emulator process,
clients interleaved per round.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import curl_clients
from harness import (
    BENCH_DIR,
    PYTHON,
    UVLOOP,
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
class BigFiles:
    """The workload's shape."""

    files: int = 8
    size_bytes: int = 256 * MiB
    chunk_bytes: int = 8 * MiB
    concurrency: int = 8
    runs: int = 3
    checked: bool = False  # the emulator hashes what it receives; md5s are compared
    no_verify: bool = True  # the rows with md5 verification off (zero-copy bodies)
    levers: bool = True


@dataclass(frozen=True, slots=True)
class Sample:
    """One client's run."""

    measured: Measured  # the client's own wall and CPU (see lib_client for the library)
    process: Measured  # the whole process(es), start-up included
    server_cpu_s: float
    ok: bool
    detail: str = ""


Runner = Callable[[EmulatorProcess, Path], tuple[Measured, Measured, bool, str]]


def _library(shape: BigFiles, manifest: Path, *flags: str) -> Runner:
    def run(emu: EmulatorProcess, work: Path) -> tuple[Measured, Measured, bool, str]:
        command = [PYTHON, str(BENCH_DIR / "lib_client.py"), str(manifest)]
        command += [str(work / "journal.sqlite"), emu.endpoint]
        command += [
            "--concurrency",
            str(shape.concurrency),
            "--chunk-bytes",
            str(shape.chunk_bytes),
        ]
        process, outputs = run_group([[*command, *flags]], work)
        if process.returncode:
            return process, process, False, f"exit {process.returncode}, see {work}"
        doc = json.loads(outputs[0])
        own = Measured(doc["wall_s"], doc["user_s"], doc["sys_s"], doc["peak_rss_bytes"])
        ok = doc["done"] == shape.files and doc["failed"] == 0
        return own, process, ok, "" if ok else f"done {doc['done']}, failed {doc['failed']}"

    return run


def _cli(shape: BigFiles, manifest: Path, *flags: str) -> Runner:
    def run(emu: EmulatorProcess, work: Path) -> tuple[Measured, Measured, bool, str]:
        # A library of its own per run: the same manifest again would be found on the
        # platform (vidlift surveys it for a new journal) and sent nothing.
        own = shutil.copy(manifest, work / manifest.name)
        command = [VIDLIFT, "run", str(own), "--journal", str(work / "journal.sqlite")]
        command += ["--endpoint", emu.endpoint, "--concurrency", str(shape.concurrency)]
        command += ["--chunk-size", str(shape.chunk_bytes), "--log-format", "text", *flags]
        process, _ = run_group([command], work)
        return process, process, process.returncode == 0, f"exit {process.returncode}"

    return run


def _curl(files: list[Path], segments: list[list[curl_clients.Segment]]) -> Runner:
    def run(emu: EmulatorProcess, work: Path) -> tuple[Measured, Measured, bool, str]:
        result = curl_clients.run_curl(emu.endpoint, files, segments, work)
        detail = result.detail or f"{result.connections} connections"
        return result.measured, result.measured, result.ok, detail

    return run


def _clients(shape: BigFiles, work: Path, files: list[Path]) -> dict[str, Runner]:
    manifest = write_manifest(work / "big.csv", files, "big")
    split = [
        curl_clients.split_file(f, work / "segments" / f.stem, shape.chunk_bytes) for f in files
    ]
    whole = [[curl_clients.Segment(f, 0, f.stat().st_size - 1)] for f in files]
    clients: dict[str, Runner] = {
        "curl keep-alive": _curl(files, split),
        "curl whole file": _curl(files, whole),
        # md5 on: sendfile bodies, the md5 computed beside them from the page cache
        "vidlift lib": _library(shape, manifest),
        "vidlift cli": _cli(shape, manifest),
        # md5 on, bytes through Python (read, hash, write): the default before
        "vidlift lib --no-zero-copy": _library(shape, manifest, "--no-zero-copy"),
        # uvloop has no sendfile: a hashing reader streams there
        "vidlift lib uvloop": _library(shape, manifest, *UVLOOP),
    }
    off = "--no-verify-md5"
    if shape.no_verify:
        # without the md5, plain HTTP: sendfile bodies (vidlift.client.fileslice) ...
        clients[f"vidlift lib {off}"] = _library(shape, manifest, off)
        clients[f"vidlift cli {off}"] = _cli(shape, manifest, off)
        # ... and the same through Python (what "--no-verify-md5" was before sendfile)
        clients[f"vidlift lib {off} --no-zero-copy"] = _library(
            shape, manifest, off, "--no-zero-copy"
        )
    if shape.levers:
        # applies where the bytes go through Python
        clients["lever readinto (--no-zero-copy)"] = _library(
            shape, manifest, "--no-zero-copy", "--lever", "readinto"
        )
    return clients


def _verify(emu: EmulatorProcess, before: dict[str, int], expected: int, md5s: set[str]) -> str:
    after = emu.counters()
    done = after.get("files_completed", 0) - before.get("files_completed", 0)
    if done != expected:
        return f"{done} files completed on the server, expected {expected}"
    if md5s:
        videos = emu.stats()["videos"]
        assert isinstance(videos, list)
        got = {str(v["md5"]) for v in videos[-expected:]}
        if got != md5s:
            return "md5 on the server differs from the source"
    return ""


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(4 * MiB):
            digest.update(block)
    return digest.hexdigest()


def run(shape: BigFiles, work: Path) -> dict[str, object]:
    """Run every client ``shape.runs`` times (interleaved); print and return the table."""
    files = write_random_files(work / "files", shape.files, shape.size_bytes)
    clients = _clients(shape, work, files)
    md5s = {_md5(f) for f in files} if shape.checked else set()
    total = shape.files * shape.size_bytes
    samples: dict[str, list[Sample]] = {name: [] for name in clients}
    with emulator(
        work / "emulator.log", max_segment_bytes=shape.size_bytes, cheap=not shape.checked
    ) as emu:
        for round_number in range(shape.runs):
            for name, runner in clients.items():
                run_dir = fresh_dir(work / "runs" / f"{round_number}-{name.replace(' ', '_')}")
                before, cpu_before = emu.counters(), emu.cpu_s()
                own, process, ok, detail = runner(emu, run_dir)
                server = emu.cpu_s() - cpu_before
                problem = _verify(emu, before, shape.files, md5s)
                ok, detail = ok and not problem, problem or detail
                samples[name].append(Sample(own, process, server, ok, detail))
                print(f"  {name}: {total / 1e6 / own.wall_s:.0f} MB/s {'ok' if ok else detail}")
    return _report(shape, samples, total)


def _report(shape: BigFiles, samples: dict[str, list[Sample]], total: int) -> dict[str, object]:
    gb = total / 1e9
    rows: dict[str, dict[str, object]] = {}
    for name, runs in samples.items():
        rows[name] = {
            "mb_per_s": median([total / 1e6 / s.measured.wall_s for s in runs]),
            "client_cpu_s_per_gb": median([s.measured.cpu_s / gb for s in runs]),
            "process_cpu_s_per_gb": median([s.process.cpu_s / gb for s in runs]),
            "server_cpu_s_per_gb": median([s.server_cpu_s / gb for s in runs]),
            "peak_rss_mb": max(s.process.peak_rss_bytes for s in runs) / 1e6,
            "all_ok": all(s.ok for s in runs),
            "details": sorted({s.detail for s in runs if s.detail}),
            "runs": [
                {"measured": s.measured, "process": s.process, "server_cpu_s": s.server_cpu_s}
                for s in runs
            ],
        }
    base = rows["curl keep-alive"]
    for row in rows.values():
        row["throughput_vs_curl"] = _ratio(row["mb_per_s"], base["mb_per_s"])
        row["cpu_vs_curl"] = _ratio(row["client_cpu_s_per_gb"], base["client_cpu_s_per_gb"])
    print_table(
        f"Big files: {shape.files} x {shape.size_bytes // MiB} MiB, "
        f"{shape.chunk_bytes // MiB} MiB segments, {shape.concurrency} in flight, "
        f"median of {shape.runs}",
        [
            "client",
            "MB/s",
            "x curl",
            "client CPU s/GB",
            "x curl",
            "server CPU s/GB",
            "RSS MB",
            "ok",
        ],
        [
            [
                name,
                r["mb_per_s"],
                r["throughput_vs_curl"],
                r["client_cpu_s_per_gb"],
                r["cpu_vs_curl"],
                r["server_cpu_s_per_gb"],
                r["peak_rss_mb"],
                "yes" if r["all_ok"] else "NO",
            ]
            for name, r in rows.items()
        ],
    )
    return {"shape": _shape(shape), "clients": rows}


def _shape(shape: BigFiles) -> dict[str, object]:
    return {name: getattr(shape, name) for name in shape.__slots__}


def _ratio(value: object, base: object) -> float:
    assert isinstance(value, float) and isinstance(base, float)
    return value / base if base else float("nan")
