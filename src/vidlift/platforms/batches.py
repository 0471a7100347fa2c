"""Which verification batch each created video belongs to (platforms layer).

A platform that can list videos by a custom field (v1's ``custom.vidlift_batch``, v2's
``custom_params.vidlift_batch``: :data:`BATCH_FIELD`) tags every video it creates with a
batch name: ``size`` consecutive creates share one name, so that one listing call
confirms them all (:mod:`vidlift.jobs.verification`) instead of one show call each.
The names start with a random token per process, so that two runs (or two workers)
never share a batch.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from vidlift.platforms.base import VerifyBatch

__all__ = ["BATCH_FIELD", "MAX_BATCH_SIZE", "BatchBook", "BatchTagging"]

BATCH_FIELD = "vidlift_batch"  # the custom field that holds a video's batch name
MAX_BATCH_SIZE = 1000  # the most videos one listing call answers with (v1 and v2)


@dataclass(slots=True)
class _Batch:
    handed_out: int = 0  # names given to creates (some may have failed)
    members: int = 0  # creates that answered


class BatchBook:
    """Hands out batch names to creates and remembers which video went where."""

    def __init__(self, size: int, token: str | None = None) -> None:
        if not 1 <= size <= MAX_BATCH_SIZE:
            raise ValueError(f"a verification batch holds 1..{MAX_BATCH_SIZE} videos, not {size}")
        self.size = size
        self._token = token or secrets.token_hex(4)
        self._number = 0
        self._batches: dict[str, _Batch] = {}
        self._of_video: dict[str, str] = {}

    def next_name(self) -> str:
        """The batch the next create goes into."""
        name = f"{self._token}.{self._number}"
        batch = self._batches.setdefault(name, _Batch())
        batch.handed_out += 1
        if batch.handed_out >= self.size:
            self._number += 1
        return name

    def created(self, video_key: str, name: str) -> None:
        """The create that was given ``name`` answered with ``video_key``."""
        self._of_video[video_key] = name
        self._batches[name].members += 1

    def batch_of(self, video_key: str) -> VerifyBatch | None:
        """The batch of a video created through this book, if any."""
        name = self._of_video.get(video_key)
        if name is None:
            return None
        batch = self._batches[name]
        return VerifyBatch(name, batch.members, batch.handed_out >= self.size)


class BatchTagging:
    """What a platform that tags its creates with verification batches (``_batches``;
    None: built without) tells the batch runner."""

    _batches: BatchBook | None

    @property
    def verify_batch_size(self) -> int:
        """Videos per verification batch (0: built without; a show per video)."""
        return self._batches.size if self._batches is not None else 0

    def batch_of(self, video_key: str) -> VerifyBatch | None:
        """The verification batch this object created ``video_key`` into, if any."""
        return self._batches.batch_of(video_key) if self._batches is not None else None
