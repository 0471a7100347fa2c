"""What a running batch looks like, folded from its events (cli layer).

:class:`BatchView` keeps the totals, the files in flight with their state, and a
:class:`RateMeter` of the bytes sent, so that every display (the live one, the log lines,
the metrics) reads the same rate and ETA. No rich here: log-only runs do not import it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from vidlift.cli.wording import without_prefix
from vidlift.jobs.events import (
    BatchEvent,
    BatchRetrying,
    BatchStarted,
    JobDone,
    JobFailed,
    JobInterrupted,
    JobProcessing,
    JobProgress,
    JobRetrying,
    JobStarted,
    JobVerifying,
    ManifestProblemFound,
)

__all__ = ["BatchView", "FileState", "FileView", "RateMeter", "human_bytes", "human_duration"]

RATE_WINDOW_S = 10.0
_FILE_RATE_WINDOW_S = 5.0
_SAMPLE_GAP_S = 0.2  # samples closer than this replace each other (bounded memory)


def human_bytes(count: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def human_duration(seconds: float | None) -> str:
    """42 -> '42s', 725 -> '12m05s', 4320 -> '1h12m', 183600 -> '2d03h'; None -> '-'."""
    if seconds is None:
        return "-"
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass(slots=True)
class RateMeter:
    """Bytes per second over the last ``window_s``, from samples of a growing counter.

    The rate is measured up to *now*, so it falls to 0 when nothing moves. The oldest
    sample kept is the last one at or before the window's start, so a reader that asks
    only every ``window_s`` (a log summary) still gets a real rate.
    """

    window_s: float = RATE_WINDOW_S
    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, now: float, total: int) -> None:
        """Record the counter's value at ``now``."""
        samples = self.samples
        if len(samples) >= 2 and now - samples[-2][0] < _SAMPLE_GAP_S:
            samples[-1] = (now, total)
        else:
            samples.append((now, total))
        while len(samples) >= 2 and samples[1][0] <= now - self.window_s:
            samples.popleft()

    def rate(self, now: float) -> float:
        """Bytes per second; 0 before two moments are known."""
        if not self.samples:
            return 0.0
        (t0, b0), (_, b1) = self.samples[0], self.samples[-1]
        return max(0.0, (b1 - b0) / (now - t0)) if now > t0 else 0.0


class FileState(StrEnum):
    """What a file in flight is doing, as a display shows it."""

    STARTING = "starting"
    SENDING = "sending"
    VERIFYING = "verifying"
    PROCESSING = "waiting for processing"  # verified; the platform is still processing it
    RETRYING = "retrying"


@dataclass(slots=True)
class FileView:
    """One file in flight."""

    path: str
    size_bytes: int
    done_bytes: int = 0
    state: FileState = FileState.STARTING
    retry_at: float = 0.0  # when state is RETRYING: the clock's time of the next try
    last_error: str = ""
    counted: int | None = 0  # bytes already counted as sent this run (None: not yet known)
    meter: RateMeter = field(default_factory=lambda: RateMeter(_FILE_RATE_WINDOW_S))

    def describe(self, now: float) -> str:
        """'sending', 'verifying', 'waiting for processing', 'retrying in 4s', 'resuming'."""
        if self.state is FileState.RETRYING:
            if now >= self.retry_at:
                return "resuming"
            return f"retrying in {human_duration(self.retry_at - now)}"
        return self.state.value


@dataclass(slots=True)
class BatchView:
    """Running totals built from the journal's counts and the batch's events."""

    clock: Callable[[], float] = time.monotonic
    total_jobs: int = 0
    total_bytes: int = 0
    done_jobs: int = 0
    done_bytes: int = 0
    failed_jobs: int = 0
    failed_bytes: int = 0
    parked_bytes: int = 0  # bytes of interrupted files the platform holds (acknowledged)
    sent_bytes: int = 0  # bytes sent this run (re-sent bytes count again)
    resent_bytes: int = 0  # bytes of failed segments, to be sent again
    retries: int = 0
    concurrency: int = 0  # files in flight at most (the resolved --concurrency)
    active: dict[str, FileView] = field(default_factory=dict)
    failures: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    meter: RateMeter = field(default_factory=RateMeter)
    started_at: float = 0.0

    def __post_init__(self) -> None:
        self.started_at = self.clock()
        self.meter.add(self.started_at, 0)

    def apply(self, event: BatchEvent) -> None:
        """Fold one event into the totals."""
        now = self.clock()
        if isinstance(event, JobStarted):
            self.total_bytes += event.newly_sized
            counted = None if event.resumed else 0
            file = FileView(event.path, event.size_bytes, counted=counted)
            if counted is not None:  # a new file's rate runs from its start: its first
                file.meter.add(now, 0)  # report already has one (not "0 B/s" at 26 %)
            self.active[event.job_id] = file
        elif isinstance(event, JobProgress):
            self._progress(event, now)
        elif isinstance(event, JobVerifying) and event.job_id in self.active:
            self.active[event.job_id].state = FileState.VERIFYING
        elif isinstance(event, JobProcessing) and event.job_id in self.active:
            self.active[event.job_id].state = FileState.PROCESSING
        elif isinstance(event, JobRetrying) and event.job_id in self.active:
            self.retries += 1
            file = self.active[event.job_id]
            file.state, file.retry_at, file.last_error = (
                FileState.RETRYING,
                now + event.delay_s,
                event.error,
            )
        elif isinstance(event, JobRetrying | BatchRetrying):
            self.retries += 1
        elif isinstance(event, BatchStarted):
            self.concurrency = event.limits.files_in_flight
        else:
            self._finish(event)
        self.meter.add(now, self.sent_bytes)

    def _progress(self, event: JobProgress, now: float) -> None:
        file = self.active.get(event.job_id)
        if file is None:
            return
        if file.counted is None:  # a resumed file: its first report is what an earlier run sent
            file.counted = event.done_bytes
        elif event.done_bytes > file.counted:
            self.sent_bytes += event.done_bytes - file.counted
            file.counted = event.done_bytes
        elif event.done_bytes < file.done_bytes:  # a segment is sent again
            self.resent_bytes += file.counted - event.done_bytes
            file.counted = event.done_bytes
        file.done_bytes = event.done_bytes
        file.state = FileState.SENDING
        file.meter.add(now, file.counted)

    def _finish(self, event: BatchEvent) -> None:
        if isinstance(event, JobDone):
            self.active.pop(event.job_id, None)
            self.done_jobs += 1
            self.done_bytes += event.size_bytes
        elif isinstance(event, JobFailed):
            file = self.active.pop(event.job_id, None)
            self.failed_jobs += 1
            self.failed_bytes += file.size_bytes if file is not None else 0
            # the path once: an error about a source often starts with it already
            self.failures.append(f"{event.path}: {without_prefix(event.error, event.path)}")
        elif isinstance(event, ManifestProblemFound):
            self.failed_jobs += 1
            self.failures.append(f"{event.location}: {event.reason}")
        elif isinstance(event, JobInterrupted):
            file = self.active.pop(event.job_id, None)
            self.parked_bytes += file.done_bytes if file is not None else 0

    @property
    def bytes_now(self) -> int:
        """Done bytes plus the bytes of the files in flight (or interrupted)."""
        in_flight = sum(file.done_bytes for file in self.active.values())
        return self.done_bytes + self.parked_bytes + in_flight

    @property
    def elapsed_s(self) -> float:
        """Seconds since the view started."""
        return self.clock() - self.started_at

    def rate_bytes_per_s(self) -> float:
        """Bytes sent per second over the last ``RATE_WINDOW_S``."""
        now = self.clock()
        self.meter.add(now, self.sent_bytes)
        return self.meter.rate(now)

    def eta_s(self, rate: float) -> float | None:
        """Seconds left at ``rate``; None when nothing moves."""
        left = max(0, self.total_bytes - self.bytes_now - self.failed_bytes)
        if left == 0:
            return 0.0
        return left / rate if rate > 0 else None

    def summary(self) -> dict[str, Any]:
        """The numbers of a summary line (docs/OPERATIONS.md lists them)."""
        rate = self.rate_bytes_per_s()
        eta = self.eta_s(rate)
        return {
            "elapsed_s": round(self.elapsed_s, 1),
            "files_done": self.done_jobs,
            "files_failed": self.failed_jobs,
            "files_total": self.total_jobs,
            "bytes_done": self.bytes_now,
            "bytes_total": self.total_bytes,
            "bytes_sent": self.sent_bytes,
            "bytes_resent": self.resent_bytes,
            "rate_bytes_per_s": round(rate),
            "eta_s": round(eta) if eta is not None else None,
            "eta": human_duration(eta),
            "active": len(self.active),
            "concurrency": self.concurrency,
            "retries": self.retries,
        }
