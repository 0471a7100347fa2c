"""How a batch runs and how a fleet worker takes jobs: frozen settings (jobs layer).

Kept apart from the batch runner (:mod:`vidlift.jobs.manager`) and the claim feed
(:mod:`vidlift.jobs.feed`), which re-export them, so that the settings loader of every
command reads these defaults without importing the batch machinery or the journals: a
one-file ``vidlift upload`` never runs a batch (benchmarks/startup.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vidlift.config import Limits, SourceSettings, UploadSettings

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_MAX_WAIT_S", "BatchSettings", "FeedSettings"]

DEFAULT_BATCH_SIZE = 50  # a create plus 1/50 of a listing: 1.02 calls per verified file
DEFAULT_MAX_WAIT_S = 30.0  # the longest a finished upload waits for its batch's listing


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """How a batch runs. ``limits`` may hold AUTO values: ``run_batch`` resolves them."""

    limits: Limits = field(default_factory=Limits)
    upload: UploadSettings = field(default_factory=UploadSettings)
    grace_s: float = 5.0
    # How long the platform may answer nothing at all before the batch stops (exit 2,
    # jobs left as they were), instead of every job failing one by one.
    unreachable_s: float = 300.0
    sources: SourceSettings = field(default_factory=SourceSettings)  # URL sources
    # After verifying, wait until the platform has processed each video (ready) or says it
    # failed (the job fails with the platform's message): --wait-ready.
    wait_ready: bool = False
    # URL rows: "relay" streams the bytes through vidlift; "fetch" hands the URL to the
    # platform, which downloads the file itself (then followed until ready or failed).
    remote: Literal["relay", "fetch"] = "relay"
    # Finished uploads are confirmed by one listing call per this many videos (v1), each
    # waiting at most verify_wait_s for its batch; 0: one videos/show per job; None: twice
    # the concurrency, at most DEFAULT_BATCH_SIZE (see verify_batch_size_for).
    verify_batch_size: int | None = None
    verify_wait_s: float = DEFAULT_MAX_WAIT_S


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """How a worker takes jobs: lease length, idle polling, follow mode, and
    ``claim_batch``, its slots: each claim asks for the slots not held (at least one), so
    a worker starting takes ``claim_batch`` jobs in one statement, then one as each ends."""

    lease_s: float = 60.0
    claim_batch: int = 1
    poll_s: float = 2.0
    follow: bool = False
