"""Finished uploads confirmed in batches: one listing call for many videos (jobs layer).

A verified file used to cost a create and a show: two API calls, so a library of small
files moved at most 30 files a minute on a quota of 60 calls. A platform that lists by
batch (:class:`~vidlift.platforms.base.BatchListing`, v1) tags each video it creates
with a batch name; a job whose upload finished waits here, in its ``verifying`` state,
and the first waiter of a batch sends one listing call for all of them when

- every video created into the batch is waiting (and the batch takes no more), or
- every job of the run is waiting here (nothing else could join), or
- ``max_wait_s`` has passed since it began to wait (a slow or failed member).

The answer confirms each waiter's size and md5; a video the listing does not show whole
is reported as a miss (None), and the job loop asks videos/show as before. Nothing here
retries: a failed listing call is raised to every waiter of it, and each job's loop
looks it up in the decision table (a retry comes back here and starts a new round).

:class:`JobSlots` lets a waiting job give its place up, so that the run starts other
jobs meanwhile and a batch fills even at low concurrency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from vidlift.platforms.base import BatchListing, RemoteVideo, VerifyBatch

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_MAX_WAIT_S", "JobSlots", "ListingVerifier"]

DEFAULT_BATCH_SIZE = 50  # a create plus 1/50 of a listing: 1.02 calls per verified file
DEFAULT_MAX_WAIT_S = 30.0


class JobSlots:
    """At most ``limit`` jobs at work; a job waiting for its listing lends its slot."""

    def __init__(self, limit: int) -> None:
        self._limiter = anyio.CapacityLimiter(max(1, limit))

    async def acquire(self) -> None:
        """Wait for a slot (a worker, before it takes a job)."""
        await self._limiter.acquire()

    def release(self) -> None:
        """Give the slot back (the job ended)."""
        self._limiter.release()

    @asynccontextmanager
    async def lent(self) -> AsyncIterator[None]:
        """Let another job work while this one waits; take a slot again afterwards (even
        when cancelled, so that the worker's release stays balanced)."""
        self._limiter.release()
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await self._limiter.acquire()


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
        self._running = 0
        self._waiting = 0
        self.calls = 0  # listing calls sent
        self.confirmed = 0  # videos they confirmed

    def no_more_jobs(self) -> None:
        """The run will start no other job (its feed is exhausted)."""
        self._fed_all = True
        self._release_if_idle()

    def job_started(self) -> None:
        """A job of the run began (it may come to wait here)."""
        self._running += 1

    def job_ended(self) -> None:
        """A job of the run ended, whatever its outcome."""
        self._running -= 1
        self._release_if_idle()

    async def confirm(self, video_key: str, size_bytes: int) -> RemoteVideo | None:
        """What the platform holds for ``video_key``, from its batch's listing; None when
        the video has no batch or the listing does not show it whole (ask videos/show).
        Raises what the listing call raised."""
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
            with anyio.move_on_after(self._max_wait_s):
                await round_.ready.wait()
            if self._rounds.get(round_.name) is round_:
                del self._rounds[round_.name]  # who comes now waits for the next call
            self.calls += 1
            page = await self._listing.list_batch(round_.name)
            round_.found = {video.key: video for video in page.videos}
        except anyio.get_cancelled_exc_class():
            raise  # the others find no answer and ask videos/show
        except BaseException as exc:
            round_.error = exc
            raise
        finally:
            if self._rounds.get(round_.name) is round_:
                del self._rounds[round_.name]
            round_.done.set()

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

    def _release_if_idle(self) -> None:
        """Every job of the run waits here and no other can start: nobody could join a
        batch any more, list now."""
        if not self._rounds or self._waiting < self._running:
            return
        full = self._capacity is not None and self._running >= self._capacity
        if self._fed_all or full:
            for round_ in self._rounds.values():
                round_.ready.set()
