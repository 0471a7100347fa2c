"""How every ``vidlift`` command ends (cli layer): exit codes, and the one place where
fatal errors become ``vidlift: error: ...`` instead of a traceback.

Exit codes (README): 0 all done; 1 some jobs (or the one upload) failed; 2 usage,
configuration or a fatal error (nothing was lost: run again once it is fixed);
130 interrupted (Ctrl-C, SIGTERM). Errors raised inside anyio task groups arrive wrapped
in ``ExceptionGroup``s; :func:`unwrap_error` finds the error the user must see.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click

from vidlift.errors import JournalError, VidliftError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "fail",
    "fatal_errors",
    "unwrap_error",
    "warn",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def unwrap_error(exc: BaseException) -> BaseException:
    """The error a user must see inside (possibly nested) exception groups: an
    interruption first, then the first :class:`VidliftError`, else the first leaf."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves = list(_leaves(exc))
    for wanted in (KeyboardInterrupt, VidliftError):
        for leaf in leaves:
            if isinstance(leaf, wanted):
                return leaf
    return leaves[0] if leaves else exc


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def warn(message: str) -> None:
    """``vidlift: warning: ...`` on stderr."""
    click.echo(f"vidlift: warning: {message}", err=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """``vidlift: error: ...`` on stderr, then exit (2 unless told)."""
    click.echo(f"vidlift: error: {message}", err=True)
    sys.exit(code)


def _message(exc: VidliftError, journal: Path | None) -> str:
    text = str(exc)
    if isinstance(exc, JournalError) and journal is not None and journal.name not in text:
        return f"journal {journal}: {text}"
    return text


@contextmanager
def fatal_errors(code: int = EXIT_USAGE, *, journal: Path | None = None) -> Iterator[None]:
    """Turn a :class:`VidliftError` (bare or in exception groups) into ``vidlift: error:``
    and exit ``code``; Ctrl-C into exit 130. Anything else is a bug and keeps its
    traceback. A journal error names the ``journal`` file."""
    try:
        yield
    except (KeyboardInterrupt, VidliftError, BaseExceptionGroup) as raised:
        exc = unwrap_error(raised)
        if isinstance(exc, KeyboardInterrupt):
            click.echo("vidlift: interrupted; run the same command again to resume", err=True)
            sys.exit(EXIT_INTERRUPTED)
        if isinstance(exc, VidliftError):
            fail(_message(exc, journal), code)
        raise
