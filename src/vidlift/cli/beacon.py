"""The run beacon: what a running ``vidlift run`` tells ``vidlift status`` (cli layer).

Every second the run replaces ``<journal>.run.json`` (atomically) with its host, pid,
start time, the live summary (rate over the last 10 s, ETA) and its files in flight.
``vidlift status`` reads it, and trusts it only while the journal's writer lock is held
(:func:`vidlift.cli.journals.lock_holder`): a run killed with -9 leaves a stale beacon
but no lock. The journal itself only knows finished work; the beacon knows the rate.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import anyio

from vidlift.cli.view import BatchView

__all__ = ["BEACON_SUFFIX", "beacon_path", "read_beacon", "write_beacons"]

BEACON_SUFFIX = ".run.json"
_EVERY_S = 1.0
_MAX_FILES = 50


def beacon_path(journal: Path) -> Path:
    """``x.vidlift.sqlite`` -> ``x.vidlift.sqlite.run.json``."""
    return journal.with_name(journal.name + BEACON_SUFFIX)


def _document(view: BatchView, started_at: float, *, ended: bool) -> dict[str, Any]:
    now = view.clock()
    files = [
        {
            "path": file.path,
            "size_bytes": file.size_bytes,
            "done_bytes": file.done_bytes,
            "rate_bytes_per_s": round(file.meter.rate(now)),
            "state": file.describe(now),
        }
        for file in list(view.active.values())[:_MAX_FILES]
    ]
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": started_at,
        "updated_at": time.time(),
        "ended_at": time.time() if ended else None,
        "summary": view.summary(),
        "files": files,
    }


def _replace(path: Path, document: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass  # a status aid only: the journal holds the truth, the run goes on


async def write_beacons(journal: Path, view: BatchView) -> None:
    """Write the beacon every second until cancelled; then once more, marked ended."""
    path = beacon_path(journal)
    started_at = time.time()
    try:
        while True:
            await anyio.to_thread.run_sync(_replace, path, _document(view, started_at, ended=False))
            await anyio.sleep(_EVERY_S)
    finally:
        with anyio.CancelScope(shield=True):
            final = _document(view, started_at, ended=True)
            await anyio.to_thread.run_sync(_replace, path, final)


def read_beacon(journal: Path) -> dict[str, Any] | None:
    """The last beacon written next to ``journal``, or None (none, or unreadable)."""
    try:
        document = json.loads(beacon_path(journal).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
