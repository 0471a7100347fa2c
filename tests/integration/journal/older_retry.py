"""What an older `vidlift retry --failed` left in a journal, and what the repair makes of
it: shared by the SQLite (schema 3) and PostgreSQL (schema 9) migration tests."""

from __future__ import annotations

from vidlift.journal.base import Journal
from vidlift.journal.state import JobState

# (job id, state, video key, session id, upload url, acknowledged ranges, attempts)
OLDER_RETRY_JOBS = (
    ("held", "pending", "K1", "s1", "https://u/1", "[[0, 65535]]", 0),  # requeued, session open
    ("fresh", "pending", None, None, None, "[]", 0),  # never started
    ("video-only", "pending", "K3", None, None, "[]", 0),  # requeued after its session reset
    ("known", "pending", "K4", "", "", "[]", 0),  # requeued, video found by a survey, no session
    ("sending", "uploading", "K5", "s5", "https://u/5", "[[0, 99]]", 2),
    ("gave-up", "failed", "K6", "s6", "https://u/6", "[]", 8),  # `retry --failed` still to come
)


async def assert_repaired(journal: Journal) -> None:
    """The held job is `uploading` with its session, ranges and attempts; every other job
    is as it was; the counts agree."""
    records = {job_id: await journal.get(job_id) for job_id, *_ in OLDER_RETRY_JOBS}
    held = records["held"]
    assert held is not None
    assert (held.state, held.video_key, held.session_id, held.upload_url) == (
        JobState.UPLOADING,
        "K1",
        "s1",
        "https://u/1",
    )
    assert (held.acked_ranges, held.attempts, held.create_sent) == (((0, 65535),), 0, True)
    states = {job_id: r.state.value for job_id, r in records.items() if r is not None}
    assert states == {
        "held": "uploading",
        "fresh": "pending",
        "video-only": "pending",
        "known": "pending",
        "sending": "uploading",
        "gave-up": "failed",
    }
    counts = await journal.counts()
    assert (counts.by_state[JobState.PENDING], counts.by_state[JobState.UPLOADING]) == (3, 2)
    assert counts.acked_bytes == 65536 + 100  # the held job's bytes count as in flight
