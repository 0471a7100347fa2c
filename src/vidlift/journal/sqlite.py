"""``SqliteJournal``: the journal in one SQLite file (journal layer; the default backend).

The async face of :class:`~vidlift.journal.sqlite_store.SqliteStore` (schema, locking and
durability are described there). Every blocking call runs in a worker thread, one at a
time (an ``anyio.Lock`` in front of the one connection), so the event loop never waits
on the disk. A call that is cancelled still finishes its transaction before the
cancellation is delivered: the file is never left half-written by us.

Batching: ``add_entries`` commits one transaction per 1000 entries. ``add_problem`` and
``record_progress`` are kept in memory and committed with the next call that touches
the file, when 1000 problems are waiting, once ``progress_interval_s`` (1 s) has passed
since the last commit, or on ``flush``/``close``. Reads commit them first, so a read sees
every earlier write. A killed process loses at most that last second of them; both are
re-derived on the next run (the manifest is read again; the server's ranges are the
truth).

A second process may read the journal while a run writes it:
``await SqliteJournal.open_readonly(path)`` takes no lock and refuses writes.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from vidlift.errors import IllegalTransition, JournalError
from vidlift.journal import transitions
from vidlift.journal.base import JobCounts, JobRecord
from vidlift.journal.leases import LeaseBook, OneProcessQueue
from vidlift.journal.spec import JobProblem, JobSpec
from vidlift.journal.sqlite_store import SqliteStore
from vidlift.journal.state import RUNNABLE_STATES, SETTLED_STATES, JobState
from vidlift.protocol.metadata import VideoMetadata

__all__ = ["SqliteJournal"]

T = TypeVar("T")

ENTRY_BATCH = 1000
_PROBLEM_BATCH = 1000


@dataclass(slots=True)
class _PendingChange:
    """A change waiting for the next group commit."""

    job_id: str
    change: transitions.Change
    durable: bool
    record: JobRecord | None = None
    error: JournalError | IllegalTransition | None = None

    @property
    def settled(self) -> bool:
        return self.record is not None or self.error is not None


class SqliteJournal(OneProcessQueue):
    """A :class:`~vidlift.journal.base.Journal` in one SQLite file.

    Open with :meth:`open` (the one writer) or :meth:`open_readonly`; close with
    :meth:`close` or ``async with``.
    """

    def __init__(self, store: SqliteStore, *, progress_interval_s: float = 1.0) -> None:
        self._store: SqliteStore | None = store
        self._lock = anyio.Lock()
        self._interval_s = progress_interval_s
        self._problems: list[JobProblem] = []
        self._progress: dict[str, tuple[tuple[int, int], ...]] = {}
        self._last_commit = time.monotonic()
        self._pending: list[_PendingChange] = []
        self._leases = LeaseBook()

    @classmethod
    async def open(cls, path: Path, *, progress_interval_s: float = 1.0) -> SqliteJournal:
        """Open the journal at ``path`` for writing, creating it if needed.

        Raises JournalError if it is not a vidlift journal, is corrupt, is written by
        another process, or its folder is not writable.
        """
        store = await anyio.to_thread.run_sync(partial(SqliteStore.open, path, readonly=False))
        return await cls(store, progress_interval_s=progress_interval_s)._read_queue()

    @classmethod
    async def open_readonly(cls, path: Path, *, create_nothing: bool = False) -> SqliteJournal:
        """Open an existing journal to read it, even while another process writes it.

        ``create_nothing``: not even SQLite's ``-wal``/``-shm`` files when no process has
        the journal open (a dry run leaves the folder as it found it).
        """
        opener = partial(SqliteStore.open, path, readonly=True, create_nothing=create_nothing)
        return await cls(await anyio.to_thread.run_sync(opener))._read_queue()

    async def _read_queue(self) -> SqliteJournal:
        """Read what another process's ``enqueue`` kept for this one's workers: the rows
        that left the manifest and the library's tag. Closes the journal if it cannot."""
        try:
            self._leases.absent = await self._run(SqliteStore.absent, write=False)
            self._leases.library = await self._run(
                partial(SqliteStore.meta, name="library"), write=False
            )
        except BaseException:
            await self.close()
            raise
        return self

    @property
    def path(self) -> Path:
        """The journal file."""
        return self._open_store().path

    async def __aenter__(self) -> SqliteJournal:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _open_store(self, *, write: bool = False) -> SqliteStore:
        if self._store is None:
            raise JournalError("the journal is closed")
        if write and self._store.readonly:
            raise JournalError(f"journal {self._store.path} is open read-only")
        return self._store

    async def _run(
        self, work: Callable[[SqliteStore], T], *, write: bool = True, durable: bool = False
    ) -> T:
        """Run ``work`` in a worker thread inside one transaction, batched writes first."""
        async with self._lock:
            return await self._run_locked(work, write=write, durable=durable)

    async def _run_locked(
        self, work: Callable[[SqliteStore], T], *, write: bool = True, durable: bool = False
    ) -> T:
        """:meth:`_run` for a caller that holds the lock.

        If the transaction fails, the batched writes it carried are kept for the next one
        (writing them twice is harmless: the last value wins).
        """
        store = self._open_store(write=write)
        problems, self._problems = self._problems, []
        progress, self._progress = self._progress, {}
        if problems or progress:
            write, self._last_commit = True, time.monotonic()
        call = partial(_transact, store, work, problems, progress, write, durable)
        try:
            return await anyio.to_thread.run_sync(call)
        except BaseException:
            self._problems[:0] = problems
            self._progress = progress | self._progress
            raise

    async def _run_if_due(self) -> None:
        due = time.monotonic() - self._last_commit >= self._interval_s
        if due or len(self._problems) >= _PROBLEM_BATCH:
            await self._run(_nothing)

    async def _change(
        self, job_id: str, change: transitions.Change, *, durable: bool = False
    ) -> JobRecord:
        # Every change is committed before it returns (it survives kill -9: WAL). Only
        # mark_creating is also fsynced (synchronous=FULL, survives power loss): it alone
        # guards against creating a video twice. After a power loss, any later change
        # is re-derived from the platform (probe, videos/list, videos/show).
        #
        # Group commit: changes that arrive while another transaction runs wait for the
        # lock together and are committed in one transaction (one fsync for all).
        item = _PendingChange(job_id, change, durable)
        self._pending.append(item)
        async with self._lock:
            if not item.settled:
                await self._commit_pending()
        if item.error is not None:
            raise item.error
        assert item.record is not None
        if item.record.state in SETTLED_STATES:
            self._leases.drop(job_id)
        return item.record

    async def _commit_pending(self) -> None:
        """Commit every waiting change (the caller holds the lock). If the group fails,
        each change is tried alone, so one bad change (an unknown job, an illegal move)
        fails only its own caller."""
        batch, self._pending = self._pending, []
        pairs = [(item.job_id, item.change) for item in batch]
        durable = any(item.durable for item in batch)
        try:
            records = await self._run_locked(lambda store: store.change(pairs), durable=durable)
        except (JournalError, IllegalTransition) as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for item in batch:
                try:
                    work = partial(_change_one, job_id=item.job_id, change=item.change)
                    item.record = await self._run_locked(work, durable=item.durable)
                except (JournalError, IllegalTransition) as exc:
                    item.error = exc
            return
        for item, record in zip(batch, records, strict=True):
            item.record = record

    async def add_entries(self, entries: Iterable[JobSpec]) -> int:
        self._open_store(write=True)
        added = 0
        iterator = iter(entries)
        while batch := list(itertools.islice(iterator, ENTRY_BATCH)):
            added += await self._run(partial(SqliteStore.merge, items=batch))
        return added

    async def add_problem(self, problem: JobProblem) -> None:
        self._open_store(write=True)
        self._problems.append(problem)
        await self._run_if_due()

    async def get(self, job_id: str) -> JobRecord | None:
        found = await self._run(lambda store: store.load([job_id]), write=False)
        return found.get(job_id)

    async def iter_jobs(
        self, states: Collection[JobState] | None = None, *, page_size: int = 500
    ) -> AsyncIterator[JobRecord]:
        after = 0
        while True:
            page = await self._run(
                partial(SqliteStore.page, states=states, after_seq=after, limit=page_size),
                write=False,
            )
            for _, record in page:
                yield record
            if len(page) < page_size:
                return
            after = page[-1][0]

    async def mark_creating(self, job_id: str) -> None:
        await self._change(job_id, transitions.creating, durable=True)

    async def record_created(
        self, job_id: str, *, video_key: str, upload_url: str, session_id: str
    ) -> None:
        change = partial(
            transitions.created, video_key=video_key, upload_url=upload_url, session_id=session_id
        )
        await self._change(job_id, change)

    async def record_progress(self, job_id: str, acked_ranges: Sequence[tuple[int, int]]) -> None:
        ranges = transitions.check_ranges(acked_ranges)
        self._open_store(write=True)
        self._progress[job_id] = ranges
        await self._run_if_due()

    async def mark_verifying(self, job_id: str) -> None:
        await self._change(job_id, transitions.verifying)

    async def mark_processing(self, job_id: str, *, md5: str | None) -> None:
        await self._change(job_id, partial(transitions.processing, md5=md5))

    async def mark_done(self, job_id: str, *, video_key: str, md5: str | None) -> None:
        await self._change(job_id, partial(transitions.done, video_key=video_key, md5=md5))

    async def record_metadata(self, job_id: str, metadata: VideoMetadata) -> None:
        await self._change(job_id, partial(transitions.retitled, metadata=metadata))

    async def mark_failed(self, job_id: str, error: str) -> None:
        await self._change(job_id, partial(transitions.failed, error=error))

    async def mark_skipped(self, job_id: str, reason: str) -> None:
        await self._change(job_id, partial(transitions.skipped, reason=reason))

    async def bump_attempts(self, job_id: str) -> int:
        return (await self._change(job_id, transitions.attempted)).attempts

    async def reset_upload(self, job_id: str) -> None:
        await self._change(job_id, transitions.upload_reset)

    async def record_source(self, job_id: str, *, size_bytes: int, identity: str) -> None:
        change = partial(transitions.source_recorded, size_bytes=size_bytes, identity=identity)
        await self._change(job_id, change)

    async def requeue_failed(self) -> int:
        return await self._run(SqliteStore.requeue_failed, durable=True)

    async def counts(self) -> JobCounts:
        return await self._run(SqliteStore.counts, write=False)

    # ------------------------------------------------------------------ fleet (one worker)
    # A SQLite journal has one writer at a time, but `vidlift enqueue` and the `vidlift
    # worker` after it are two processes: what the first tells the second is kept in the
    # file, and read again at open (:meth:`_read_queue`).
    async def set_absent(self, job_ids: Collection[str]) -> None:
        await self._run(partial(SqliteStore.set_absent, job_ids=job_ids), durable=True)
        await super().set_absent(job_ids)

    async def keep_library(self, tag: str) -> str:
        held = await self._run(
            partial(SqliteStore.keep_meta, name="library", value=tag), durable=True
        )
        self._leases.library = held
        return held

    async def claim(
        self, worker_id: str, n: int, lease_s: float, *, skip: Collection[str] = ()
    ) -> list[JobRecord]:
        picked: list[JobRecord] = []
        after, limit = 0, max(n, 64)
        while len(picked) < n:
            page = await self._run(
                partial(SqliteStore.page, states=RUNNABLE_STATES, after_seq=after, limit=limit),
                write=False,
            )
            for _, record in page:
                if record.job_id in skip or len(picked) >= n:
                    continue
                if self._leases.free(record.job_id, worker_id):
                    self._leases.take(record, worker_id, lease_s)
                    picked.append(record)
            if len(page) < limit:
                break
            after = page[-1][0]
        return picked

    async def flush(self) -> None:
        if self._problems or self._progress:
            await self._run(_nothing)
        else:
            self._open_store()

    async def close(self) -> None:
        """Commit batched writes and close the file; closing twice is harmless."""
        if self._store is None:
            return
        try:
            await self.flush()
        finally:
            async with self._lock:
                store, self._store = self._store, None
                if store is not None:
                    await anyio.to_thread.run_sync(store.close)


def _change_one(store: SqliteStore, *, job_id: str, change: transitions.Change) -> JobRecord:
    return store.change([(job_id, change)])[0]


def _nothing(store: SqliteStore) -> None:
    del store


def _transact(
    store: SqliteStore,
    work: Callable[[SqliteStore], T],
    problems: list[JobProblem],
    progress: dict[str, tuple[tuple[int, int], ...]],
    write: bool,
    durable: bool,
) -> T:
    with store.transaction(write=write, durable=durable):
        if problems:
            store.merge(problems)
        if progress:
            changes = [
                (job_id, partial(transitions.progressed, ranges=ranges))
                for job_id, ranges in progress.items()
            ]
            store.change(changes, missing_ok=True)
        return work(store)
