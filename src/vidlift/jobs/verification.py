"""Finished uploads confirmed in batches: one listing call for many videos (jobs layer).

A verified file used to cost a create and a show: two API calls, so a library of small
files moved at most 30 files a minute on a quota of 60 calls. A platform that lists by
batch (:class:`~vidlift.platforms.base.BatchListing`: v1 and v2) tags each video it creates
with a batch name; a job whose upload finished waits here, in its ``verifying`` state,
and the first waiter of a batch sends one listing call for all of them when

- every video created into the batch is waiting (and the batch takes no more), or
- every job of the run is waiting here and no other can start (the feed is exhausted,
  or has nothing to give now: a fleet worker's last claim came back empty, or the run
  holds all the jobs it can), or no job started for ``IDLE_S`` (a feed that cannot say
  it has nothing to give), or
- ``max_wait_s`` has passed since it began to wait (a slow or failed member).

The answer confirms each waiter's size and md5; a video the listing does not show whole
is reported as a miss (None), and the job loop asks videos/show as before. A listing
call that fails (any :class:`~vidlift.errors.VidliftError`) is a miss for all its
waiters: the listing only saves calls, so each job asks videos/show, and its own loop
looks that call's failure up in the decision table. Nothing here retries or decides
what an error means.

:class:`JobSlots` lets a waiting job give its place up, so that the run starts other
jobs meanwhile and a batch fills even at low concurrency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import anyio

from vidlift.errors import VidliftError
from vidlift.jobs.settings import DEFAULT_BATCH_SIZE, DEFAULT_MAX_WAIT_S
from vidlift.platforms.base import BatchListing, RemoteVideo, VerifyBatch

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_MAX_WAIT_S", "IDLE_S", "JobSlots", "ListingVerifier"]

IDLE_S = 1.0  # every job waits and none started for this long: list now


class JobSlots:
    """At most ``limit`` jobs at work; a job waiting for its listing gives its slot up for
    good (what it does after the answer is a journal write), so that waiting never
    depends on getting a slot back."""

    def __init__(self, limit: int) -> None:
        self._limiter = anyio.CapacityLimiter(max(1, limit))
        self._holding: ContextVar[bool] = ContextVar(f"job_slot_{id(self)}", default=False)

    async def acquire(self) -> None:
        """Wait for a slot (a worker, before it takes a job)."""
        await self._limiter.acquire()
        self._holding.set(True)

    def release(self) -> None:
        """Give the slot back, if this task still holds it (the job ended)."""
        if self._holding.get():
            self._holding.set(False)
            self._limiter.release()

    @asynccontextmanager
    async def lent(self) -> AsyncIterator[None]:
        """Let another job work while this one waits (the slot is not taken back)."""
        self.release()
        yield


@dataclass(eq=False)
class _Round:
    """One listing call of one batch and the jobs waiting for it."""

    name: str
    waiting: int = 0
    ready: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)
    found: dict[str, RemoteVideo] | None = None
    error: BaseException | None = None


class ListingVerifier:
    """Confirms finished uploads through their batch's listing (see the module doc)."""

    def __init__(
        self,
        listing: BatchListing,
        *,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        slots: JobSlots | None = None,
        capacity: int | None = None,
    ) -> None:
        self._listing = listing
        self._max_wait_s = max_wait_s
        self._slots = slots
        self._rounds: dict[str, _Round] = {}
        self._capacity = capacity  # the most jobs the run holds at once (None: no bound)
        self._fed_all = False
        self._feed_idle = False  # the feed has nothing to give now (it may later)
        self._running = 0
        self._waiting = 0
        self._changed = anyio.Event()  # set (and replaced) at every start, end or arrival
        self.calls = 0  # listing calls sent
        self.failed_calls = 0  # of which failed (their waiters asked videos/show)
        self.confirmed = 0  # videos they confirmed

    def no_more_jobs(self) -> None:
        """The run will start no other job (its feed is exhausted)."""
        self._fed_all = True
        self._release_if_idle()
        self._notify()

    def feed_idle(self, idle: bool) -> None:
        """Whether the feed has nothing to give now (True: a fleet worker's claim came
        back empty, every job left is another worker's; False: it got jobs again). Jobs
        that all wait are then listed at once, not after ``IDLE_S``."""
        self._feed_idle = idle
        self._release_if_idle()
        self._notify()

    def job_started(self) -> None:
        """A job of the run began (it may come to wait here)."""
        self._running += 1
        self._notify()

    def job_ended(self) -> None:
        """A job of the run ended, whatever its outcome."""
        self._running -= 1
        self._release_if_idle()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def confirm(self, video_key: str, size_bytes: int) -> RemoteVideo | None:
        """What the platform holds for ``video_key``, from its batch's listing; None when
        the video has no batch, the listing call failed, or it does not show the video
        whole: then ask videos/show."""
        batch = self._listing.batch_of(video_key)
        if batch is None:
            return None
        round_ = self._rounds.get(batch.name)
        leader = round_ is None
        if round_ is None:
            round_ = self._rounds[batch.name] = _Round(batch.name)
        round_.waiting += 1
        self._waiting += 1
        try:
            self._release_if_full(round_, batch)
            self._release_if_idle()
            self._notify()
            async with self._lent():
                if leader:
                    await self._lead(round_)
                else:
                    await round_.done.wait()
        finally:
            self._waiting -= 1
        if round_.error is not None:
            raise round_.error
        video = (round_.found or {}).get(video_key)
        if video is None or not video.holds(size_bytes):
            return None
        self.confirmed += 1
        return video

    async def _lead(self, round_: _Round) -> None:
        try:
            await self._await_batch(round_)
            if self._rounds.get(round_.name) is round_:
                del self._rounds[round_.name]  # who comes now waits for the next call
            self.calls += 1
            try:
                page = await self._listing.list_batch(round_.name)
            except VidliftError:
                self.failed_calls += 1
                return  # a miss for every waiter: each asks videos/show
            round_.found = {video.key: video for video in page.videos}
        except anyio.get_cancelled_exc_class():
            raise  # the others find no answer and ask videos/show
        except BaseException as exc:  # a bug: every waiter sees it
            round_.error = exc
            raise
        finally:
            if self._rounds.get(round_.name) is round_:
                del self._rounds[round_.name]
            round_.done.set()

    async def _await_batch(self, round_: _Round) -> None:
        """Until the round is ready, or nothing happens for IDLE_S while every job
        waits, or max_wait_s."""
        with anyio.move_on_after(self._max_wait_s):
            while not round_.ready.is_set():
                changed = self._changed
                if self._waiting < self._running:
                    await changed.wait()  # a job at work may still join
                    continue
                with anyio.move_on_after(IDLE_S) as idle:
                    await changed.wait()
                if idle.cancelled_caught:
                    return  # every job waits and none started meanwhile

    @asynccontextmanager
    async def _lent(self) -> AsyncIterator[None]:
        if self._slots is None:
            yield
        else:
            async with self._slots.lent():
                yield

    def _release_if_full(self, round_: _Round, batch: VerifyBatch) -> None:
        if batch.closed and round_.waiting >= batch.members:
            round_.ready.set()
            self._notify()

    def _release_if_idle(self) -> None:
        """Every job of the run waits here and no other can start: nobody could join a
        batch any more, list now."""
        if not self._rounds or self._waiting < self._running:
            return
        full = self._capacity is not None and self._running >= self._capacity
        if self._fed_all or self._feed_idle or full:
            for round_ in self._rounds.values():
                round_.ready.set()
            self._notify()
