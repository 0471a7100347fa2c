"""What a batch shows while it runs (cli layer).

On a terminal: a live rich display (bytes and files done, throughput, ETA, the active
files, recent failures). In a pipe, or with ``--log-format text|json``: one line per
event and a periodic summary.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from vidlift.jobs.events import (
    BatchEvent,
    JobDone,
    JobFailed,
    JobInterrupted,
    JobProgress,
    JobRetrying,
    JobStarted,
    LibrarySurveyed,
    ManifestProblemFound,
)

__all__ = ["BatchView", "LineDisplay", "LiveDisplay", "human_bytes"]

_SUMMARY_EVERY_S = 10.0
_RATE_WINDOW_S = 10.0


def human_bytes(count: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


@dataclass(slots=True)
class BatchView:
    """Running totals built from the journal's counts and the batch's events."""

    total_jobs: int = 0
    total_bytes: int = 0
    done_jobs: int = 0
    done_bytes: int = 0
    failed_jobs: int = 0
    active: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    failures: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    samples: deque[tuple[float, int]] = field(default_factory=deque)
    retries: int = 0
    concurrency: int = 0  # files in flight at most (the resolved --concurrency)

    def apply(self, event: BatchEvent) -> None:
        """Fold one event into the totals."""
        if isinstance(event, JobStarted):
            self.active[event.job_id] = (event.path, 0, event.size_bytes)
        elif isinstance(event, JobProgress) and event.job_id in self.active:
            path, _, size = self.active[event.job_id]
            self.active[event.job_id] = (path, event.done_bytes, size)
        elif isinstance(event, JobDone):
            self.active.pop(event.job_id, None)
            self.done_jobs += 1
            self.done_bytes += event.size_bytes
        elif isinstance(event, JobFailed | ManifestProblemFound):
            if isinstance(event, JobFailed):
                self.active.pop(event.job_id, None)
            self.failed_jobs += 1
            where = event.path if isinstance(event, JobFailed) else event.location
            self.failures.append(
                f"{where}: {event.error if isinstance(event, JobFailed) else event.reason}"
            )
        elif isinstance(event, JobInterrupted):
            self.active.pop(event.job_id, None)
        elif isinstance(event, JobRetrying):
            self.retries += 1

    @property
    def bytes_now(self) -> int:
        """Done bytes plus the bytes of the files in flight."""
        return self.done_bytes + sum(done for _, done, _ in self.active.values())

    def rate_bytes_per_s(self) -> float:
        """Throughput over the last few seconds."""
        now = time.monotonic()
        self.samples.append((now, self.bytes_now))
        while self.samples and now - self.samples[0][0] > _RATE_WINDOW_S:
            self.samples.popleft()
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return max(0.0, (b1 - b0) / (t1 - t0)) if t1 > t0 else 0.0

    def summary(self) -> dict[str, Any]:
        """The numbers of a summary line."""
        rate = self.rate_bytes_per_s()
        left = max(0, self.total_bytes - self.bytes_now)
        return {
            "files_done": self.done_jobs,
            "files_failed": self.failed_jobs,
            "files_total": self.total_jobs,
            "bytes_done": self.bytes_now,
            "bytes_total": self.total_bytes,
            "rate_bytes_per_s": round(rate),
            "eta_s": round(left / rate) if rate > 0 else None,
            "active": len(self.active),
            "concurrency": self.concurrency,
            "retries": self.retries,
        }


def _describe(event: BatchEvent) -> tuple[str, dict[str, Any]]:
    name = {
        JobStarted: "job_started",
        JobDone: "job_done",
        JobFailed: "job_failed",
        JobRetrying: "job_retrying",
        JobInterrupted: "job_interrupted",
        ManifestProblemFound: "manifest_problem",
        JobProgress: "job_progress",
        LibrarySurveyed: "library_surveyed",
    }[type(event)]
    return name, {slot: getattr(event, slot) for slot in event.__slots__}


class LineDisplay:
    """One line per event (text or JSON), and a summary every few seconds."""

    def __init__(self, view: BatchView, *, as_json: bool, stream: TextIO | None = None) -> None:
        self.view = view
        self._json = as_json
        self._stream = stream or sys.stdout
        self._last_summary = time.monotonic()

    def _write(self, name: str, fields: dict[str, Any]) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        if self._json:
            line = json.dumps({"ts": stamp, "event": name, **fields}, default=str)
        else:
            line = f"{stamp} {name} " + " ".join(f"{k}={v}" for k, v in fields.items())
        print(line, file=self._stream, flush=True)

    def __call__(self, event: BatchEvent) -> None:
        self.view.apply(event)
        if not isinstance(event, JobProgress):
            self._write(*_describe(event))
        if time.monotonic() - self._last_summary >= _SUMMARY_EVERY_S:
            self.summarize()

    def summarize(self) -> None:
        """Write a summary line now."""
        self._last_summary = time.monotonic()
        self._write("summary", self.view.summary())

    def __enter__(self) -> LineDisplay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.summarize()


class LiveDisplay:
    """A rich live view on a terminal."""

    def __init__(self, view: BatchView, console: Console | None = None) -> None:
        self.view = view
        self._console = console or Console(stderr=True)
        self._live = Live(console=self._console, refresh_per_second=4, get_renderable=self._render)

    def __call__(self, event: BatchEvent) -> None:
        self.view.apply(event)

    def _render(self) -> Group:
        s = self.view.summary()
        eta = f"{s['eta_s']}s" if s["eta_s"] is not None else "-"
        head = Text(
            f"files {s['files_done']}/{s['files_total']} done, {s['files_failed']} failed   "
            f"{human_bytes(s['bytes_done'])} / {human_bytes(s['bytes_total'])}   "
            f"{human_bytes(s['rate_bytes_per_s'])}/s   ETA {eta}   "
            f"{s['active']}/{s['concurrency']} in flight   retries {s['retries']}"
        )
        bar = ProgressBar(total=max(1, s["bytes_total"]), completed=s["bytes_done"])
        table = Table(show_header=True, header_style="bold", box=None, expand=False)
        table.add_column("active file")
        table.add_column("done", justify="right")
        for path, done, size in list(self.view.active.values())[:10]:
            table.add_row(Path(path).name[-60:], f"{100 * done / max(1, size):5.1f}%")
        parts: list[Any] = [head, bar, table]
        if self.view.failures:
            parts.append(Text("recent failures:", style="bold red"))
            parts.extend(Text(f"  {line}"[:200], style="red") for line in self.view.failures)
        return Group(*parts)

    def __enter__(self) -> LiveDisplay:
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.stop()
