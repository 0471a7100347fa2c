"""The batch view's rate, ETA and file states, with a hand-driven clock."""

from __future__ import annotations

import pytest

from vidlift.cli.view import BatchView, RateMeter, human_duration
from vidlift.jobs.events import (
    JobDone,
    JobFailed,
    JobProcessing,
    JobProgress,
    JobRetrying,
    JobStarted,
    JobVerifying,
)

MiB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_summary_every_ten_seconds_shows_the_real_rate_and_eta() -> None:
    # The bug: a log summary came every 10 s, the rate window was 10 s, so each summary
    # found one sample in its window and printed rate 0 / ETA None.
    clock = Clock()
    view = BatchView(clock=clock)
    view.total_jobs, view.total_bytes = 1, 100 * MiB
    view.apply(JobStarted("a", "a.mp4", 100 * MiB, resumed=False))
    summaries = []
    for second in range(1, 31):
        clock.now += 1
        view.apply(JobProgress("a", second * MiB, 100 * MiB))
        if second % 10 == 0:
            clock.now += 0.01
            summaries.append(view.summary())
    for summary in summaries:
        assert summary["rate_bytes_per_s"] == pytest.approx(MiB, rel=0.01)
    assert summaries[-1]["eta_s"] == pytest.approx(70, abs=1)
    assert summaries[-1]["eta"] == "1m10s"


def test_summaries_alone_still_measure_a_rate() -> None:
    # Nothing but the summary itself samples the counter: the oldest kept sample is the
    # last one before the window, so the rate spans the whole interval.
    clock = Clock()
    view = BatchView(clock=clock)
    view.total_bytes = 10 * MiB
    view.apply(JobStarted("a", "a.mp4", 10 * MiB, resumed=False))
    view.summary()
    view.sent_bytes = 5 * MiB
    clock.now += 10.5
    assert view.summary()["rate_bytes_per_s"] == pytest.approx(5 * MiB / 10.5, rel=0.01)


def test_the_rate_falls_to_zero_when_nothing_moves() -> None:
    meter = RateMeter(window_s=10)
    meter.add(0, 0)
    meter.add(5, 5 * MiB)
    assert meter.rate(5) == pytest.approx(MiB)
    meter.add(30, 5 * MiB)
    assert meter.rate(30) == 0


def test_a_resumed_file_does_not_count_what_an_earlier_run_sent() -> None:
    clock = Clock()
    view = BatchView(clock=clock)
    view.apply(JobStarted("a", "a.mp4", 100 * MiB, resumed=True))
    view.apply(JobProgress("a", 60 * MiB, 100 * MiB))  # acked before this run
    view.apply(JobProgress("a", 61 * MiB, 100 * MiB))
    assert view.sent_bytes == MiB
    view.apply(JobProgress("a", 60 * MiB, 100 * MiB))  # a segment sent again
    view.apply(JobProgress("a", 62 * MiB, 100 * MiB))
    assert view.sent_bytes == 3 * MiB


def test_file_states_for_the_display() -> None:
    clock = Clock()
    view = BatchView(clock=clock)
    view.apply(JobStarted("a", "a.mp4", MiB, resumed=False))
    assert view.active["a"].describe(clock.now) == "starting"
    view.apply(JobProgress("a", 1, MiB))
    assert view.active["a"].describe(clock.now) == "sending"
    view.apply(JobRetrying("a", "connection reset", 4.0))
    assert view.active["a"].describe(clock.now) == "retrying in 4s"
    clock.now += 3
    assert view.active["a"].describe(clock.now) == "retrying in 1s"
    view.apply(JobVerifying("a"))
    assert view.active["a"].describe(clock.now) == "verifying"
    view.apply(JobProcessing("a"))
    assert view.active["a"].describe(clock.now) == "waiting for processing"
    view.apply(JobDone("a", "a.mp4", "key", MiB))
    assert not view.active and view.done_jobs == 1 and view.retries == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0, "0s"), (42.4, "42s"), (725, "12m05s"), (4320, "1h12m"), (183600, "2d03h")],
)
def test_human_duration(seconds: float | None, text: str) -> None:
    assert human_duration(seconds) == text


def test_the_files_in_flight_come_from_the_batch_itself() -> None:
    from vidlift.config import Limits
    from vidlift.jobs.events import BatchStarted

    view = BatchView(clock=Clock())
    view.apply(BatchStarted(Limits().resolved(256 * 1024, 8 * MiB)))
    assert view.summary()["concurrency"] == 64


def test_a_failure_names_its_path_once() -> None:
    """An error about a source starts with the source's name: the display says it once."""
    view = BatchView()
    url = "http://cdn.example/a.mp4"
    view.apply(JobStarted("j1", url, 10, False))
    view.apply(JobFailed("j1", url, f"{url}: not found on the origin (HTTP 404)"))
    assert list(view.failures) == [f"{url}: not found on the origin (HTTP 404)"]


def test_a_new_files_rate_is_known_from_its_first_report() -> None:
    # The bug: a file's meter began at its first progress report, so the display showed
    # a file 26 % done at "0 B/s" until its second report.
    clock = Clock()
    view = BatchView(clock=clock)
    view.apply(JobStarted("a", "a.mp4", 8 * MiB, resumed=False))
    clock.now += 2
    view.apply(JobProgress("a", 2 * MiB, 8 * MiB))
    assert view.active["a"].meter.rate(clock.now) == pytest.approx(MiB)
