"""Issue 15's two command-line comparisons, one process per file as users script them:

- **protocol only**: N ``vidlift upload --upload-url URL --session-id ID`` processes
  (sessions created beforehand, no API call, nothing to compare an md5 with, so none is
  computed) against N curl keep-alive processes sending the same segments to the same
  emulator, and against the floor of a Python client: N processes that each import
  vidlift's stack (asyncio, anyio, click, h11, pydantic) and then run that curl;
- **verified**: N ``vidlift upload FILE`` processes (create, segments, videos/show, md5
  compared) against the honest baseline, N processes of curl keep-alive with ``md5sum``
  of the same file beside it (``md5sum F & curl -K C; wait``), sessions created beforehand.

Each group also has one ``vidlift run`` of all the files (one process, the files in
flight at once; ``--no-verify-md5`` in the protocol group): what a user who has more than
one file should run, with the start-up paid once.

    python benchmarks/protocol.py [--files 4] [--mib 512] [--chunk-mib 8] [--runs 3]
    python benchmarks/protocol.py --wire-mbit 1000 [--rtt-ms 20]   # root: a network's limit

On loopback nothing limits the bytes but CPU, and the emulator shares the machine's cores
with the clients, so there throughput ranks clients by CPU. ``--wire-mbit`` measures what
a migration meets instead, a link slower than the machine: the whole benchmark (emulator
and clients) runs in a private network namespace (``unshare -n``) whose loopback is
limited to that rate by a token bucket (``tc``'s tbf; root only), with ``--rtt-ms`` of
round trip by netem where the kernel has it.

Clients are interleaved per round; one emulator process per round and kind (``--discard``;
it computes md5s only for the verified rows, where ``vidlift upload`` asks for them).
Prints Markdown tables of medians (quoted in RESULTS.md) and writes
``benchmarks/results/protocol.json``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import curl_clients
from baselines.naive_client import Created, create_video
from harness import (
    BENCH_DIR,
    VIDLIFT,
    Measured,
    MiB,
    emulator,
    fresh_dir,
    median,
    print_table,
    run_group,
    save_results,
    write_manifest,
    write_random_files,
)

from vidlift.testing.nginx import nginx


@dataclass(frozen=True, slots=True)
class Case:
    """One client row: how to build its commands against an endpoint, and its kind."""

    name: str
    verified: bool
    commands: Callable[[str, Sessions], list[list[str]]]


# Where a client sends one file's bytes: videos/create on the emulator, made up for nginx.
Sessions = Callable[[str], Created]


def _curl_commands(
    sessions: Sessions, files: Sequence[Path], work: Path, chunk: int, *, md5sum: bool
) -> list[list[str]]:
    commands = []
    for number, file in enumerate(files):
        segments = curl_clients.split_file(file, work / "segments" / file.stem, chunk)
        created = sessions(file.stem)
        config = curl_clients.write_config(
            work / f"curl-{number}.conf", created, segments, file.name
        )
        if md5sum:
            script = f'md5sum "{file}" >/dev/null & curl -K "{config}"; wait'
            commands.append(["sh", "-c", script])
        else:
            commands.append(["curl", "-K", str(config)])
    return commands


# What any Python client of the protocol built on vidlift's stack pays before its first
# byte: the interpreter and the imports (benchmarks/startup.py's floor row).
FLOOR_IMPORTS = "import asyncio, anyio, click, h11; from pydantic import BaseModel"


def _floor_then_curl(
    sessions: Sessions, files: Sequence[Path], work: Path, chunk: int
) -> list[list[str]]:
    """Each curl process preceded by a Python process that imports the stack: the least a
    process per file of a Python client on these libraries can cost, measured in the same
    rounds as the others."""
    floor = shlex.join([sys.executable, "-c", FLOOR_IMPORTS])
    commands = []
    for command in _curl_commands(sessions, files, work, chunk, md5sum=False):
        commands.append(["sh", "-c", f"{floor} && {shlex.join(command)}"])
    return commands


def _vidlift_protocol(sessions: Sessions, files: Sequence[Path], chunk: int) -> list[list[str]]:
    commands = []
    for file in files:
        created = sessions(file.stem)
        commands.append(
            [
                VIDLIFT,
                "upload",
                str(file),
                "--upload-url",
                created.upload_url,
                "--session-id",
                created.session_id,
                "--chunk-size",
                str(chunk),
            ]
        )
    return commands


def _vidlift_verified(endpoint: str, files: Sequence[Path], chunk: int) -> list[list[str]]:
    return [
        [VIDLIFT, "upload", str(file), "--endpoint", endpoint, "--chunk-size", str(chunk)]
        for file in files
    ]


def _vidlift_run(
    endpoint: str, files: Sequence[Path], work: Path, chunk: int, *flags: str
) -> list[list[str]]:
    """One ``vidlift run`` for all the files: the start-up paid once (a fresh journal and
    a fresh emulator per round, so every file is sent)."""
    manifest = write_manifest(work / "manifest.csv", files, "p")
    journal = fresh_dir(work / "journal") / "journal.sqlite"
    command = [VIDLIFT, "run", str(manifest), "--journal", str(journal), "--endpoint", endpoint]
    command += ["--concurrency", str(len(files)), "--chunk-size", str(chunk)]
    return [[*command, "--log-format", "json", *flags]]


def _cases(files: Sequence[Path], work: Path, chunk: int, *, api: bool) -> list[Case]:
    """The rows; with ``api`` False (a bare upload server) only the protocol-only ones."""
    protocol_only = [
        Case(
            "curl keep-alive",
            False,
            lambda _, s: _curl_commands(s, files, work, chunk, md5sum=False),
        ),
        Case(
            "floor: python importing the stack, then curl",
            False,
            lambda _, s: _floor_then_curl(s, files, work, chunk),
        ),
        Case(
            "vidlift upload --upload-url",
            False,
            lambda _, s: _vidlift_protocol(s, files, chunk),
        ),
    ]
    if not api:
        return protocol_only
    return [
        *protocol_only,
        Case(
            "vidlift run --no-verify-md5 (1 process)",
            False,
            lambda e, _: _vidlift_run(e, files, work, chunk, "--no-verify-md5"),
        ),
        Case(
            "curl keep-alive + md5sum",
            True,
            lambda _, s: _curl_commands(s, files, work, chunk, md5sum=True),
        ),
        Case(
            "vidlift upload (md5 verified)",
            True,
            lambda e, _: _vidlift_verified(e, files, chunk),
        ),
        Case(
            "vidlift run (1 process, md5 verified)",
            True,
            lambda e, _: _vidlift_run(e, files, work, chunk),
        ),
    ]


def _run(
    case: Case, work: Path, max_segment: int, nginx_binary: Path | None, size_bytes: int
) -> tuple[Measured, int]:
    """One round of one row against a fresh server; what it cost, how many files completed."""
    if nginx_binary is not None:
        with nginx(nginx_binary, work / "nginx") as server:

            def session(name: str) -> Created:
                return Created("", server.upload_url, server.session_id(name))

            commands = case.commands(server.endpoint, session)
            measured, _ = run_group(commands, fresh_dir(work / "logs"))
            return measured, server.completed(size_bytes)
    with emulator(
        work / "emulator.log", max_segment_bytes=max_segment, cheap=not case.verified
    ) as emu:
        commands = case.commands(emu.endpoint, partial(create_video, emu.endpoint))
        measured, _ = run_group(commands, fresh_dir(work / "logs"))
        done = emu.counters().get("files_completed", 0)
    return measured, done


_ON_WIRE = "VIDLIFT_BENCH_ON_WIRE"


def _run_on_wire(mbit: float, rtt_ms: float) -> None:
    """Run this benchmark again in a private network namespace whose loopback carries
    ``mbit`` megabits a second (a token bucket, tbf) with ``rtt_ms`` of round trip
    (netem delays each direction by half; it needs the kernel's sch_netem)."""
    if shutil.which("unshare") is None or shutil.which("tc") is None:
        raise SystemExit("--wire-mbit needs unshare (util-linux) and tc (iproute2)")
    rate = f"tbf rate {mbit:g}mbit burst 1mb latency 100ms"  # 1 MB: above lo's 64 KiB MTU
    if rtt_ms > 0:
        shape = (
            f"tc qdisc add dev lo root handle 1: netem delay {rtt_ms / 2:g}ms limit 100000"
            f" && tc qdisc add dev lo parent 1: handle 2: {rate}"
        )
    else:
        shape = f"tc qdisc add dev lo root {rate}"
    why = "protocol.py: tc could not shape the link (root, sch_tbf; sch_netem for --rtt-ms)"
    failed = f"echo '{why}' >&2; exit 2"
    script = f'ip link set lo up && {{ {shape} || {{ {failed}; }}; }} && exec "$@"'
    command = ["unshare", "--net", "--", "sh", "-c", script, "sh", sys.executable, *sys.argv]
    os.execvpe(command[0], command, {**os.environ, _ON_WIRE: f"{mbit:g} Mbit/s, {rtt_ms:g} ms"})


def main() -> None:
    """Generate the files, run the rounds, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("/tmp/vidlift-bench-protocol"))
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wire-mbit", type=float, help="limit the link to this rate (root)")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="the link's round trip")
    parser.add_argument(
        "--nginx",
        type=Path,
        help="an nginx built with the upload module: the server (protocol-only rows)",
    )
    args = parser.parse_args()
    if args.wire_mbit and _ON_WIRE not in os.environ:
        _run_on_wire(args.wire_mbit, args.rtt_ms)
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    files = write_random_files(work / "files", args.files, args.mib * MiB)
    chunk = args.chunk_mib * MiB
    total = sum(f.stat().st_size for f in files)
    cases = _cases(files, work, chunk, api=args.nginx is None)
    measured: dict[str, list[Measured]] = {case.name: [] for case in cases}
    for _ in range(args.runs):
        for case in cases:
            result, done = _run(case, work, chunk, args.nginx, args.mib * MiB)
            if result.returncode != 0 or done != len(files):
                raise SystemExit(
                    f"{case.name}: exit {result.returncode}, {done}/{len(files)} files "
                    f"completed; see {work / 'logs'}"
                )
            measured[case.name].append(result)
    gb = total / 1e9
    summary: dict[str, dict[str, float]] = {}
    for case in cases:
        runs = measured[case.name]
        summary[case.name] = {
            "mb_per_s": median([total / 1e6 / m.wall_s for m in runs]),
            "cpu_s_per_gb": median([m.cpu_s / gb for m in runs]),
            "peak_rss_mb": median([m.peak_rss_bytes / 1e6 for m in runs]),
        }
    rows = []
    for kind, base in ((False, "curl keep-alive"), (True, "curl keep-alive + md5sum")):
        for case in (c for c in cases if c.verified is kind and base in summary):
            row = summary[case.name]
            rows.append(
                [
                    case.name,
                    f"{row['mb_per_s']:.0f}",
                    f"{row['mb_per_s'] / summary[base]['mb_per_s']:.2f}",
                    f"{row['cpu_s_per_gb']:.3f}",
                    f"{row['cpu_s_per_gb'] / summary[base]['cpu_s_per_gb']:.2f}",
                    f"{row['peak_rss_mb']:.0f}",
                ]
            )
    title = (
        f"{args.files} x {args.mib} MiB, {args.chunk_mib} MiB segments, one process per file, "
        f"median of {args.runs}"
        + (f", on a {os.environ[_ON_WIRE]} link" if _ON_WIRE in os.environ else ", loopback")
        + (", nginx upload module" if args.nginx else ", emulator")
    )
    headers = ["client", "MB/s", "x baseline", "CPU s/GB", "x baseline", "peak RSS MB"]
    print_table(title, headers, rows)
    save_results(BENCH_DIR / "results", "protocol", {"args": vars(args), "summary": summary})


if __name__ == "__main__":
    main()
