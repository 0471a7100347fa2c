"""The conformance suite every :class:`~vidlift.journal.base.Journal` backend must pass
(testing kit).

Each check is an async function taking a fresh, empty, open journal; it raises
AssertionError (or the journal's own error) when the backend breaks the contract.
Run them all for a backend with pytest::

    @pytest.mark.anyio
    @pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=check_id)
    async def test_conformance(check, journal):
        await check(journal)

No pytest import here: the checks are plain coroutines, usable by any runner.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import anyio

from vidlift.errors import IllegalTransition, JournalError
from vidlift.journal.base import JobRecord, Journal
from vidlift.journal.leases import FleetJournal, TokenBucket, WorkerInfo
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.state import JobState
from vidlift.protocol.metadata import VideoMetadata

__all__ = [
    "CONFORMANCE_CHECKS",
    "Check",
    "FLEET_CHECKS",
    "FleetCheck",
    "FleetJournal",
    "check_id",
    "sample_entry",
    "sample_problem",
    "walk_to",
]

Check = Callable[[Journal], Awaitable[None]]
FleetCheck = Callable[[FleetJournal], Awaitable[None]]


def check_id(check: Check | FleetCheck) -> str:
    """A readable test id for a check."""
    return getattr(check, "__name__", repr(check)).removeprefix("check_")


def sample_entry(number: int, **changes: object) -> JobSpec:
    """A made-up job (its file need not exist): job ``job-<number>``."""
    entry = JobSpec(
        job_id=f"job-{number}",
        path=Path(f"/videos/clip-{number:04d}.mp4"),
        size_bytes=1000 + number,
        mtime_ns=1_700_000_000_000_000_000 + number,
        title=f"Clip {number} — été",
        description="line one\nline two",
        tags=("news", "archive"),
        date=datetime(2021, 3, 4, 10, 30, tzinfo=UTC),
        link="https://example.com/clip",
        custom={"legacy_id": str(number), "lang": "fr"},
        location=f"library.csv:{number + 1}",
    )
    return replace(entry, **changes)  # type: ignore[arg-type]


def sample_problem(number: int, reason: str = "file not found") -> JobProblem:
    """A made-up bad row for job ``job-<number>``."""
    path = Path(f"/videos/clip-{number:04d}.mp4")
    return JobProblem(f"library.csv:{number + 1}", f"job-{number}", path, reason)


async def _record(journal: Journal, job_id: str) -> JobRecord:
    record = await journal.get(job_id)
    assert record is not None, f"job {job_id} is missing"
    return record


_WALK = (JobState.CREATING, JobState.UPLOADING, JobState.VERIFYING, JobState.DONE)


async def walk_to(journal: Journal, job_id: str, state: JobState, *, key: str = "K") -> None:
    """Move a pending job to ``state`` (creating, uploading, verifying or done) by the
    legal path: mark_creating, record_created, mark_verifying, mark_done."""
    steps = {
        JobState.CREATING: lambda: journal.mark_creating(job_id),
        JobState.UPLOADING: lambda: journal.record_created(
            job_id, video_key=key, upload_url="u", session_id="s"
        ),
        JobState.VERIFYING: lambda: journal.mark_verifying(job_id),
        JobState.DONE: lambda: journal.mark_done(job_id, video_key=key, md5=None),
    }
    for step in _WALK[: _WALK.index(state) + 1]:
        await steps[step]()


async def _all(
    journal: Journal, states: list[JobState] | None = None, page: int = 500
) -> list[str]:
    return [record.job_id async for record in journal.iter_jobs(states, page_size=page)]


async def check_add_entries_inserts_once(journal: Journal) -> None:
    """New jobs are counted once; adding them again changes nothing, state included."""
    assert await journal.add_entries([sample_entry(1), sample_entry(2)]) == 2
    await journal.mark_creating("job-1")
    assert await journal.add_entries([sample_entry(1), sample_entry(2), sample_entry(3)]) == 1
    assert (await _record(journal, "job-1")).state is JobState.CREATING
    assert await journal.add_entries(sample_entry(n) for n in range(4, 2504)) == 2500
    assert len(await _all(journal)) == 2503


async def check_record_round_trip(journal: Journal) -> None:
    """A record gives back its entry exactly, and starts pending with nothing else set."""
    entry = sample_entry(7, tags=(), date=None, custom={})
    await journal.add_entries([sample_entry(1), entry])
    assert (await _record(journal, "job-1")).to_entry() == sample_entry(1)
    record = await _record(journal, "job-7")
    assert record.to_entry() == entry
    assert record.state is JobState.PENDING
    assert (record.video_key, record.upload_url, record.session_id, record.md5) == (None,) * 4
    assert (record.acked_ranges, record.attempts, record.last_error) == ((), 0, None)
    assert not record.manifest_problem and not record.create_sent
    assert record.created_at == record.updated_at > 0
    assert await journal.get("job-404") is None


async def check_problem_is_a_failed_job(journal: Journal) -> None:
    """A bad row is a failed job with its location and reason, and no upload parameters."""
    await journal.add_problem(sample_problem(3, "file is empty (0 bytes)"))
    await journal.add_problem(JobProblem("library.csv:1", "<library.csv:1>", None, "bad"))
    record = await _record(journal, "job-3")
    assert record.state is JobState.FAILED and record.manifest_problem
    assert record.last_error == "file is empty (0 bytes)"
    assert (record.location, record.source_path) == ("library.csv:4", Path("/videos/clip-0003.mp4"))
    assert (await _record(journal, "<library.csv:1>")).source_path is None
    try:
        record.to_entry()
    except JournalError as exc:
        assert "library.csv:4" in str(exc)
    else:
        raise AssertionError("to_entry() of a bad row must raise JournalError")


async def check_problem_keeps_started_jobs(journal: Journal) -> None:
    """A bad row replaces only a never-started job; started and done jobs keep going."""
    await journal.add_entries([sample_entry(1), sample_entry(2), sample_entry(3)])
    await journal.mark_creating("job-1")
    await walk_to(journal, "job-2", JobState.DONE, key="K2")
    for number in (1, 2, 3):
        await journal.add_problem(sample_problem(number))
    assert (await _record(journal, "job-1")).state is JobState.CREATING
    assert (await _record(journal, "job-2")).state is JobState.DONE
    replaced = await _record(journal, "job-3")
    assert replaced.state is JobState.FAILED and replaced.manifest_problem


async def check_fixed_row_replaces_problem(journal: Journal) -> None:
    """Reading a manifest where a bad row is now good queues that job (counted as new)."""
    await journal.add_problem(sample_problem(5, "file not found"))
    first = await _record(journal, "job-5")
    await journal.add_problem(sample_problem(5, "no read permission"))
    assert (await _record(journal, "job-5")).last_error == "no read permission"
    assert await journal.add_entries([sample_entry(5)]) == 1
    record = await _record(journal, "job-5")
    assert record.state is JobState.PENDING and not record.manifest_problem
    assert record.last_error is None and record.to_entry() == sample_entry(5)
    assert record.created_at == first.created_at
    assert await _all(journal) == ["job-5"]


async def check_rerun_refreshes_unstarted_jobs(journal: Journal) -> None:
    """A rerun updates jobs never started whose row or file changed; others keep theirs."""
    await journal.add_entries([sample_entry(1), sample_entry(2), sample_entry(3)])
    await journal.mark_creating("job-2")
    unchanged = await _record(journal, "job-3")
    changed = [
        sample_entry(1, size_bytes=5, title="New title"),
        sample_entry(2, size_bytes=5),
        sample_entry(3),
    ]
    assert await journal.add_entries(changed) == 0
    refreshed = await _record(journal, "job-1")
    assert (refreshed.size_bytes, refreshed.metadata.title) == (5, "New title")
    assert refreshed.state is JobState.PENDING
    assert (await _record(journal, "job-2")).size_bytes == sample_entry(2).size_bytes
    assert await _record(journal, "job-3") == unchanged
    assert await _all(journal) == ["job-1", "job-2", "job-3"]


async def check_upload_lifecycle(journal: Journal) -> None:
    """creating -> uploading (session kept) -> progress -> verifying -> done."""
    await journal.add_entries([sample_entry(1)])
    await journal.mark_creating("job-1")
    creating = await _record(journal, "job-1")
    assert creating.state is JobState.CREATING and creating.create_sent
    await journal.record_created(
        "job-1", video_key="Ab3dEf7h", upload_url="https://u/1", session_id="s1"
    )
    record = await _record(journal, "job-1")
    assert record.state is JobState.UPLOADING
    assert (record.video_key, record.upload_url, record.session_id) == (
        "Ab3dEf7h",
        "https://u/1",
        "s1",
    )
    await journal.record_progress("job-1", [(0, 99), (200, 299)])
    await journal.record_progress("job-1", [(0, 499)])
    await journal.flush()
    assert (await _record(journal, "job-1")).acked_ranges == ((0, 499),)
    assert (await _record(journal, "job-1")).acked_bytes == 500
    await journal.mark_verifying("job-1")
    assert (await _record(journal, "job-1")).state is JobState.VERIFYING
    await journal.mark_done("job-1", video_key="Ab3dEf7h", md5="0" * 32)
    done = await _record(journal, "job-1")
    assert (done.state, done.video_key, done.md5) == (JobState.DONE, "Ab3dEf7h", "0" * 32)
    assert done.updated_at > creating.updated_at and done.created_at == creating.created_at


async def check_processing_keeps_the_md5_and_is_runnable(journal: Journal) -> None:
    """``mark_processing`` (--wait-ready): a verified job keeps its md5 while the platform
    processes it, is found again among runnable jobs, ends done or failed with a reason."""
    await journal.add_entries([sample_entry(1), sample_entry(2)])
    for job_id in ("job-1", "job-2"):
        await walk_to(journal, job_id, JobState.VERIFYING)
        await journal.mark_processing(job_id, md5="a" * 32)
        await journal.mark_processing(job_id, md5="a" * 32)  # resumed while waiting
    record = await _record(journal, "job-1")
    assert (record.state, record.md5, record.video_key) == (JobState.PROCESSING, "a" * 32, "K")
    runnable = [JobState.PENDING, JobState.CREATING, JobState.VERIFYING, JobState.PROCESSING]
    assert await _all(journal, runnable) == ["job-1", "job-2"]
    await journal.mark_done("job-1", video_key="K", md5="a" * 32)
    await journal.mark_failed("job-2", "the platform failed to process video K: too short")
    failed = await _record(journal, "job-2")
    assert failed.state is JobState.FAILED and "too short" in (failed.last_error or "")
    assert (await _record(journal, "job-1")).state is JobState.DONE
    try:
        await journal.mark_processing("job-1", md5=None)
    except IllegalTransition:
        pass
    else:
        raise AssertionError("mark_processing of a done job must raise IllegalTransition")


async def check_reads_see_batched_progress(journal: Journal) -> None:
    """Progress not yet flushed is visible to reads in the same process."""
    await journal.add_entries([sample_entry(1)])
    await walk_to(journal, "job-1", JobState.UPLOADING)
    await journal.record_progress("job-1", [(0, 9)])
    assert (await _record(journal, "job-1")).acked_ranges == ((0, 9),)
    await journal.record_progress("job-404", [(0, 9)])  # unknown jobs are ignored
    await journal.flush()


async def check_new_session_starts_empty(journal: Journal) -> None:
    """record_created and reset_upload drop the ranges, even ones not yet flushed."""
    await journal.add_entries([sample_entry(1)])
    await journal.mark_creating("job-1")
    await journal.record_created("job-1", video_key="K", upload_url="u1", session_id="s1")
    await journal.record_progress("job-1", [(0, 9)])
    await journal.reset_upload("job-1")
    await journal.flush()
    reset = await _record(journal, "job-1")
    assert (reset.video_key, reset.upload_url, reset.session_id) == ("K", None, None)
    assert reset.acked_ranges == ()
    await journal.record_progress("job-1", [(0, 9)])
    await journal.mark_creating("job-1")  # a new session for the same video
    await journal.record_created("job-1", video_key="K", upload_url="u2", session_id="s2")
    await journal.flush()
    assert (await _record(journal, "job-1")).acked_ranges == ()


async def check_bad_ranges_are_refused(journal: Journal) -> None:
    """Ranges must be integer pairs with 0 <= start <= end."""
    await journal.add_entries([sample_entry(1)])
    for bad in ([(5, 3)], [(-1, 2)], [("0", 1)], [(True, 1)]):
        try:
            await journal.record_progress("job-1", bad)  # type: ignore[arg-type]
        except ValueError:
            continue
        raise AssertionError(f"ranges {bad!r} were accepted")


async def check_attempts_and_skips(journal: Journal) -> None:
    """bump_attempts counts up; mark_skipped keeps its reason."""
    await journal.add_entries([sample_entry(1), sample_entry(2)])
    assert [await journal.bump_attempts("job-1") for _ in range(3)] == [1, 2, 3]
    assert (await _record(journal, "job-1")).attempts == 3
    await journal.mark_skipped("job-2", "already on the platform")
    skipped = await _record(journal, "job-2")
    assert (skipped.state, skipped.last_error) == (JobState.SKIPPED, "already on the platform")


async def check_requeue_failed(journal: Journal) -> None:
    """Failed jobs go back (to creating if a create may have been sent, to uploading if
    they hold an upload session); bad rows stay."""
    await journal.add_entries([sample_entry(n) for n in (1, 2, 3, 4)])
    await journal.add_problem(sample_problem(5))
    await journal.bump_attempts("job-1")
    await journal.mark_failed("job-1", "gave up")
    await journal.mark_creating("job-2")
    await journal.mark_failed("job-2", "create timed out")
    await journal.mark_creating("job-3")
    await journal.record_created("job-3", video_key="K3", upload_url="u", session_id="s")
    await journal.mark_failed("job-3", "size differs")
    assert await journal.requeue_failed() == 3
    first = await _record(journal, "job-1")
    assert (first.state, first.attempts, first.last_error) == (JobState.PENDING, 0, "gave up")
    assert (await _record(journal, "job-2")).state is JobState.CREATING
    third = await _record(journal, "job-3")
    assert (third.state, third.video_key, third.session_id) == (JobState.UPLOADING, "K3", "s")
    assert (await _record(journal, "job-4")).state is JobState.PENDING
    assert (await _record(journal, "job-5")).state is JobState.FAILED
    assert await journal.requeue_failed() == 0


async def check_unknown_job_is_an_error(journal: Journal) -> None:
    """Transitions of a job the journal does not hold raise JournalError (and lose no
    batched write of another job)."""
    await journal.add_entries([sample_entry(1)])
    await walk_to(journal, "job-1", JobState.UPLOADING)
    await journal.record_progress("job-1", [(0, 9)])
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: journal.mark_creating("nope"),
        lambda: journal.record_created("nope", video_key="K", upload_url="u", session_id="s"),
        lambda: journal.mark_verifying("nope"),
        lambda: journal.mark_done("nope", video_key="K", md5=None),
        lambda: journal.mark_failed("nope", "x"),
        lambda: journal.mark_skipped("nope", "x"),
        lambda: journal.bump_attempts("nope"),
        lambda: journal.reset_upload("nope"),
    ]
    for call in calls:
        try:
            await call()
        except JournalError:
            continue
        raise AssertionError("a transition of an unknown job did not raise JournalError")
    assert (await _record(journal, "job-1")).acked_ranges == ((0, 9),)


async def check_iter_jobs_pages_in_order(journal: Journal) -> None:
    """Insertion order across pages; filtering by state; an empty filter gives nothing."""
    await journal.add_entries(sample_entry(n) for n in range(25))
    for n in range(0, 25, 5):
        await journal.mark_failed(f"job-{n}", "x")
    everything = [f"job-{n}" for n in range(25)]
    assert await _all(journal, page=4) == everything
    assert await _all(journal, [JobState.FAILED], page=2) == everything[::5]
    pending = [job for job in everything if job not in everything[::5]]
    assert await _all(journal, [JobState.PENDING, JobState.DONE], page=3) == pending
    assert await _all(journal, []) == []


async def check_iter_jobs_while_changing(journal: Journal) -> None:
    """Changing jobs while iterating them visits each once (keyset paging)."""
    await journal.add_entries(sample_entry(n) for n in range(10))
    seen: list[str] = []
    async for record in journal.iter_jobs([JobState.PENDING], page_size=3):
        seen.append(record.job_id)
        await journal.mark_creating(record.job_id)
        if len(seen) <= 5:  # jobs added behind the cursor's page are still ahead of it
            await journal.add_entries([sample_entry(100 + len(seen))])
    assert seen == [f"job-{n}" for n in range(10)] + [f"job-{n}" for n in range(101, 106)]


async def check_counts(journal: Journal) -> None:
    """Counts by state (all states), bytes, and the 10 latest failures, newest first."""
    empty = await journal.counts()
    assert empty.total_jobs == 0 and set(empty.by_state) == set(JobState)
    await journal.add_entries(sample_entry(n) for n in range(1, 16))
    await walk_to(journal, "job-1", JobState.DONE)
    await walk_to(journal, "job-2", JobState.UPLOADING)
    await journal.record_progress("job-2", [(0, 99), (50, 149)])
    await walk_to(journal, "job-3", JobState.UPLOADING)
    await journal.record_progress("job-3", [(0, 9)])
    await journal.mark_failed("job-3", "failed with acked bytes")
    for n in (4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14):
        await journal.mark_failed(f"job-{n}", f"error {n}")
    await journal.add_problem(sample_problem(20))
    counts = await journal.counts()
    assert counts.total_jobs == 16
    assert counts.by_state[JobState.FAILED] == 13 and counts.by_state[JobState.DONE] == 1
    assert counts.by_state[JobState.UPLOADING] == 1 and counts.by_state[JobState.PENDING] == 1
    assert counts.total_bytes == sum(1000 + n for n in range(1, 16))
    assert (counts.done_bytes, counts.acked_bytes) == (1001, 150)
    failures = counts.recent_failures
    assert [f.job_id for f in failures] == ["job-20", *(f"job-{n}" for n in range(14, 5, -1))]
    assert failures[1].error == "error 14" and failures[1].location == "library.csv:15"
    assert failures[1].path == Path("/videos/clip-0014.mp4")


async def check_illegal_moves_raise(journal: Journal) -> None:
    """A change its state does not allow raises IllegalTransition and changes nothing;
    progress of a job that moved on is dropped; one illegal change in a group of
    concurrent ones fails only its own caller."""
    await journal.add_entries(sample_entry(n) for n in range(1, 5))
    await walk_to(journal, "job-1", JobState.DONE)
    done = await _record(journal, "job-1")
    illegal: list[Callable[[], Awaitable[object]]] = [
        lambda: journal.mark_creating("job-1"),
        lambda: journal.mark_failed("job-1", "x"),
        lambda: journal.reset_upload("job-1"),
        lambda: journal.bump_attempts("job-1"),
        lambda: journal.mark_done("job-2", video_key="K", md5=None),
        lambda: journal.record_created("job-2", video_key="K", upload_url="u", session_id="s"),
        lambda: journal.mark_verifying("job-2"),
    ]
    for call in illegal:
        try:
            await call()
        except IllegalTransition:
            continue
        raise AssertionError("an illegal move did not raise IllegalTransition")
    await journal.record_progress("job-1", [(0, 9)])
    await journal.flush()
    assert await _record(journal, "job-1") == done
    assert (await _record(journal, "job-2")).state is JobState.PENDING
    outcomes: dict[str, BaseException | None] = {}

    async def attempt(job_id: str, call: Callable[[], Awaitable[object]]) -> None:
        try:
            await call()
            outcomes[job_id] = None
        except IllegalTransition as exc:
            outcomes[job_id] = exc

    async with anyio.create_task_group() as group:
        group.start_soon(attempt, "job-3", lambda: journal.mark_failed("job-3", "x"))
        group.start_soon(attempt, "job-2", lambda: journal.mark_verifying("job-2"))
        group.start_soon(attempt, "job-4", lambda: journal.mark_creating("job-4"))
    assert outcomes["job-3"] is None and outcomes["job-4"] is None
    assert isinstance(outcomes["job-2"], IllegalTransition)
    assert (await _record(journal, "job-3")).state is JobState.FAILED
    assert (await _record(journal, "job-4")).state is JobState.CREATING


async def check_metadata_of_done_jobs_is_recorded(journal: Journal) -> None:
    """record_metadata replaces a done job's metadata; on any other job it is illegal."""
    await journal.add_entries([sample_entry(1), sample_entry(2)])
    await walk_to(journal, "job-1", JobState.DONE)
    new = VideoMetadata(title="Renamed", custom={"legacy_id": "9"})
    await journal.record_metadata("job-1", new)
    record = await _record(journal, "job-1")
    assert record.metadata == new and record.state is JobState.DONE
    try:
        await journal.record_metadata("job-2", new)
    except IllegalTransition:
        return
    raise AssertionError("record_metadata on a pending job did not raise IllegalTransition")


async def check_closed_journal_refuses_calls(journal: Journal) -> None:
    """After close, calls raise JournalError; closing again is harmless."""
    await journal.add_entries([sample_entry(1)])
    await journal.close()
    await journal.close()
    try:
        await journal.get("job-1")
    except JournalError:
        return
    raise AssertionError("get() on a closed journal did not raise JournalError")


async def check_url_jobs_keep_their_source_identity(journal: Journal) -> None:
    """A URL job is stored without a path (the URL without its query string); its size
    and identity, recorded when the job first reads it, survive a rerun of the manifest
    (where the size is still unknown)."""
    url = "https://cdn.example.com/v/clip.mp4"
    entry = sample_entry(1, path=None, source_url=url, size_bytes=0, mtime_ns=0)
    assert await journal.add_entries([entry]) == 1
    record = await _record(journal, "job-1")
    assert (record.source_path, record.source_url, record.source_identity) == (None, url, None)
    assert record.to_entry() == entry
    await journal.record_source("job-1", size_bytes=5000, identity='etag:"abc"')
    assert await journal.add_entries([entry]) == 0
    await journal.mark_creating("job-1")
    record = await _record(journal, "job-1")
    assert (record.size_bytes, record.source_identity) == (5000, 'etag:"abc"')
    assert record.state is JobState.CREATING and record.source_url == url


CONFORMANCE_CHECKS: tuple[Check, ...] = (
    check_add_entries_inserts_once,
    check_record_round_trip,
    check_problem_is_a_failed_job,
    check_problem_keeps_started_jobs,
    check_fixed_row_replaces_problem,
    check_rerun_refreshes_unstarted_jobs,
    check_upload_lifecycle,
    check_processing_keeps_the_md5_and_is_runnable,
    check_reads_see_batched_progress,
    check_new_session_starts_empty,
    check_bad_ranges_are_refused,
    check_attempts_and_skips,
    check_requeue_failed,
    check_unknown_job_is_an_error,
    check_iter_jobs_pages_in_order,
    check_iter_jobs_while_changing,
    check_counts,
    check_illegal_moves_raise,
    check_metadata_of_done_jobs_is_recorded,
    check_closed_journal_refuses_calls,
    check_url_jobs_keep_their_source_identity,
)


# ---------------------------------------------------------------------- the fleet
async def _ids(records: list[JobRecord]) -> list[str]:
    return [record.job_id for record in records]


async def check_claims_in_queue_order_once(journal: FleetJournal) -> None:
    """Claims hand out runnable jobs in queue order, each to one worker; a settled job
    is never handed out; a job given back is handed out again. ``held`` counts what a
    worker holds: claimed, not settled or given back."""
    await journal.add_entries(sample_entry(n) for n in range(6))
    await journal.mark_failed("job-2", "x")
    assert await _ids(await journal.claim("w1", 2, 30.0)) == ["job-0", "job-1"]
    assert await _ids(await journal.claim("w2", 2, 30.0)) == ["job-3", "job-4"]
    assert (journal.held("w1"), journal.held("w2"), journal.held("w3")) == (2, 2, 0)
    await walk_to(journal, "job-0", JobState.DONE)
    await journal.release("job-1")
    assert journal.held("w1") == 0
    assert await _ids(await journal.claim("w2", 5, 30.0)) == ["job-1", "job-5"]
    assert journal.held("w2") == 4
    assert await journal.claim("w3", 5, 30.0) == []


async def check_claims_skip_what_a_worker_cannot_read(journal: FleetJournal) -> None:
    """A job given back by a worker that cannot read its file is not claimed again by
    that worker (``skip``), but is by the others."""
    await journal.add_entries(sample_entry(n) for n in range(3))
    assert await _ids(await journal.claim("w1", 1, 30.0)) == ["job-0"]
    await journal.release("job-0")
    assert await _ids(await journal.claim("w1", 2, 30.0, skip={"job-0"})) == ["job-1", "job-2"]
    assert await journal.claim("w1", 2, 30.0, skip={"job-0"}) == []
    assert await _ids(await journal.claim("w2", 2, 30.0, skip={"job-9"})) == ["job-0"]


async def check_expired_lease_is_taken_over(journal: FleetJournal) -> None:
    """A lease not renewed in time ends: another worker gets the job, and the first
    learns at its next renewal that it lost it; a renewed lease is kept."""
    await journal.add_entries([sample_entry(1), sample_entry(2)])
    assert await _ids(await journal.claim("w1", 1, 0.3)) == ["job-1"]
    assert await _ids(await journal.claim("w1", 1, 30.0)) == ["job-2"]
    assert await journal.claim("w2", 5, 30.0) == []
    await anyio.sleep(0.5)  # waits for time itself: the first lease runs out
    assert await _ids(await journal.claim("w2", 5, 30.0)) == ["job-1"]
    assert await journal.renew_leases("w1", 30.0, bytes_sent=0) == ["job-1"]
    assert await journal.renew_leases("w2", 30.0, bytes_sent=0) == []
    assert await journal.claim("w3", 5, 30.0) == []


async def check_worker_registry(journal: FleetJournal) -> None:
    """Workers are listed with their host, pid, jobs held and bytes sent."""
    now = time.time()
    await journal.register_worker(WorkerInfo("w1", "host-a", 101, now, now))
    await journal.register_worker(WorkerInfo("w2", "host-b", 202, now, now))
    await journal.add_entries(sample_entry(n) for n in range(3))
    await journal.claim("w1", 2, 30.0)
    await journal.renew_leases("w1", 30.0, bytes_sent=4096)
    workers = {worker.worker_id: worker for worker in await journal.workers()}
    assert set(workers) == {"w1", "w2"}
    first = workers["w1"]
    assert (first.host, first.pid, first.jobs_held, first.bytes_sent) == ("host-a", 101, 2, 4096)
    assert first.heartbeat_at >= now - 5 and workers["w2"].jobs_held == 0


async def check_claim_counts_held_jobs_at_once(journal: FleetJournal) -> None:
    """A claim that returns jobs writes the worker's ``jobs_held`` before any heartbeat;
    one that returns none leaves it as it was."""
    now = time.time()
    await journal.register_worker(WorkerInfo("w1", "host-a", 101, now, now))
    await journal.add_entries(sample_entry(n) for n in range(3))

    async def held() -> int:
        return {w.worker_id: w for w in await journal.workers()}["w1"].jobs_held

    await journal.claim("w1", 2, 30.0)
    assert await held() == 2
    await journal.claim("w1", 5, 30.0)
    assert await held() == 3
    assert await journal.claim("w1", 5, 30.0) == []
    assert await held() == 3


async def check_a_retired_worker_is_listed_as_ended(journal: FleetJournal) -> None:
    """``retire_worker`` marks one worker ended (after its last heartbeat), the others
    not; registering the same id again makes it live again."""
    now = time.time()
    await journal.register_worker(WorkerInfo("w1", "host-a", 101, now, now))
    await journal.register_worker(WorkerInfo("w2", "host-b", 202, now, now))
    await journal.renew_leases("w1", 30.0, bytes_sent=10)
    await journal.retire_worker("w1")
    workers = {worker.worker_id: worker for worker in await journal.workers()}
    ended = workers["w1"].ended_at
    assert ended is not None and now - 5 <= ended <= time.time() + 5
    assert workers["w1"].bytes_sent == 10 and workers["w2"].ended_at is None
    await journal.register_worker(WorkerInfo("w1", "host-a", 101, now, now))
    assert {w.worker_id: w for w in await journal.workers()}["w1"].ended_at is None


async def check_shared_token_bucket(journal: FleetJournal) -> None:
    """The API bucket gives its burst at once, then one token per 1/rate seconds."""
    bucket = TokenBucket(rate_per_s=1.0, burst=3.0)
    waits = [await journal.take_api_tokens("key-a", bucket) for _ in range(3)]
    assert waits == [0.0, 0.0, 0.0]
    fourth = await journal.take_api_tokens("key-a", bucket)
    fifth = await journal.take_api_tokens("key-a", bucket)
    assert 0.0 < fourth <= 1.0 and 0.5 < fifth - fourth <= 1.0  # calls take some time
    assert await journal.take_api_tokens("key-b", bucket) == 0.0  # one bucket per key


async def check_claims_skip_jobs_no_longer_in_the_manifest(journal: FleetJournal) -> None:
    """Jobs whose rows left the manifest are kept but never claimed, even on an expired
    lease, nor counted as runnable; a row put back is claimed again."""
    await journal.add_entries(sample_entry(n) for n in range(5))
    assert await _ids(await journal.claim("w1", 1, 0.05)) == ["job-0"]
    await journal.set_absent({"job-0", "job-1", "job-2"})
    assert [record.job_id async for record in journal.iter_absent()] == ["job-0", "job-1", "job-2"]
    assert await journal.runnable_left() == 2
    await anyio.sleep(0.1)  # waits for time itself: job-0's lease runs out
    assert await _ids(await journal.claim("w2", 5, 30.0)) == ["job-3", "job-4"]
    assert await journal.expired_leases() == 0
    assert await journal.runnable_left(skip={"job-3"}) == 1
    await journal.set_absent({"job-2"})  # rows 0 and 1 are back
    assert [record.job_id async for record in journal.iter_absent()] == ["job-2"]
    assert await journal.runnable_left() == 4
    assert await _ids(await journal.claim("w3", 5, 30.0)) == ["job-0", "job-1"]
    assert (await _record(journal, "job-2")).state is JobState.PENDING  # kept as it was
    await journal.set_absent(())
    assert [record.job_id async for record in journal.iter_absent()] == []
    assert await _ids(await journal.claim("w3", 5, 30.0)) == ["job-2"]


async def check_the_first_library_tag_stays(journal: FleetJournal) -> None:
    """The library tag is the first one kept: a later enqueue (another path) reads it."""
    assert await journal.library() is None
    assert await journal.keep_library("tag-a") == "tag-a"
    assert await journal.keep_library("tag-b") == "tag-a"
    assert await journal.library() == "tag-a"


FLEET_CHECKS: tuple[FleetCheck, ...] = (
    check_claims_in_queue_order_once,
    check_claims_skip_what_a_worker_cannot_read,
    check_claims_skip_jobs_no_longer_in_the_manifest,
    check_expired_lease_is_taken_over,
    check_worker_registry,
    check_claim_counts_held_jobs_at_once,
    check_a_retired_worker_is_listed_as_ended,
    check_shared_token_bucket,
    check_the_first_library_tag_stays,
)
"""Checks of the :class:`~vidlift.journal.leases.WorkQueue` side (claims, leases, workers,
API budget), for backends that offer it."""
