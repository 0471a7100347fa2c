"""The run history: what ``vidlift report --format html`` plots (cli layer).

The journal keeps each job's state, not how the run went. ``vidlift run`` appends JSON
lines to ``<journal>.history.jsonl``: a ``sample`` of the bytes sent every few seconds,
and one line per finished or failed file with its duration, retries and re-sent bytes.
A kill -9 loses at most the last second of lines; the report then shows less, never
something false. Nothing secret goes there (paths and error texts, as in the journal).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio

from vidlift.cli.view import BatchView
from vidlift.jobs.events import (
    BatchEvent,
    JobDone,
    JobFailed,
    JobInterrupted,
    JobProgress,
    JobRetrying,
    JobStarted,
)

__all__ = ["HISTORY_SUFFIX", "HistoryRecorder", "history_path", "read_history"]

HISTORY_SUFFIX = ".history.jsonl"
_SAMPLE_EVERY_S = 1.0


def history_path(journal: Path) -> Path:
    """``x.vidlift.sqlite`` -> ``x.vidlift.sqlite.history.jsonl``."""
    return journal.with_name(journal.name + HISTORY_SUFFIX)


@dataclass(slots=True)
class _Flight:
    started_at: float
    last_done: int = 0
    resent: int = 0
    retries: int = 0


class HistoryRecorder:
    """An event sink that appends the run's history; :meth:`pulse` samples and flushes."""

    def __init__(self, journal: Path, view: BatchView) -> None:
        self.view = view
        self._path = history_path(journal)
        self._file: IO[str] | None = None
        self._flights: dict[str, _Flight] = {}

    def _line(self, kind: str, **fields: Any) -> None:
        if self._file is None:
            return
        record = {"t": round(time.time(), 3), "kind": kind, **fields}
        try:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError:
            self._close_quietly()  # a report aid only: the run goes on

    def __call__(self, event: BatchEvent) -> None:
        if isinstance(event, JobStarted):
            self._flights[event.job_id] = _Flight(time.time())
        elif isinstance(event, JobProgress):
            flight = self._flights.get(event.job_id)
            if flight is not None:
                if event.done_bytes < flight.last_done:
                    flight.resent += flight.last_done - event.done_bytes
                flight.last_done = event.done_bytes
        elif isinstance(event, JobRetrying) and event.job_id in self._flights:
            self._flights[event.job_id].retries += 1
        elif isinstance(event, JobDone | JobFailed | JobInterrupted):
            self._finish(event)

    def _finish(self, event: JobDone | JobFailed | JobInterrupted) -> None:
        flight = self._flights.pop(event.job_id, None)
        if flight is None or isinstance(event, JobInterrupted):
            return
        fields = {
            "id": event.job_id,
            "path": event.path,
            "seconds": round(time.time() - flight.started_at, 3),
            "resent": flight.resent,
            "retries": flight.retries,
        }
        if isinstance(event, JobDone):
            self._line("done", size=event.size_bytes, **fields)
        else:
            self._line("failed", error=event.error, **fields)

    def _sample(self) -> None:
        view = self.view
        self._line("sample", sent=view.sent_bytes, resent=view.resent_bytes, held=view.bytes_now)

    def _close_quietly(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):
                file.close()

    def __enter__(self) -> HistoryRecorder:
        try:
            self._file = self._path.open("a", encoding="utf-8")
        except OSError:
            self._file = None
        self._line("run_start", host=socket.gethostname(), pid=os.getpid())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sample()
        self._line("run_end")
        self._close_quietly()

    async def pulse(self) -> None:
        """Sample the bytes sent and flush, every few seconds."""
        while True:
            self._sample()
            if self._file is not None:
                try:
                    self._file.flush()
                except OSError:
                    self._close_quietly()
            await anyio.sleep(_SAMPLE_EVERY_S)


def read_history(journal: Path) -> Iterator[dict[str, Any]]:
    """The history's records, oldest first (none when there is no history; a line cut
    short by a kill is skipped)."""
    try:
        handle = history_path(journal).open(encoding="utf-8")
    except OSError:
        return
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "t" in record and "kind" in record:
                yield record
