"""What the platform already holds of a library, one listing call per page (jobs layer).

The platform is the truth, the journal a cache: every video vidlift creates carries the
library's tag, its job's marker and its source's digest. A run whose journal is new (or
lost) surveys the platform before it creates anything, so the same manifest run with a
new journal creates nothing twice and re-sends no finished file, at one API call per
1,000 videos instead of one per job. A fleet worker surveys at its start when its
shared journal holds a runnable job that never sent a create (:func:`creates_ahead`):
the journal may be new or lost while the platform holds the videos.
"""

from __future__ import annotations

import hashlib
import os
from functools import partial
from pathlib import Path

from vidlift.jobs.job import RetryCallback, call_reliably
from vidlift.jobs.policy import RetryPolicy
from vidlift.jobs.reachability import Reachability
from vidlift.journal.base import Journal
from vidlift.journal.state import RUNNABLE_STATES
from vidlift.platforms.base import Platform, RemoteVideo

__all__ = ["creates_ahead", "library_tag", "survey_library"]


def library_tag(manifest: Path) -> str:
    """A short digest of the manifest's absolute path: the library's tag on the platform.

    The path is normalised (``..`` folded), so ``../data/lib.csv`` and ``/data/lib.csv``
    name one library whatever the working directory; symbolic links are not resolved,
    so a tag does not change when a link is re-pointed to a copy.
    """
    absolute = os.path.normpath(manifest if manifest.is_absolute() else Path.cwd() / manifest)
    return hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:16]


async def survey_library(
    platform: Platform,
    policy: RetryPolicy,
    *,
    page_size: int = 1000,
    on_retry: RetryCallback | None = None,
    reachability: Reachability | None = None,
) -> tuple[dict[str, RemoteVideo], int]:
    """The library's videos by job marker (the oldest when a marker repeats) and the
    number of API calls it took."""
    found: dict[str, RemoteVideo] = {}
    offset, calls = 0, 0
    while True:
        page = await call_reliably(
            policy,
            partial(platform.list_library, offset=offset, limit=page_size),
            on_retry=on_retry,
            reachability=reachability,
        )
        calls += 1
        for video in page.videos:
            if video.marker and video.marker not in found:
                found[video.marker] = video
        offset += len(page.videos)
        if not page.videos or offset >= page.total:
            return found, calls


async def creates_ahead(journal: Journal) -> bool:
    """Whether a runnable job of ``journal`` would create a video: it has no video and
    never sent a create (the journal cannot tell whether the platform holds its video:
    a survey can). Reads the runnable jobs up to the first such job."""
    async for record in journal.iter_jobs(RUNNABLE_STATES):
        if record.video_key is None and not record.create_sent:
            return True
    return False
