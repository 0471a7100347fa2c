"""A worker's job feed for fleet mode: jobs claimed from a shared journal, with their
leases renewed in the background (jobs layer).

:class:`ClaimFeed` is an async iterator of claimed jobs that plugs into the batch runner
in place of ``journal.iter_jobs(RUNNABLE_STATES)``: the runner's one decision loop does
the rest, unchanged. While it is open, a heartbeat renews every lease the worker holds
every ``lease_s / 3`` seconds and updates the worker registry. The feed ends when no
runnable job is left anywhere in the journal (jobs held by other workers count: a
worker that dies leaves its jobs to be taken over when their leases expire), or never
with ``follow``.

Sources must be readable on every host; a worker that cannot open a claimed job's local
file gives the job back at once, never claims it again, and tells ``on_left`` why: the
job is left for a worker that can read it, not failed. Its feed ends when the only
runnable jobs left are such jobs.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup

from vidlift.jobs.pacing import ApiPacer
from vidlift.journal.base import JobRecord
from vidlift.journal.leases import FleetJournal, TokenBucket, WorkerInfo
from vidlift.journal.state import RUNNABLE_STATES

__all__ = ["ClaimFeed", "FeedSettings", "SharedApiPacer", "new_worker"]


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """How a worker takes jobs: lease length, idle polling, follow mode, and
    ``claim_batch``, its slots: each claim asks for the slots not held (at least one), so
    a worker starting takes ``claim_batch`` jobs in one statement, then one as each ends."""

    lease_s: float = 60.0
    claim_batch: int = 1
    poll_s: float = 2.0
    follow: bool = False


def new_worker() -> WorkerInfo:
    """This process as a worker: ``host:pid:random`` id, host name, pid, start time."""
    host, pid, now = socket.gethostname(), os.getpid(), time.time()
    return WorkerInfo(f"{host}:{pid}:{uuid.uuid4().hex[:6]}", host, pid, now, now)


class ClaimFeed:
    """Claimed jobs for one worker. Use as ``async with ClaimFeed(...) as feed``, then
    iterate it (once)."""

    def __init__(
        self,
        journal: FleetJournal,
        worker: WorkerInfo,
        settings: FeedSettings | None = None,
        *,
        bytes_sent: Callable[[], int] = lambda: 0,
        on_lost: Callable[[str], None] | None = None,
        on_left: Callable[[JobRecord, str], None] | None = None,
    ) -> None:
        self.journal = journal
        self.worker = worker
        self.settings = settings or FeedSettings()
        self.claimed = 0
        self._bytes_sent = bytes_sent
        self._on_lost = on_lost
        self._on_left = on_left
        self.left: dict[str, str] = {}  # job -> why this worker cannot read its file
        self._group: TaskGroup | None = None

    async def __aenter__(self) -> ClaimFeed:
        await self.journal.register_worker(self.worker)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._heartbeat)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._group is not None
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(None, None, None)
        with anyio.CancelScope(shield=True):
            await self._renew()  # a last heartbeat: the registry shows the final figures

    def __aiter__(self) -> AsyncIterator[JobRecord]:
        return self._jobs()

    async def _jobs(self) -> AsyncIterator[JobRecord]:
        settings = self.settings
        while True:
            worker_id = self.worker.worker_id
            wanted = max(1, settings.claim_batch - self.journal.held(worker_id))
            batch = await self.journal.claim(worker_id, wanted, settings.lease_s, skip=self.left)
            self.claimed += len(batch)
            for record in batch:
                if await self._leave_if_unreadable(record):
                    continue
                yield record
            if batch:
                continue
            if not settings.follow and await self._queue_is_empty():
                return
            await anyio.sleep(settings.poll_s)  # an idle worker polls for new jobs

    async def _leave_if_unreadable(self, record: JobRecord) -> bool:
        """Give the job back if its local file cannot be opened here (say why)."""
        if record.source_path is None or record.source_url is not None:
            return False
        try:
            async with await anyio.open_file(record.source_path, "rb"):
                return False
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
        await self.journal.release(record.job_id)
        self.left[record.job_id] = reason
        if self._on_left is not None:
            self._on_left(record, reason)
        return True

    async def _queue_is_empty(self) -> bool:
        """No runnable job left but those this worker cannot read."""
        counts = await self.journal.counts()
        runnable = sum(counts.by_state.get(state, 0) for state in RUNNABLE_STATES)
        for job_id in self.left:
            record = await self.journal.get(job_id)
            runnable -= record is not None and record.state in RUNNABLE_STATES
        return runnable <= 0

    async def _heartbeat(self) -> None:
        while True:
            await anyio.sleep(self.settings.lease_s / 3)
            await self._renew()

    async def _renew(self) -> None:
        lost = await self.journal.renew_leases(
            self.worker.worker_id, self.settings.lease_s, bytes_sent=self._bytes_sent()
        )
        if self._on_lost is not None:
            for job_id in lost:
                self._on_lost(job_id)


class SharedApiPacer(ApiPacer):
    """The API pacer of a fleet worker: besides this process's 429 pauses, every call
    takes a token from the bucket all workers share in the journal (one per API key)."""

    def __init__(self, journal: FleetJournal, key_id: str, bucket: TokenBucket) -> None:
        super().__init__()
        self._journal = journal
        self._key_id = key_id
        self._bucket = bucket
        self.waited_s = 0.0

    async def wait_turn(self) -> None:
        await super().wait_turn()
        delay = await self._journal.take_api_tokens(self._key_id, self._bucket)
        if delay > 0:
            self.waited_s += delay
            await anyio.sleep(delay)  # the shared budget is spent: wait for our token
