"""A worker's job feed for fleet mode: jobs claimed from a shared journal, with their
leases renewed in the background (jobs layer).

:class:`ClaimFeed` is an async iterator of claimed jobs that plugs into the batch runner
in place of ``journal.iter_jobs(RUNNABLE_STATES)``: the runner's one decision loop does
the rest, unchanged. While it is open, a heartbeat renews every lease the worker holds
every ``lease_s / 3`` seconds and updates the worker registry (a claim that returns
jobs writes the count held at once); closing the feed sends a last heartbeat and marks
the worker ended in the registry (``vidlift status`` lists it as ended). The feed ends when no
runnable job of the manifest is left anywhere in the journal (jobs held by other
workers count: a worker that dies leaves its jobs to be taken over when their leases
expire; jobs whose rows left the manifest do not: they are never claimed), or never
with ``follow``.

Sources must be readable on every host; a worker that cannot open a claimed job's local
file gives the job back at once, never claims it again, and tells ``on_left`` why: the
job is left for a worker that can read it, not failed. Its feed ends when the only
runnable jobs left are such jobs.

A fleet-wide bandwidth limit (``bwlimit_total``) is shared the same way as the leases
are kept: at each heartbeat the worker counts the workers sending in the registry
(holding jobs, with a heartbeat within one lease) and sets its own throttle to its share,
:class:`BandwidthShare`. A worker joining or leaving changes the others' shares within
``lease_s / 3``; no byte counter is kept in the database.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

import anyio
from anyio.abc import TaskGroup

from vidlift.client.throttle import Throttle
from vidlift.jobs.pacing import ApiPacer
from vidlift.jobs.settings import FeedSettings
from vidlift.journal.base import JobRecord
from vidlift.journal.leases import FleetJournal, TokenBucket, WorkerInfo

__all__ = [
    "BandwidthShare",
    "ClaimFeed",
    "FeedSettings",
    "IdleReporting",
    "SharedApiPacer",
    "new_worker",
]


@runtime_checkable
class IdleReporting(Protocol):
    """A job feed that says when it has nothing to give now, and when it has again
    (``on_idle(True)`` / ``on_idle(False)``): the batch runner's verifier then lists
    the batch of jobs that all wait at once (:mod:`vidlift.jobs.verification`)."""

    on_idle: Callable[[bool], None] | None


class BandwidthShare:
    """This worker's part of a fleet-wide bandwidth limit: ``total / live workers``, and
    never more than its own cap (``--bwlimit``). It sets the rate of ``throttle``, the
    one every upload of the worker draws from."""

    def __init__(self, total_bytes_per_s: int, throttle: Throttle, *, own_cap: int | None) -> None:
        self.total = total_bytes_per_s
        self.own_cap = own_cap
        self.throttle = throttle
        self.workers = 1

    def update(self, workers: list[WorkerInfo], *, own_id: str, now: float, lease_s: float) -> bool:
        """Count the workers sending now: this one, and every other that holds jobs,
        beat within ``lease_s`` and has not ended (an idle or finished worker sends
        nothing, a dead one stops counting when its lease would expire); set the rate.
        True when the number of workers sharing the limit changed."""
        others = sum(
            1
            for w in workers
            if w.worker_id != own_id
            and w.ended_at is None
            and w.jobs_held > 0
            and w.heartbeat_at >= now - lease_s
        )
        changed, self.workers = others + 1 != self.workers, others + 1
        self.throttle.set_rate(self.rate)
        return changed

    @property
    def rate(self) -> int:
        """Bytes a second this worker may send now."""
        share = max(1, self.total // self.workers)
        return share if self.own_cap is None else min(share, self.own_cap)


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
        share: BandwidthShare | None = None,
        on_share: Callable[[BandwidthShare], None] | None = None,
    ) -> None:
        self.journal = journal
        self.worker = worker
        self.settings = settings or FeedSettings()
        self.claimed = 0
        self._bytes_sent = bytes_sent
        self._on_lost = on_lost
        self._on_left = on_left
        self.left: dict[str, str] = {}  # job -> why this worker cannot read its file
        self._share = share
        self._on_share = on_share
        self._group: TaskGroup | None = None
        self.on_idle: Callable[[bool], None] | None = None  # see IdleReporting

    async def __aenter__(self) -> ClaimFeed:
        await self.journal.register_worker(self.worker)
        await self._reshare(first=True)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._beat)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._group is not None
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(None, None, None)
        with anyio.CancelScope(shield=True):
            await self.heartbeat()  # a last heartbeat: the registry shows the final figures
            await self.journal.retire_worker(self.worker.worker_id)  # and that it ended

    def __aiter__(self) -> AsyncIterator[JobRecord]:
        return self._jobs()

    async def _jobs(self) -> AsyncIterator[JobRecord]:
        settings = self.settings
        while True:
            worker_id = self.worker.worker_id
            wanted = max(1, settings.claim_batch - self.journal.held(worker_id))
            batch = await self.journal.claim(worker_id, wanted, settings.lease_s, skip=self.left)
            self.claimed += len(batch)
            if self.on_idle is not None:
                self.on_idle(not batch)
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
        """No runnable job of the manifest left but those this worker cannot read."""
        return await self.journal.runnable_left(skip=self.left) <= 0

    async def _beat(self) -> None:
        while True:
            await anyio.sleep(self.settings.lease_s / 3)
            await self.heartbeat()

    async def heartbeat(self) -> None:
        """Renew this worker's leases, update the registry and its bandwidth share now
        (the feed does it every ``lease_s / 3`` while open)."""
        lost = await self.journal.renew_leases(
            self.worker.worker_id, self.settings.lease_s, bytes_sent=self._bytes_sent()
        )
        if self._on_lost is not None:
            for job_id in lost:
                self._on_lost(job_id)
        await self._reshare()

    async def _reshare(self, *, first: bool = False) -> None:
        """Set this worker's share of the fleet-wide bandwidth limit (if there is one)."""
        if self._share is None:
            return
        workers = await self.journal.workers()
        changed = self._share.update(
            workers, own_id=self.worker.worker_id, now=time.time(), lease_s=self.settings.lease_s
        )
        if (changed or first) and self._on_share is not None:
            self._on_share(self._share)


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
