"""Finding and opening the journal for a CLI command (cli layer).

``--journal`` names a SQLite file or a PostgreSQL database
(``postgresql://user@host[:port]/db[?schema=NAME]``, needs ``vidlift[postgres]``),
wherever a journal is named: run, status, report, retry, enqueue, worker.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from vidlift.errors import ConfigError
from vidlift.journal.leases import FleetJournal
from vidlift.journal.sqlite import SqliteJournal

__all__ = [
    "JOURNAL_SUFFIX",
    "JournalRef",
    "as_ref",
    "default_journal_path",
    "describe_journal",
    "find_journal",
    "is_postgres_url",
    "lock_holder",
    "open_journal",
    "open_journal_readonly",
]

JOURNAL_SUFFIX = ".vidlift.sqlite"
JournalRef = Path | str
"""A journal as the CLI names it: a SQLite file, or a postgresql:// URL (a str)."""


def is_postgres_url(text: str) -> bool:
    """Whether a ``--journal`` value names a PostgreSQL journal."""
    return text.startswith(("postgresql://", "postgres://"))


def default_journal_path(manifest: Path) -> Path:
    """``library.csv`` -> ``library.csv.vidlift.sqlite`` next to it."""
    return manifest.with_name(manifest.name + JOURNAL_SUFFIX)


def as_ref(given: str) -> JournalRef:
    """A ``--journal`` value: a URL stays text, anything else is a path."""
    return given if is_postgres_url(given) else Path(given)


def describe_journal(ref: JournalRef) -> str:
    """The journal for messages: a path, or the URL without its password and query but
    its ``schema`` (several migrations may share one database, one schema each)."""
    if isinstance(ref, Path):
        return str(ref)
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(ref)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    schema = next((v for k, v in parse_qsl(parts.query) if k == "schema"), None)
    named = f"?schema={schema}" if schema else ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}{named}"


def find_journal(given: str | None) -> JournalRef:
    """The journal a status/report/retry command means: ``--journal``, else the only
    ``*.vidlift.sqlite`` in the current folder. Raises ConfigError otherwise."""
    if given is not None:
        ref = as_ref(given)
        if isinstance(ref, Path) and not ref.exists():
            raise ConfigError(f"{given}: no journal there (vidlift run creates it)")
        return ref
    found = sorted(Path.cwd().glob(f"*{JOURNAL_SUFFIX}"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"no *{JOURNAL_SUFFIX} journal in this folder: pass --journal PATH")
    names = ", ".join(p.name for p in found)
    raise ConfigError(f"several journals here ({names}): pass --journal PATH")


async def _open_postgres(url: str) -> FleetJournal:
    try:
        from vidlift.journal.postgres import PostgresJournal
    except ImportError as exc:
        raise ConfigError(
            f"--journal {describe_journal(url)}: PostgreSQL journals need asyncpg: "
            "pip install 'vidlift[postgres]'"
        ) from exc
    return await PostgresJournal.open(url)


async def open_journal(ref: JournalRef) -> FleetJournal:
    """Open (or create) the journal for writing."""
    if isinstance(ref, str):
        return await _open_postgres(ref)
    return await SqliteJournal.open(ref)


async def open_journal_readonly(ref: JournalRef, *, create_nothing: bool = False) -> FleetJournal:
    """Open the journal for reading while a run may be writing it (PostgreSQL: the
    same connection as a writer; it writes nothing). ``create_nothing``: see
    :meth:`SqliteJournal.open_readonly`."""
    if isinstance(ref, str):
        return await _open_postgres(ref)
    return await SqliteJournal.open_readonly(ref, create_nothing=create_nothing)


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
