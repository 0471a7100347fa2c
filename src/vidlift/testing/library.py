"""Sample video libraries and their manifests, for the demo, tests and benchmarks
(public test kit)."""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DEMO_SIZES", "write_sample_library"]

_KiB = 1024
_MiB = 1024 * _KiB
DEMO_SIZES = (64 * _KiB, 300 * _KiB, 1 * _MiB, 3 * _MiB, 7 * _MiB, 12 * _MiB)


def _write_random(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        left = size
        while left:
            piece = os.urandom(min(left, _MiB))
            handle.write(piece)
            left -= len(piece)


def write_sample_library(
    folder: Path,
    count: int,
    *,
    sizes: Sequence[int] = DEMO_SIZES,
    seed: int = 2024,
    name: str = "library.csv",
) -> Path:
    """Write ``count`` random files (sizes drawn from ``sizes``) under ``folder/videos``
    and a CSV manifest for them (ids ``legacy-001``...). Returns the manifest's path."""
    rng = random.Random(seed)
    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    manifest = folder / name
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "path", "title", "tags", "date", "custom.legacy_id"])
        for number in range(1, count + 1):
            file_name = f"clip-{number:03d}.mp4"
            _write_random(videos / file_name, rng.choice(list(sizes)))
            writer.writerow(
                [
                    f"legacy-{number:03d}",
                    f"videos/{file_name}",
                    f"Clip {number}",
                    "demo,sample",
                    f"2019-0{1 + number % 9}-15",
                    str(1000 + number),
                ]
            )
    return manifest
