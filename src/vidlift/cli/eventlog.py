"""Log lines for unattended runs: one line per event and a periodic summary (cli layer).

Used in a pipe, or with ``--log-format text|json``. JSON: one object per line. Text:
``TIMESTAMP EVENT key=value ...`` where every string value is a JSON-quoted string, so a
file name holding a space, a quote or a newline never splits or fakes a field.
docs/OPERATIONS.md lists the events and their fields.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import anyio

from vidlift.cli.view import BatchView
from vidlift.config import SUMMARY_INTERVAL_S
from vidlift.jobs.events import (
    ApiAnswered,
    BatchEvent,
    BatchRetrying,
    BatchStarted,
    JobAcked,
    JobDone,
    JobFailed,
    JobInterrupted,
    JobProcessing,
    JobProgress,
    JobRetrying,
    JobStarted,
    JobVerifying,
    LibrarySurveyed,
    ManifestProblemFound,
    PosterFailed,
    SourceNoticed,
)

__all__ = ["EVENT_NAMES", "SUMMARY_INTERVAL_S", "LineDisplay", "format_text_line"]

EVENT_NAMES: dict[type[BatchEvent], str] = {
    JobStarted: "job_started",
    JobVerifying: "job_verifying",
    JobProcessing: "job_processing",
    JobDone: "job_done",
    JobFailed: "job_failed",
    JobRetrying: "job_retrying",
    JobInterrupted: "job_interrupted",
    ManifestProblemFound: "manifest_problem",
    JobProgress: "job_progress",
    JobAcked: "job_acked",
    ApiAnswered: "api_answered",
    LibrarySurveyed: "library_surveyed",
    BatchRetrying: "batch_retrying",
    PosterFailed: "poster_failed",
    SourceNoticed: "source_notice",
}
# Too frequent for a log line (per piece, per segment, per API call): summaries cover them
# (and the files in flight that BatchStarted states: the summaries' "concurrency").
_UNLOGGED = (JobProgress, JobAcked, ApiAnswered, BatchStarted)


def _text_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def format_text_line(stamp: str, name: str, fields: dict[str, Any]) -> str:
    """``2026-01-01T00:00:00+00:00 job_done path="a b.mp4" size_bytes=12`` (one line)."""
    pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields.items())
    return f"{stamp} {name} {pairs}".rstrip()


class LineDisplay:
    """One line per event (text or JSON), and a summary every ``interval_s`` seconds."""

    def __init__(
        self,
        view: BatchView,
        *,
        as_json: bool,
        stream: TextIO | None = None,
        interval_s: float = SUMMARY_INTERVAL_S,
    ) -> None:
        self.view = view
        self._json = as_json
        self._stream = stream or sys.stdout
        self._interval_s = interval_s
        self._last_summary = view.clock()

    def _write(self, name: str, fields: dict[str, Any]) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        if self._json:
            line = json.dumps({"ts": stamp, "event": name, **fields}, default=str)
        else:
            line = format_text_line(stamp, name, fields)
        print(line, file=self._stream, flush=True)

    def __call__(self, event: BatchEvent) -> None:
        self.view.apply(event)
        if not isinstance(event, _UNLOGGED):
            fields = {slot: getattr(event, slot) for slot in event.__slots__}
            self._write(EVENT_NAMES.get(type(event), type(event).__name__), fields)
        if self.view.clock() - self._last_summary >= self._interval_s:
            self.summarize()

    def notice(self, text: str) -> None:
        """A message for the operator (Ctrl-C, stopping): on stderr, and in the log."""
        print(text, file=sys.stderr, flush=True)
        self._write("notice", {"message": text})

    def summarize(self) -> None:
        """Write a summary line now."""
        self._last_summary = self.view.clock()
        self._write("summary", self.view.summary())

    async def pulse(self) -> None:
        """Write the summaries that fall due while no event arrives (a long back-off)."""
        while True:
            due = self._last_summary + self._interval_s - self.view.clock()
            await anyio.sleep(max(0.05, due))
            if self.view.clock() - self._last_summary >= self._interval_s:
                self.summarize()

    def __enter__(self) -> LineDisplay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.summarize()
