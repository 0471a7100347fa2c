"""Getting an upload session exactly once per job (jobs layer).

Every video vidlift creates carries a marker, ``custom.vidlift_job_id``. When a create
call's answer is lost (timeout, dropped connection, crash), the video is looked up by
its marker through videos/list before anything is created again; a video found that
way gets a fresh session through videos/update. So a job never creates two videos.

Job ids repeat across libraries (``legacy-001``, or ids derived from the same relative
path), so every video also carries ``custom.vidlift_source``, a digest of the source
file's absolute path: a look-up never adopts a video that another library's job created.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from vidlift.client.api import ApiClient
from vidlift.errors import RateLimited, VidliftError
from vidlift.jobs.policy import RetryCallback, RetryPolicy, call_with_retries
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.models import CreateAnswer, VideoInfo

__all__ = ["MARKER_FIELD", "SOURCE_FIELD", "find_marked_video", "obtain_session", "source_tag"]

MARKER_FIELD = "vidlift_job_id"
SOURCE_FIELD = "vidlift_source"


def source_tag(path: Path) -> str:
    """A short digest of the source file's absolute path."""
    absolute = str(path if path.is_absolute() else Path.cwd() / path)
    return hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:16]


async def find_marked_video(api: ApiClient, marker: str, tag: str | None) -> VideoInfo | None:
    """The video created earlier for this marker (and source), if any; the oldest when
    several. A video without a source tag is accepted. One API call, no retry: callers
    run it under their policy."""
    found = await api.list_videos(search={f"custom.{MARKER_FIELD}": marker}, result_limit=10)
    matches = [
        v
        for v in found.videos
        if v.custom.get(MARKER_FIELD) == marker and v.custom.get(SOURCE_FIELD) in (None, tag)
    ]
    return matches[0] if matches else None


@dataclass(slots=True)
class _Lookup:
    video_key: str | None
    check: bool


async def obtain_session(
    api: ApiClient,
    metadata: VideoMetadata,
    *,
    marker: str,
    policy: RetryPolicy,
    video_key: str | None = None,
    look_up_first: bool = False,
    on_retry: RetryCallback | None = None,
    tag: str | None = None,
) -> CreateAnswer:
    """Create the video (or, when it exists, ask for a new session on it).

    ``look_up_first`` is for a job whose earlier create call may have succeeded
    (found in the journal as "creating" after a crash).
    """
    custom = {**metadata.custom, MARKER_FIELD: marker}
    if tag is not None:
        custom[SOURCE_FIELD] = tag
    marked = replace(metadata, custom=custom)
    state = _Lookup(video_key, look_up_first and video_key is None)

    async def attempt() -> CreateAnswer:
        if state.check:
            existing = await find_marked_video(api, marker, tag)
            state.video_key = existing.key if existing is not None else None
            state.check = False
        if state.video_key is not None:
            return await api.update_video(state.video_key)
        return await api.create_video(marked)

    def after_failure(exc: VidliftError, delay_s: float) -> None:
        # The create call may have reached the platform: look before creating again.
        # A 429 means this call did nothing, but must not cancel a look-up still owed
        # for an earlier create (e.g. the list call itself answered 429).
        state.check = state.video_key is None and (state.check or not isinstance(exc, RateLimited))
        if on_retry is not None:
            on_retry(exc, delay_s)

    return await call_with_retries(policy, attempt, on_retry=after_failure)
