"""Shared machinery of the benchmark suite: the emulator process, measured subprocesses,
sample files and manifests, tables and JSON results.

Every client runs in a process of its own, so its CPU time is its own: ``os.wait4`` gives
the user+sys seconds of each child; the emulator's CPU is read apart with psutil on its pid.

Peak RSS: a child's ``ru_maxrss`` is not its own on Linux. It starts from the memory of
the process that spawned it (the mm the child had until its exec is counted), so every
client would show at least this harness's RSS (30-80 MB, more after a 100,000-row
manifest). Each client is therefore started by GNU ``time -f %M``, a ~2 MB process, whose
child's peak is its own; without GNU time the figure is ``ru_maxrss`` and
:data:`RSS_METHOD` says so.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import psutil

KiB = 1024
MiB = 1024 * KiB
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
STATE_ROOT = "/dev/shm" if os.path.isdir("/dev/shm") else None  # tmpfs where there is one
PYTHON = sys.executable
VIDLIFT = str(Path(sys.executable).with_name("vidlift"))
UVLOOP = ["--uvloop"] if importlib.util.find_spec("uvloop") else []  # lib_client's flag
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
RSS_METHOD = (
    "GNU time %M: the client's own peak"
    if GNU_TIME
    else "wait4 ru_maxrss: includes the harness's own RSS at spawn"
)
API_KEY = "demokey1"
API_SECRET = "demo-secret-not-for-production"  # the emulator's published demo value


@dataclass(frozen=True, slots=True)
class Measured:
    """What a client process (or a group of them) cost."""

    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_bytes: int
    returncode: int = 0

    @property
    def cpu_s(self) -> float:
        """user + sys seconds."""
        return self.user_s + self.sys_s


def client_env() -> dict[str, str]:
    """The environment of a client process: credentials set, nothing else of vidlift's.

    ``PYTHONDONTWRITEBYTECODE`` is dropped: a user's installed vidlift runs from cached
    bytecode, and a client compiling its modules on every start measures the compiler."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VIDLIFT_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(VIDLIFT_API_KEY=API_KEY, VIDLIFT_API_SECRET=API_SECRET, PYTHONUNBUFFERED="1")
    return env


def run_group(commands: Sequence[Sequence[str]], log_dir: Path) -> tuple[Measured, list[str]]:
    """Start the commands at once, wait for all; summed CPU, max RSS, wall until the last.

    Returns the measure and each command's stdout. stderr goes to ``log_dir``. Each
    command runs under GNU time when there is one (see the module docstring); the CPU that
    ``wait4`` reports for it includes its child's, time's own is ~1 ms.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    children: list[tuple[subprocess.Popen[bytes], Path, Path]] = []
    for number, command in enumerate(commands):
        out, rss_file = log_dir / f"out-{number}.txt", log_dir / f"rss-{number}.txt"
        wrapped = [*command]
        if GNU_TIME:
            wrapped = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *command]
        with out.open("wb") as stdout, (log_dir / f"err-{number}.txt").open("wb") as stderr:
            child = subprocess.Popen(wrapped, stdout=stdout, stderr=stderr, env=client_env())
        children.append((child, out, rss_file))
    user = system = 0.0
    rss = code = 0
    for child, _, rss_file in children:
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        code = code or child.returncode
        user, system = user + usage.ru_utime, system + usage.ru_stime
        own = _time_rss_bytes(rss_file) if GNU_TIME else None
        rss = max(rss, usage.ru_maxrss * 1024 if own is None else own)
    wall = time.perf_counter() - started
    outputs = [out.read_text() for _, out, _ in children]
    return Measured(wall, user, system, rss, code), outputs


def _time_rss_bytes(path: Path) -> int | None:
    """The ``%M`` (KiB) that GNU time wrote last in ``path`` (after any status line)."""
    try:
        last = path.read_text().split()[-1]
    except (OSError, IndexError):
        return None
    return int(last) * 1024 if last.isdigit() else None


class EmulatorProcess:
    """The emulator in a process of its own (benchmarks/emulator_proc.py)."""

    def __init__(
        self,
        log: Path,
        *,
        max_segment_bytes: int,
        cheap: bool = True,
        latency_ms: float = 0,
        extra: Sequence[str] = (),
    ) -> None:
        flags = ["--no-fsync", "--discard"] + (["--no-checksums"] if cheap else [])
        flags += list(extra)
        flags += ["--latency-ms", str(latency_ms)] if latency_ms else []
        # Its state files on tmpfs: on this disk (ext4) each replace-by-rename of a video's
        # small state file costs ~1 ms of CPU even without fsync (ext4 flushes a file
        # renamed over another), 30 us on tmpfs. That was 2/3 of its CPU per small file.
        self.data_dir = Path(tempfile.mkdtemp(prefix="vidlift-bench-emu-", dir=STATE_ROOT))
        flags += ["--data", str(self.data_dir)]
        command = [PYTHON, str(BENCH_DIR / "emulator_proc.py"), *flags]
        command += ["--max-segment-bytes", str(max_segment_bytes)]
        self.flags = flags
        with log.open("wb") as stderr:
            self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().decode()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}; see {log}")
        self.endpoint = line.rsplit(" ", 1)[1].strip()
        self._ps = psutil.Process(self._proc.pid)

    def cpu_s(self) -> float:
        """The emulator's user+sys seconds so far (its threads included)."""
        times = self._ps.cpu_times()
        return float(times.user + times.system)

    def stats(self) -> dict[str, object]:
        """GET /_emulator/stats."""
        with urllib.request.urlopen(f"{self.endpoint}/_emulator/stats", timeout=60) as answer:
            document: dict[str, object] = json.load(answer)
        return document

    def counters(self) -> dict[str, int]:
        """The request counters (bytes_received, segment, files_completed, ...)."""
        requests = self.stats()["requests"]
        assert isinstance(requests, dict)
        return {str(k): int(v) for k, v in requests.items()}

    def stop(self) -> None:
        """SIGTERM, then wait."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@contextmanager
def emulator(
    log: Path,
    *,
    max_segment_bytes: int = 64 * MiB,
    cheap: bool = True,
    latency_ms: float = 0,
    extra: Sequence[str] = (),
) -> Iterator[EmulatorProcess]:
    """An :class:`EmulatorProcess` stopped on exit (``extra``: more emulator_proc flags)."""
    process = EmulatorProcess(
        log, max_segment_bytes=max_segment_bytes, cheap=cheap, latency_ms=latency_ms, extra=extra
    )
    try:
        yield process
    finally:
        process.stop()


def write_random_files(folder: Path, count: int, size_bytes: int) -> list[Path]:
    """``count`` files of random-looking bytes, each with a distinct md5 (one random MiB,
    stamped with the file and block numbers); kept when they already exist at that size."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"f{number:06d}.bin" for number in range(count)]
    block = os.urandom(MiB)
    for number, path in enumerate(paths):
        if path.exists() and path.stat().st_size == size_bytes:
            continue
        with path.open("wb") as handle:
            for index, start in enumerate(range(0, size_bytes, MiB)):
                stamp = number.to_bytes(8, "little") + index.to_bytes(8, "little")
                handle.write((stamp + block[16:])[: min(MiB, size_bytes - start)])
    return paths


def write_manifest(path: Path, files: Sequence[Path], prefix: str) -> Path:
    """A CSV manifest, one row per file, ids ``prefix-000001``..."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "path", "title"])
        for number, file in enumerate(files):
            writer.writerow([f"{prefix}-{number:06d}", str(file), file.stem])
    return path


def fresh_dir(path: Path) -> Path:
    """An empty directory at ``path``."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values)."""
    return statistics.median(values) if values else 0.0


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table on stdout (a Markdown table, so RESULTS.md can quote it)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(f"\n### {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def machine_info() -> dict[str, object]:
    """nproc, CPU model, RAM, Python and library versions."""
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False)
    versions = {}
    for name in ("vidlift", "aiohttp", "anyio", "aiofiles", "requests", "psutil", "uvloop"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "curl": curl.stdout.split("\n", 1)[0],
        "versions": versions,
        "rss_method": RSS_METHOD,
    }


def save_results(results_dir: Path, name: str, document: dict[str, object]) -> Path:
    """Write ``results_dir/name.json`` (with the machine's description) and return it."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    payload = {"benchmark": name, "machine": machine_info(), "when": time.time(), **document}
    path.write_text(json.dumps(payload, indent=2, default=_plain) + "\n", encoding="utf-8")
    return path


def _plain(value: object) -> object:
    if isinstance(value, Measured):
        return asdict(value) | {"cpu_s": value.cpu_s}
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
