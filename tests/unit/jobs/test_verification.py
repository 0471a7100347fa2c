"""ListingVerifier: finished uploads confirmed by one listing call per batch (no sockets)."""

from __future__ import annotations

import anyio
import pytest

from vidlift.errors import ApiError
from vidlift.jobs import verification
from vidlift.jobs.verification import JobSlots, ListingVerifier
from vidlift.platforms.base import BatchListing, LibraryPage, RemoteVideo, VerifyBatch

pytestmark = pytest.mark.anyio

NEVER_S = 3600.0  # a bound no test reaches: a test that needs it times out instead


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeListing:
    """Batches as a platform would keep them; the listing answers from ``held``."""

    def __init__(self, members: dict[str, str], *, closed: bool = True) -> None:
        self.members = members  # video key -> batch name
        self.closed = closed
        self.held: dict[str, RemoteVideo] = {}
        self.calls: list[str] = []
        self.error: Exception | None = None
        self.verify_batch_size = 4

    def batch_of(self, video_key: str) -> VerifyBatch | None:
        name = self.members.get(video_key)
        if name is None:
            return None
        size = sum(1 for other in self.members.values() if other == name)
        return VerifyBatch(name, size, self.closed)

    async def list_batch(self, name: str) -> LibraryPage:
        self.calls.append(name)
        if self.error is not None:
            raise self.error
        videos = tuple(v for k, v in self.held.items() if self.members.get(k) == name)
        return LibraryPage(videos, len(videos))


def ready(key: str, size: int = 10, md5: str = "0" * 32) -> RemoteVideo:
    return RemoteVideo(key=key, status="ready", size_bytes=size, md5=md5)


async def confirm_all(
    verifier: ListingVerifier, keys: list[str], size: int = 10
) -> dict[str, RemoteVideo | None]:
    answers: dict[str, RemoteVideo | None] = {}

    async def one(key: str) -> None:
        answers[key] = await verifier.confirm(key, size)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for key in keys:
                group.start_soon(one, key)
    return answers


def test_the_listing_protocol_is_checkable() -> None:
    assert isinstance(FakeListing({}), BatchListing)


async def test_a_full_batch_is_confirmed_by_one_listing_call() -> None:
    listing = FakeListing({"a": "b0", "b": "b0", "c": "b0"})
    listing.held = {key: ready(key) for key in "abc"}
    verifier = ListingVerifier(listing, max_wait_s=NEVER_S)
    answers = await confirm_all(verifier, ["a", "b", "c"])
    assert listing.calls == ["b0"]
    assert answers == {key: ready(key) for key in "abc"}
    assert (verifier.calls, verifier.confirmed) == (1, 3)


async def test_a_batch_that_cannot_fill_is_listed_when_every_job_waits() -> None:
    listing = FakeListing({"a": "b0", "b": "b0", "c": "b0"}, closed=False)
    listing.held = {"a": ready("a"), "b": ready("b")}
    verifier = ListingVerifier(listing, max_wait_s=NEVER_S)
    verifier.job_started()
    verifier.job_started()
    verifier.no_more_jobs()
    answers = await confirm_all(verifier, ["a", "b"])
    assert listing.calls == ["b0"] and answers == {"a": ready("a"), "b": ready("b")}


async def test_a_batch_that_cannot_fill_is_listed_after_the_bounded_wait() -> None:
    listing = FakeListing({"a": "b0", "b": "b0"}, closed=False)
    listing.held = {"a": ready("a")}
    verifier = ListingVerifier(listing, max_wait_s=0.01)
    verifier.job_started()  # another job runs and might still join: only the wait ends it
    verifier.job_started()
    assert await confirm_all(verifier, ["a"]) == {"a": ready("a")}
    assert listing.calls == ["b0"]


async def test_a_feed_with_nothing_to_give_is_not_waited_for() -> None:
    listing = FakeListing({"a": "b0", "b": "b0"}, closed=False)
    listing.held = {"a": ready("a")}
    verifier = ListingVerifier(listing, max_wait_s=NEVER_S)
    verifier.job_started()  # a fleet worker: its feed may give more later, or not
    assert await confirm_all(verifier, ["a"]) == {"a": ready("a")}  # after IDLE_S
    assert listing.calls == ["b0"]


async def test_a_fleet_feed_that_says_it_has_nothing_now_is_not_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fleet worker's claim came back empty (every job left is another worker's): its
    jobs that all wait are listed at once, not after IDLE_S; a claim that got jobs again
    makes the next round wait for them."""
    monkeypatch.setattr(verification, "IDLE_S", NEVER_S)  # only the feed's word ends it
    listing = FakeListing({"a": "b0", "b": "b0", "c": "b1", "d": "b1"}, closed=False)
    listing.held = {"a": ready("a"), "c": ready("c")}
    verifier = ListingVerifier(listing, max_wait_s=NEVER_S)
    verifier.job_started()
    verifier.feed_idle(True)
    assert await confirm_all(verifier, ["a"]) == {"a": ready("a")}
    assert listing.calls == ["b0"]
    verifier.job_ended()
    verifier.feed_idle(False)  # jobs again: "c" must wait for its batch, or the feed
    verifier.job_started()

    async def confirm_c() -> None:
        assert await verifier.confirm("c", 10) == ready("c")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(confirm_c)
            await anyio.wait_all_tasks_blocked()
            assert listing.calls == ["b0"]  # not listed yet: the feed may still give jobs
            verifier.feed_idle(True)
    assert listing.calls == ["b0", "b1"]


async def test_a_video_the_listing_misses_or_holds_in_part_is_a_miss() -> None:
    listing = FakeListing({"a": "b0", "b": "b0", "c": "b0"})
    listing.held = {"a": ready("a"), "b": ready("b", size=4)}  # c absent, b short
    verifier = ListingVerifier(listing, max_wait_s=NEVER_S)
    answers = await confirm_all(verifier, ["a", "b", "c"])
    assert answers == {"a": ready("a"), "b": None, "c": None}
    assert verifier.confirmed == 1


async def test_a_video_without_a_batch_costs_no_call() -> None:
    listing = FakeListing({})
    verifier = ListingVerifier(listing, max_wait_s=NEVER_S)
    assert await verifier.confirm("zz", 10) is None
    assert listing.calls == []


async def test_a_failed_listing_is_a_miss_for_every_waiter_and_the_next_round_asks_again() -> None:
    listing = FakeListing({"a": "b0", "b": "b0"})
    listing.error = ApiError(http_status=502, code="BadGateway", message="down", call="list")
    verifier = ListingVerifier(listing, max_wait_s=NEVER_S)
    assert await confirm_all(verifier, ["a", "b"]) == {"a": None, "b": None}  # ask show
    assert listing.calls == ["b0"] and verifier.failed_calls == 1
    listing.error = None
    listing.held = {"a": ready("a"), "b": ready("b")}
    assert await confirm_all(verifier, ["a", "b"]) == {"a": ready("a"), "b": ready("b")}
    assert listing.calls == ["b0", "b0"]


async def test_a_bug_in_the_listing_reaches_every_waiter() -> None:
    listing = FakeListing({"a": "b0", "b": "b0"})
    listing.error = RuntimeError("a bug")
    verifier = ListingVerifier(listing, max_wait_s=NEVER_S)
    raised: list[BaseException] = []

    async def one(key: str) -> None:
        try:
            await verifier.confirm(key, 10)
        except RuntimeError as exc:
            raised.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(one, "a")
            group.start_soon(one, "b")
    assert len(raised) == 2 and listing.calls == ["b0"]


async def test_a_waiting_job_lends_its_slot() -> None:
    slots = JobSlots(1)
    listing = FakeListing({"a": "b0", "b": "b0"})
    listing.held = {"a": ready("a"), "b": ready("b")}
    verifier = ListingVerifier(listing, max_wait_s=NEVER_S, slots=slots)
    answers: dict[str, RemoteVideo | None] = {}

    async def job(key: str) -> None:
        await slots.acquire()  # one slot: b starts only while a waits for its listing
        try:
            answers[key] = await verifier.confirm(key, 10)
        finally:
            slots.release()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(job, "a")
            group.start_soon(job, "b")
    assert answers == {"a": ready("a"), "b": ready("b")} and listing.calls == ["b0"]
