"""The job-state table: every legal move works, every other (event, state) pair raises."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from vidlift.errors import IllegalTransition, ProgrammingError, VidliftError
from vidlift.journal import transitions
from vidlift.journal.base import JobRecord
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.state import (
    ADVISORY_EVENTS,
    TRANSITIONS,
    JobEvent,
    JobState,
    allowed_moves,
    next_state,
)
from vidlift.protocol.metadata import VideoMetadata

NOW = 1_700_000_000.0
CHANGES: dict[JobEvent, transitions.Change] = {
    JobEvent.CREATE: transitions.creating,
    JobEvent.CREATED: partial(
        transitions.created, video_key="K", upload_url="https://u/1", session_id="s"
    ),
    JobEvent.PROGRESS: partial(transitions.progressed, ranges=((0, 9),)),
    JobEvent.ATTEMPT: transitions.attempted,
    JobEvent.RESET_UPLOAD: transitions.upload_reset,
    JobEvent.INSPECT: partial(transitions.source_recorded, size_bytes=9, identity='etag:"e"'),
    JobEvent.VERIFY: transitions.verifying,
    JobEvent.PROCESS: partial(transitions.processing, md5="0" * 32),
    JobEvent.FINISH: partial(transitions.done, video_key="K", md5=None),
    JobEvent.RETITLE: partial(transitions.retitled, metadata=VideoMetadata(title="New")),
    JobEvent.FAIL: partial(transitions.failed, error="gave up"),
    JobEvent.SKIP: partial(transitions.skipped, reason="on purpose"),
}


def _requeue(create_sent: bool, upload_open: bool = False) -> transitions.Change:
    def change(record: JobRecord, now: float) -> JobRecord:
        key = None if create_sent else ("K" if upload_open else record.video_key)
        fields = {**_fields(record), "create_sent": create_sent, "video_key": key}
        session = ("s0", "https://u/0") if upload_open else (None, None)
        fields["session_id"], fields["upload_url"] = session
        new = transitions.requeued(JobRecord(**fields), now)
        assert new is not None
        return new

    return change


CHANGES[JobEvent.REQUEUE] = _requeue(False)
CHANGES[JobEvent.REQUEUE_TO_RECONCILE] = _requeue(True)
CHANGES[JobEvent.REQUEUE_TO_RESUME] = _requeue(False, upload_open=True)
MERGES = {JobEvent.QUEUE, JobEvent.REJECT_ROW}  # tested below: they need more than a state


def _fields(record: JobRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in JobRecord.__slots__}


def _record(state: JobState) -> JobRecord:
    return JobRecord(
        job_id="job-1",
        source_path=Path("/videos/a.mp4"),
        size_bytes=100,
        mtime_ns=1,
        metadata=VideoMetadata(title="A"),
        location="m.csv:2",
        state=state,
        video_key="K" if state is not JobState.PENDING else None,
        upload_url="https://u/0" if state in (JobState.UPLOADING, JobState.VERIFYING) else None,
        session_id="s0" if state in (JobState.UPLOADING, JobState.VERIFYING) else None,
        created_at=NOW - 10,
        updated_at=NOW - 10,
    )


PAIRS = [(event, state) for event in JobEvent if event not in MERGES for state in JobState]


def test_every_event_has_a_change() -> None:
    assert set(CHANGES) | MERGES == set(JobEvent)


@pytest.mark.parametrize(("event", "state"), PAIRS, ids=[f"{e.name}-{s}" for e, s in PAIRS])
def test_table_pair(event: JobEvent, state: JobState) -> None:
    record = _record(state)
    change: Callable[[JobRecord, float], JobRecord] = CHANGES[event]
    target = TRANSITIONS[event].get(state)
    if target is not None:
        new = change(record, NOW)
        assert new.state is target
        assert new.updated_at == NOW
    elif event in ADVISORY_EVENTS:
        assert change(record, NOW) == record
    else:
        with pytest.raises(IllegalTransition) as caught:
            change(record, NOW)
        assert (caught.value.job_id, caught.value.state) == ("job-1", state.value)
        assert caught.value.event == event.value


def test_illegal_transition_is_a_bug_not_a_job_failure() -> None:
    error = IllegalTransition("job-1", "mark_done", "pending")
    assert isinstance(error, ProgrammingError) and isinstance(error, VidliftError)
    assert "job-1" in str(error) and "'mark_done'" in str(error) and "'pending'" in str(error)


def test_next_state_reads_the_table() -> None:
    assert next_state(JobEvent.CREATE, JobState.PENDING, job_id="j") is JobState.CREATING
    with pytest.raises(IllegalTransition):
        next_state(JobEvent.FINISH, JobState.UPLOADING, job_id="j")


def test_done_and_skipped_are_terminal_and_crash_resume_moves_exist() -> None:
    moves = allowed_moves()
    # done only stays done: its metadata may follow the manifest (record_metadata)
    assert moves[JobState.DONE] == frozenset({JobState.DONE})
    assert moves[JobState.SKIPPED] == frozenset()
    assert JobState.CREATING in moves[JobState.CREATING]  # a crash in the create window
    assert JobState.VERIFYING in moves[JobState.VERIFYING]  # killed while verifying
    assert moves[JobState.FAILED] == {
        JobState.PENDING,
        JobState.CREATING,
        JobState.UPLOADING,  # requeued holding an upload session
        JobState.FAILED,
        JobState.SKIPPED,
    }
    for state in (JobState.PENDING, JobState.CREATING, JobState.UPLOADING, JobState.VERIFYING):
        assert JobState.FAILED in moves[state]


def _spec(**changes: object) -> JobSpec:
    base: dict[str, object] = {
        "job_id": "job-1",
        "path": Path("/videos/a.mp4"),
        "size_bytes": 100,
        "mtime_ns": 1,
        "title": "A",
        "location": "m.csv:2",
    }
    return JobSpec(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("state", list(JobState))
def test_merges_follow_the_table(state: JobState) -> None:
    """A manifest row changes only a never-started job or a bad row, as the table says."""
    record = _record(state)
    problem = JobProblem("m.csv:2", "job-1", Path("/videos/a.mp4"), "file not found")
    for event, item in ((JobEvent.QUEUE, _spec(size_bytes=5)), (JobEvent.REJECT_ROW, problem)):
        merged = transitions.merge_manifest_item(record, item, NOW)
        if state is JobState.PENDING:
            assert merged is not None and merged.state is TRANSITIONS[event][state]
        elif state is JobState.FAILED and event is JobEvent.QUEUE:
            # A failed job whose file changed: its new version is queued (issue 11, 7),
            # into the same video.
            assert merged is not None and merged.state is TRANSITIONS[event][state]
            assert merged.size_bytes == 5 and merged.video_key == record.video_key
        else:
            assert merged is None  # a started (or finished) job keeps its state
    bad_row = JobRecord(**{**_fields(_record(JobState.FAILED)), "manifest_problem": True})
    for event, item in ((JobEvent.QUEUE, _spec()), (JobEvent.REJECT_ROW, problem)):
        merged = transitions.merge_manifest_item(bad_row, item, NOW)
        assert merged is not None and merged.state is TRANSITIONS[event][JobState.FAILED]


def test_no_requeue_or_merge_leaves_a_pending_job_holding_an_upload_session() -> None:
    """A pending job holding a video key, a session and an upload URL goes on in that
    session, but `mark_verifying` is not allowed from `pending`: an older `retry --failed`
    made such jobs and stopped every later run (the SQLite journal's schema 3 and the
    PostgreSQL journal's 9 move them). Neither a requeue nor a manifest merge makes one."""
    failed = _record(JobState.FAILED)
    for create_sent, key, session, url in itertools.product(
        (False, True), (None, "", "K"), (None, "", "s0"), (None, "", "https://u/0")
    ):
        fields = {**_fields(failed), "create_sent": create_sent, "video_key": key}
        record = JobRecord(**{**fields, "session_id": session, "upload_url": url})
        new = transitions.requeued(record, NOW)
        assert new is not None
        assert (new.video_key, new.session_id, new.upload_url) == (key, session, url)
        assert (new.state is JobState.UPLOADING) == bool(key and session and url), record
        merged = transitions.merge_manifest_item(record, _spec(size_bytes=5), NOW)  # new version
        assert merged is not None and merged.state is JobState.PENDING
        assert (merged.session_id, merged.upload_url) == (None, None), record
