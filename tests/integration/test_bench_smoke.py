"""The benchmark suite's smoke case (benchmarks/run.py --smoke): the harness runs the
big-file clients (zero-copy ``--no-verify-md5`` rows included) and the small-file clients
against a real emulator process, the bytes arrive byte-identical (the emulator's md5
equals the source's), and the JSON results have the expected shape with sane numbers. The
full suite is ``make bench``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIG_CLIENTS = {
    "curl keep-alive",
    "curl whole file",
    "vidlift lib",  # md5 on: sendfile bodies, md5 beside
    "vidlift cli",
    "vidlift lib --no-zero-copy",  # md5 on, streamed through Python
    "vidlift lib uvloop",
    "vidlift lib --no-verify-md5",  # sendfile bodies
    "vidlift cli --no-verify-md5",
    "vidlift lib --no-verify-md5 --no-zero-copy",
}
BIG_KEYS = {
    "mb_per_s",
    "client_cpu_s_per_gb",
    "process_cpu_s_per_gb",
    "server_cpu_s_per_gb",
    "peak_rss_mb",
    "all_ok",
    "throughput_vs_curl",
    "cpu_vs_curl",
    "runs",
}


@pytest.mark.skipif(shutil.which("curl") is None, reason="the baselines need curl")
@pytest.mark.timeout(260)
def test_smoke_benchmarks_write_sane_results(tmp_path: Path) -> None:
    results = tmp_path / "results"
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke"]
    command += ["--work-dir", str(tmp_path / "work"), "--results-dir", str(results)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    big = json.loads((results / "big_files.json").read_text())
    assert big["machine"]["nproc"] >= 1
    assert set(big["clients"]) >= BIG_CLIENTS
    for name, row in big["clients"].items():
        assert set(row) >= BIG_KEYS, name
        assert row["all_ok"], (name, row["details"])  # md5 on the server == md5 of the source
        assert 0 < row["mb_per_s"] < 100_000, name
        assert row["client_cpu_s_per_gb"] > 0, name
        assert row["server_cpu_s_per_gb"] > 0, name
    assert big["clients"]["curl keep-alive"]["throughput_vs_curl"] == pytest.approx(1.0)

    small = json.loads((results / "small_files.json").read_text())
    assert set(small["clients"]) >= {"naive sequential", "vidlift lib (8)", "vidlift cli"}
    for name, row in small["clients"].items():
        assert row["problems"] == [], name
        assert row["files_per_s"] > 0, name
    assert json.loads((results / "run.json").read_text())["mode"] == "smoke"
