"""Fleet mode's journal-level types: leases on jobs, the worker registry and the shared
API token bucket (journal layer).

:class:`WorkQueue` is what a worker needs of a journal besides :class:`Journal`:
``claim`` runnable jobs under a lease, renew the leases by heartbeat, list the workers,
and take API tokens from a bucket every worker shares. :class:`PostgresJournal` does it
for many hosts (``SELECT ... FOR UPDATE SKIP LOCKED``, a fencing token per lease);
:class:`LeaseBook` does it inside one process for :class:`MemoryJournal` and
:class:`SqliteJournal`, where the process is the only worker (a SQLite journal has one
writer), so there is nobody to fence.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, replace
from typing import Protocol, cast

from vidlift.journal.base import JobRecord, Journal
from vidlift.journal.state import RUNNABLE_STATES

__all__ = [
    "FleetJournal",
    "Lease",
    "LeaseBook",
    "OneProcessQueue",
    "TokenBucket",
    "WorkQueue",
    "WorkerInfo",
    "api_key_id",
    "runnable_outside",
]


def api_key_id(api_key: str) -> str:
    """The bucket's name for an API key: a digest, so the key is not stored as such."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on a job. ``generation`` is the fencing token: it grows by one at
    every claim, and every write checks it."""

    job_id: str
    worker_id: str
    generation: int


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker as the registry knows it (times are Unix seconds). ``ended_at`` is
    when the worker said it ended (:meth:`WorkQueue.retire_worker`), None while it runs
    (or if it died without saying so: its heartbeat then grows old)."""

    worker_id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    jobs_held: int = 0
    bytes_sent: int = 0
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """A per-key API budget: ``rate_per_s`` tokens a second, up to ``burst``."""

    rate_per_s: float
    burst: float


class WorkQueue(Protocol):
    """Claims, leases, workers and the shared API budget (see the module docstring)."""

    async def register_worker(self, worker: WorkerInfo) -> None:
        """Add (or refresh) a worker in the registry (not ended)."""
        ...

    async def retire_worker(self, worker_id: str) -> None:
        """Mark the worker ended in the registry (after its last heartbeat): ``workers``
        lists it with ``ended_at`` set, so nobody takes it for a live one."""
        ...

    async def claim(
        self, worker_id: str, n: int, lease_s: float, *, skip: Collection[str] = ()
    ) -> list[JobRecord]:
        """Up to ``n`` runnable jobs nobody holds (or whose lease expired), in queue
        order, leased to ``worker_id`` for ``lease_s`` seconds; never the jobs in ``skip``
        (those whose files this worker cannot read: left to the others). A claim that
        returns jobs writes the worker's ``jobs_held`` to the registry at once (not only
        at the next heartbeat)."""
        ...

    async def renew_leases(self, worker_id: str, lease_s: float, *, bytes_sent: int) -> list[str]:
        """Extend every lease this worker holds; heartbeat; return the jobs it lost."""
        ...

    async def release(self, job_id: str) -> None:
        """Give a held job back to the queue now (a stopped worker)."""
        ...

    def held(self, worker_id: str) -> int:
        """How many jobs this journal holds for ``worker_id``: claimed, not yet settled,
        given back or lost (no I/O; a worker claims only for its free slots)."""
        ...

    async def workers(self) -> list[WorkerInfo]:
        """Every registered worker, most recent heartbeat first."""
        ...

    async def take_api_tokens(self, key_id: str, bucket: TokenBucket, n: int = 1) -> float:
        """Take ``n`` tokens; return how long to wait before using them (0: now)."""
        ...

    async def expired_leases(self) -> int:
        """Runnable jobs whose lease expired and nobody took over yet (stuck leases)."""
        ...

    async def set_absent(self, job_ids: Collection[str]) -> None:
        """The jobs whose rows are no longer in the manifest, as its last ingest read it
        (``vidlift enqueue``, ``vidlift run``): ``claim`` and ``runnable_left`` skip them
        (a job already held goes on); every other job is the manifest's again (a row put
        back is claimed again). Nothing is deleted."""
        ...

    def iter_absent(self) -> AsyncIterator[JobRecord]:
        """The jobs :meth:`set_absent` named, in queue order."""
        ...

    async def runnable_left(self, skip: Collection[str] = ()) -> int:
        """Runnable jobs of the manifest, held or not, but those in ``skip`` (a worker
        with none left ends)."""
        ...

    async def keep_library(self, tag: str) -> str:
        """Store ``tag`` as the library's tag unless the journal holds one already;
        return the one it holds (the first enqueue's): every worker tags the videos it
        creates with it and surveys the platform by it."""
        ...

    async def library(self) -> str | None:
        """The library's tag :meth:`keep_library` stored, None before any."""
        ...


class FleetJournal(Journal, WorkQueue, Protocol):
    """A journal workers can share: the :class:`Journal` and the :class:`WorkQueue`."""


class LeaseBook:
    """Leases, workers and buckets held in one process (memory and SQLite journals).

    ``is_runnable`` and ``owner`` are not checked against other processes: a SQLite
    journal has one writer, so this process is the only worker.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._leases: dict[str, tuple[Lease, float]] = {}  # job -> (lease, expires at)
        self._generations: dict[str, int] = {}
        self._workers: dict[str, WorkerInfo] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, refilled at)
        self._claimed: dict[str, set[str]] = {}  # worker -> jobs it claimed since its renewal
        self.absent: frozenset[str] = frozenset()  # jobs no longer in the manifest
        self.library: str | None = None  # the library's tag (this process only)

    def free(self, job_id: str, worker_id: str) -> bool:
        """Whether ``worker_id`` may claim the job: it is in the manifest, nobody holds
        a live lease on it, and it is not this worker's own (a worker never claims a job
        it holds again)."""
        if job_id in self.absent:
            return False
        held = self._leases.get(job_id)
        return held is None or (held[1] <= self._clock() and held[0].worker_id != worker_id)

    def take(self, record: JobRecord, worker_id: str, lease_s: float) -> None:
        """Lease a free job to ``worker_id`` (its registry entry counts it at once)."""
        generation = self._generations.get(record.job_id, 0) + 1
        self._generations[record.job_id] = generation
        lease = Lease(record.job_id, worker_id, generation)
        self._leases[record.job_id] = (lease, self._clock() + lease_s)
        self._claimed.setdefault(worker_id, set()).add(record.job_id)
        worker = self._workers.get(worker_id)
        if worker is not None:
            self._workers[worker_id] = replace(worker, jobs_held=self.held(worker_id))

    def held(self, worker_id: str) -> int:
        """How many jobs ``worker_id`` holds a lease on."""
        return sum(lease.worker_id == worker_id for lease, _ in self._leases.values())

    def drop(self, job_id: str) -> None:
        """The job is finished or given back: no lease any more."""
        self._leases.pop(job_id, None)

    def renew(self, worker_id: str, lease_s: float, bytes_sent: int) -> list[str]:
        """Extend the worker's leases (even expired ones nobody took: the fencing token
        is unchanged); return the jobs it lost to another worker."""
        now = self._clock()
        lost: list[str] = []
        held = 0
        for job_id, (lease, _) in list(self._leases.items()):
            if lease.worker_id == worker_id:
                self._leases[job_id] = (lease, now + lease_s)
                held += 1
        for job_id in self._claimed.pop(worker_id, set()):
            current = self._leases.get(job_id)
            if current is not None and current[0].worker_id != worker_id:
                lost.append(job_id)
        self._claimed[worker_id] = {
            job_id for job_id, (lease, _) in self._leases.items() if lease.worker_id == worker_id
        }
        worker = self._workers.get(worker_id)
        if worker is not None:
            self._workers[worker_id] = replace(
                worker, heartbeat_at=time.time(), jobs_held=held, bytes_sent=bytes_sent
            )
        return sorted(lost)

    def register(self, worker: WorkerInfo) -> None:
        """Add (or refresh) a worker (not ended)."""
        self._workers[worker.worker_id] = replace(worker, ended_at=None)

    def retire(self, worker_id: str) -> None:
        """Mark a worker ended now."""
        worker = self._workers.get(worker_id)
        if worker is not None:
            self._workers[worker_id] = replace(worker, ended_at=time.time())

    def workers(self) -> list[WorkerInfo]:
        """The registered workers, most recent heartbeat first."""
        return sorted(self._workers.values(), key=lambda w: w.heartbeat_at, reverse=True)

    def take_tokens(self, key_id: str, bucket: TokenBucket, n: int) -> float:
        """Token bucket with debt: tokens may go below zero; the taker waits it off."""
        now = self._clock()
        tokens, refilled_at = self._buckets.get(key_id, (bucket.burst, now))
        tokens = min(bucket.burst, tokens + (now - refilled_at) * bucket.rate_per_s) - n
        self._buckets[key_id] = (tokens, now)
        return max(0.0, -tokens / bucket.rate_per_s)


async def runnable_outside(journal: Journal, excluded: Collection[str]) -> int:
    """Runnable jobs of ``journal`` but those in ``excluded`` (one process's
    ``runnable_left``: the excluded jobs are few, each is looked up)."""
    counts = await journal.counts()
    runnable = sum(counts.by_state.get(state, 0) for state in RUNNABLE_STATES)
    for job_id in set(excluded):
        record = await journal.get(job_id)
        runnable -= record is not None and record.state in RUNNABLE_STATES
    return runnable


class OneProcessQueue:
    """The :class:`WorkQueue` of a journal that one process uses (memory, SQLite), kept
    in its :class:`LeaseBook` (``_leases``): everything but ``claim``, which reads the
    journal's own store."""

    _leases: LeaseBook

    def _journal(self) -> Journal:
        return cast("Journal", self)

    async def register_worker(self, worker: WorkerInfo) -> None:
        self._leases.register(worker)

    async def retire_worker(self, worker_id: str) -> None:
        self._leases.retire(worker_id)

    async def renew_leases(self, worker_id: str, lease_s: float, *, bytes_sent: int) -> list[str]:
        return self._leases.renew(worker_id, lease_s, bytes_sent)

    async def release(self, job_id: str) -> None:
        self._leases.drop(job_id)

    def held(self, worker_id: str) -> int:
        return self._leases.held(worker_id)

    async def workers(self) -> list[WorkerInfo]:
        return self._leases.workers()

    async def take_api_tokens(self, key_id: str, bucket: TokenBucket, n: int = 1) -> float:
        return self._leases.take_tokens(key_id, bucket, n)

    async def expired_leases(self) -> int:
        return 0  # one process: its leases end with it

    async def set_absent(self, job_ids: Collection[str]) -> None:
        self._leases.absent = frozenset(job_ids)  # one process: kept in it

    async def iter_absent(self) -> AsyncIterator[JobRecord]:
        if not self._leases.absent:
            return
        async for record in self._journal().iter_jobs():
            if record.job_id in self._leases.absent:
                yield record

    async def runnable_left(self, skip: Collection[str] = ()) -> int:
        return await runnable_outside(self._journal(), self._leases.absent | set(skip))

    async def keep_library(self, tag: str) -> str:
        if self._leases.library is None:  # one process: kept in it
            self._leases.library = tag
        return self._leases.library

    async def library(self) -> str | None:
        return self._leases.library
