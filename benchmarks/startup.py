"""Start-up cost: CPU seconds of one short ``vidlift`` process (issue 15).

Users script one ``vidlift upload`` per file, so a process's fixed cost (interpreter,
imports) is paid per file. Each command runs ``runs`` times, interleaved, as a
subprocess; its user+sys CPU comes from ``os.wait4`` (microseconds, children included).
The table gives the median and its ratio to ``python -c pass``; the reference rows show
what the imports that cannot be avoided cost on their own (aiohttp: the HTTP client;
pydantic: the answer models). Bytecode is cached as after ``pip install`` (one warm-up
run each; ``PYTHONDONTWRITEBYTECODE`` removed from the environment); one row shows the
upload with vidlift's own modules compiled on every run (a copy of the package without
``__pycache__``, first on ``PYTHONPATH``, with ``PYTHONDONTWRITEBYTECODE`` set): what an
install that cannot keep bytecode pays.

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

from harness import (
    API_KEY,
    API_SECRET,
    BENCH_DIR,
    PYTHON,
    VIDLIFT,
    emulator,
    median,
    print_table,
    save_results,
)

import vidlift


def cpu_s(command: list[str], env: dict[str, str]) -> float:
    """The user+sys CPU seconds of one run of ``command`` (exit 0 required)."""
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd="/"
    )
    _, status, usage = os.wait4(child.pid, 0)
    assert child.stderr is not None
    error = child.stderr.read().decode()
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command} failed: {error}")
    return float(usage.ru_utime + usage.ru_stime)


def commands(endpoint: str, tiny: Path) -> dict[str, list[str]]:
    """The processes measured, by name."""
    upload = [VIDLIFT, "upload", str(tiny), "--endpoint", endpoint]
    return {
        "python -c pass": [PYTHON, "-c", "pass"],
        "reference: import aiohttp": [PYTHON, "-c", "import aiohttp"],
        "reference: import aiohttp, anyio, click, pydantic.BaseModel": [
            PYTHON,
            "-c",
            "import aiohttp, anyio, click; from pydantic import BaseModel",
        ],
        # What `vidlift upload` cannot avoid importing (asyncio under anyio, h11, click,
        # pydantic for the answers at the edge), before one line of vidlift runs.
        "floor: import asyncio, anyio, click, h11, pydantic.BaseModel": [
            PYTHON,
            "-c",
            "import asyncio, anyio, click, h11; from pydantic import BaseModel",
        ],
        "vidlift --help": [VIDLIFT, "--help"],
        "vidlift upload --help": [VIDLIFT, "upload", "--help"],
        "vidlift upload (1 KiB file, in a pipe)": upload,
        "vidlift upload --json (1 KiB file)": [*upload, "--json"],
    }


def run(runs: int, work: Path) -> dict[str, object]:
    """Each command ``runs`` times, interleaved; print the table, return the samples."""
    work.mkdir(parents=True, exist_ok=True)
    tiny = work / "tiny.bin"
    tiny.write_bytes(os.urandom(1024))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VIDLIFT_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(VIDLIFT_API_KEY=API_KEY, VIDLIFT_API_SECRET=API_SECRET)
    uncompiled = work / "uncompiled"
    shutil.rmtree(uncompiled, ignore_errors=True)
    shutil.copytree(
        Path(vidlift.__file__).parent,
        uncompiled / "vidlift",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    uncached = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(uncompiled)}
    samples: dict[str, list[float]] = {}
    with emulator(work / "emulator.log") as emu:
        measured = commands(emu.endpoint, tiny)
        for command in measured.values():
            cpu_s(command, env)  # warm-up: writes the bytecode cache
        for _ in range(runs):
            for name, command in measured.items():
                samples.setdefault(name, []).append(cpu_s(command, env))
            upload = measured["vidlift upload --json (1 KiB file)"]
            name = "vidlift upload --json, vidlift compiled every run (no bytecode cache)"
            samples.setdefault(name, []).append(cpu_s(upload, uncached))
    base = median(samples["python -c pass"])
    rows = [
        [name, f"{median(values):.3f}", f"{median(values) / base:.1f}", f"{min(values):.3f}"]
        for name, values in samples.items()
    ]
    print_table(
        f"Start-up: CPU seconds (user+sys) per process, median of {runs}",
        ["process", "CPU s", "x python -c pass", "min CPU s"],
        rows,
    )
    return {"runs": runs, "samples": samples}


def main() -> None:
    """Parse the flags, run, save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/vidlift-bench/startup"))
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args()
    document = run(args.runs, args.work_dir)
    print(f"-> {save_results(args.results_dir, 'startup', document)}")


if __name__ == "__main__":
    main()
