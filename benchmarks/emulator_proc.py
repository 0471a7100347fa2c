"""The benchmarks' emulator process: ``vidlift serve`` with the few knobs it lacks.

Runs :func:`vidlift.testing.emulator.run_forever` (the same server as ``vidlift serve``)
with ``max_segment_bytes`` raised, so that the upper-bound client can POST a whole file
as one segment. Prints the same first line as ``vidlift serve``; stops on SIGTERM.

    python benchmarks/emulator_proc.py --max-segment-bytes 300000000 --discard --no-fsync
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan, run_forever


def _announce(emulator: Emulator) -> None:
    print(f"vidlift emulator listening on {emulator.endpoint}", flush=True)


def main() -> None:
    """Parse the flags and serve until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", type=Path, help="state directory (default: a temporary one)")
    parser.add_argument("--max-segment-bytes", type=int, default=64 * 1024 * 1024)
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--discard", action="store_true")
    parser.add_argument("--no-checksums", action="store_true")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--uvloop", action="store_true", help="serve on uvloop (less CPU)")
    parser.add_argument("--rate-limit", type=int, help="API calls per window per key")
    parser.add_argument("--api-window-s", type=float, default=60.0, help="the rate limit's window")
    parser.add_argument(
        "--no-v2-reset-header",
        action="store_true",
        help="v2 answers state the quota in JW-Request-* only, with no reset (the real shape)",
    )
    args = parser.parse_args()
    config = EmulatorConfig(
        data_dir=args.data,
        port=args.port,
        max_segment_bytes=args.max_segment_bytes,
        max_concurrent_segments_per_session=64,
        timestamp_window_s=3600.0,
        fsync=not args.no_fsync,
        discard=args.discard,
        checksums=not args.no_checksums,
        faults=FaultPlan(latency_ms=args.latency_ms),
        api_calls_per_minute=args.rate_limit,
        api_window_s=args.api_window_s,
        v2_reset_header=not args.no_v2_reset_header,
    )
    if args.uvloop:
        import uvloop

        uvloop.run(run_forever(config, on_ready=_announce))
    else:
        asyncio.run(run_forever(config, on_ready=_announce))
    sys.exit(0)


if __name__ == "__main__":
    main()
