"""Batch settings derived at run time."""

from __future__ import annotations

from vidlift.config import UploadSettings
from vidlift.jobs.batch import piece_bytes_for
from vidlift.jobs.manager import BatchSettings


def test_piece_size_shrinks_with_concurrency_to_bound_memory() -> None:
    mib = 1024 * 1024
    assert piece_bytes_for(BatchSettings(concurrency=8)) == mib  # the default is kept
    assert piece_bytes_for(BatchSettings(concurrency=64)) == mib // 2
    assert piece_bytes_for(BatchSettings(concurrency=1024)) == 64 * 1024  # floor
    small = BatchSettings(concurrency=2, upload=UploadSettings(piece_bytes=256 * 1024))
    assert piece_bytes_for(small) == 256 * 1024  # never larger than asked
