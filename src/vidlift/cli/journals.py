"""Finding and opening the journal for a CLI command (cli layer)."""

from __future__ import annotations

from pathlib import Path

from vidlift.errors import ConfigError
from vidlift.journal.sqlite import SqliteJournal

__all__ = [
    "JOURNAL_SUFFIX",
    "default_journal_path",
    "find_journal",
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
