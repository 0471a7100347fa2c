"""Finding and opening the journal for a CLI command (cli layer)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from vidlift.errors import ConfigError
from vidlift.journal.sqlite import SqliteJournal

__all__ = [
    "JOURNAL_SUFFIX",
    "default_journal_path",
    "find_journal",
    "lock_holder",
    "open_journal",
    "open_journal_readonly",
]

JOURNAL_SUFFIX = ".vidlift.sqlite"


def default_journal_path(manifest: Path) -> Path:
    """``library.csv`` -> ``library.csv.vidlift.sqlite`` next to it."""
    return manifest.with_name(manifest.name + JOURNAL_SUFFIX)


def find_journal(given: Path | None) -> Path:
    """The journal a status/report/retry command means: ``--journal``, else the only
    ``*.vidlift.sqlite`` in the current folder. Raises ConfigError otherwise."""
    if given is not None:
        if not given.exists():
            raise ConfigError(f"{given}: no journal there (vidlift run creates it)")
        return given
    found = sorted(Path.cwd().glob(f"*{JOURNAL_SUFFIX}"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"no *{JOURNAL_SUFFIX} journal in this folder: pass --journal PATH")
    names = ", ".join(p.name for p in found)
    raise ConfigError(f"several journals here ({names}): pass --journal PATH")


async def open_journal(path: Path) -> SqliteJournal:
    """Open (or create) the journal for writing."""
    return await SqliteJournal.open(path)


async def open_journal_readonly(path: Path) -> SqliteJournal:
    """Open the journal for reading while a run may be writing it."""
    return await SqliteJournal.open_readonly(path)


def lock_holder(path: Path) -> int | None:
    """The pid of the process writing the journal, or None when no process writes it.

    A writer holds an exclusive ``flock`` on ``<journal>.lock`` and writes its pid there
    (:mod:`vidlift.journal.sqlite_store`). A shared lock taken and released at once tells
    whether one is held; a writer starting in that instant would be refused, and says so.
    """
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
