"""Soak: the chaos test at scale, for minutes or hours (issue 5).

Round after round until ``--minutes`` have passed, a fresh library of ``--files`` files
(16-600 KiB) goes through a real `vidlift run` against a faulty `vidlift serve` (every
fault of configs/emulator/chaos.toml's kinds, at the chaos test's rates), while the
emulator is killed with -9 and restarted every ``--restart-every`` seconds and the client
is killed with -9 ``--client-kills`` times per round. Each round is then checked: every
file done, byte-identical on the platform (sha256 and a byte compare), one video per job.

    .venv/bin/python benchmarks/soak.py --minutes 5 --files 300

Prints a table per round, then the totals as a table and as JSON (``--json FILE`` also
writes them). Exit status 0 when nothing was lost, 1 otherwise. The harness is the one of
tests/integration/reliability/chaos.py.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the harness lives in the test tree

from tests.integration.reliability.chaos import (  # noqa: E402
    ChaosFigures,
    ChaosPlan,
    run_chaos,
)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    parser.add_argument("--files", type=int, default=500, help="files per round (default 500)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--chunk-kib", type=int, default=64, help="segment size in KiB")
    parser.add_argument(
        "--restart-every", type=float, default=8.0, help="emulator kill -9 period, seconds"
    )
    parser.add_argument("--client-kills", type=int, default=3, help="client kill -9 per round")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder")
    parser.add_argument("--keep", action="store_true", help="keep every round's files")
    parser.add_argument("--json", type=Path, default=None, help="also write the totals here")
    return parser.parse_args()


def _lost_something(figures: ChaosFigures) -> bool:
    return bool(
        figures.problems
        or figures.files_done != figures.files
        or figures.files_identical != figures.files
        or figures.duplicate_videos
        or figures.videos_total != figures.files
    )


async def _soak(args: argparse.Namespace, workdir: Path) -> tuple[ChaosFigures, int]:
    base = ChaosPlan(
        files=args.files,
        chunk_bytes=args.chunk_kib * 1024,
        concurrency=args.concurrency,
        restart_emulator_every_s=args.restart_every or None,
        kill_client_after_done=(max(1, args.files // 20), max(2, args.files // 6)),
        max_client_kills=args.client_kills,
        deadline_s=max(600.0, args.files * 3.0),
    )
    total = ChaosFigures()
    ends_at = time.monotonic() + args.minutes * 60
    rounds = 0
    while time.monotonic() < ends_at:
        rounds += 1
        plan = replace(base, seed=args.seed + rounds)
        folder = workdir / f"round-{rounds:03d}"
        figures = await run_chaos(plan, folder, log=lambda line: print(f"  {line}", flush=True))
        print(f"round {rounds}\n{figures.table()}\n", flush=True)
        total.add(figures)
        if _lost_something(figures):
            print(f"round {rounds} LOST SOMETHING: its files are kept in {folder}", flush=True)
            break
        if not args.keep:
            shutil.rmtree(folder)
    return total, rounds


def main() -> int:
    args = _arguments()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vidlift-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    total, rounds = anyio.run(_soak, args, workdir)
    wall = time.monotonic() - started
    lost = _lost_something(total)
    print(f"soak: {rounds} rounds in {wall / 60:.1f} minutes\n{total.table()}")
    document = {
        "rounds": rounds,
        "wall_s": round(wall, 1),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "nothing_lost": not lost,
        **total.as_dict(),
    }
    print(json.dumps(document, sort_keys=True))
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    if not args.keep and not lost and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
