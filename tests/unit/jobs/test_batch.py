"""Batch settings derived at run time."""

from __future__ import annotations

from vidlift.config import Limits, UploadSettings
from vidlift.jobs.batch import piece_bytes_for
from vidlift.jobs.manager import BatchSettings


def batch(files: int, **limits: int) -> BatchSettings:
    return BatchSettings(limits=Limits(files_in_flight=files, **limits))


def test_piece_size_shrinks_with_concurrency_to_bound_memory() -> None:
    mib = 1024 * 1024
    assert piece_bytes_for(batch(8)) == mib  # the default is kept
    assert piece_bytes_for(batch(64)) == mib // 2
    assert piece_bytes_for(batch(1024)) == 64 * 1024  # floor
    small = BatchSettings(
        limits=Limits(files_in_flight=2), upload=UploadSettings(piece_bytes=256 * 1024)
    )
    assert piece_bytes_for(small) == 256 * 1024  # never larger than asked


def test_bytes_in_flight_is_the_memory_budget_and_zero_lifts_it() -> None:
    mib = 1024 * 1024
    assert piece_bytes_for(batch(8, bytes_in_flight=8 * mib)) == mib // 2
    assert piece_bytes_for(batch(1024, bytes_in_flight=0)) == mib  # no bound: as configured
