"""Keeping done videos' metadata equal to the manifest's (jobs layer).

The manifest is the source of truth for metadata: a title, description, tags or custom
value changed after a video is done is applied with one update call per video, and
recorded in the journal so that the next run sends nothing again.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from vidlift.jobs.ingest import MetadataChange
from vidlift.jobs.job import RetryCallback, call_reliably
from vidlift.jobs.policy import RetryPolicy
from vidlift.jobs.reachability import Reachability
from vidlift.journal.base import Journal
from vidlift.platforms.base import Platform

__all__ = ["sync_metadata"]


async def sync_metadata(
    platform: Platform,
    journal: Journal,
    policy: RetryPolicy,
    changes: Sequence[MetadataChange],
    *,
    on_retry: RetryCallback | None = None,
    reachability: Reachability | None = None,
) -> int:
    """Apply each change on the platform, then in the journal; return how many."""
    for change in changes:
        await call_reliably(
            policy,
            partial(platform.update_metadata, change.video_key, change.metadata),
            on_retry=on_retry,
            reachability=reachability,
        )
        await journal.record_metadata(change.job_id, change.metadata)
    return len(changes)
