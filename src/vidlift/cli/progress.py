"""A rich progress bar for single uploads, shown only on a terminal (cli layer).

rich is imported only when the bar is shown: a scripted ``vidlift upload`` in a pipe does
not pay for it (benchmarks/RESULTS.md, start-up).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["file_progress"]


@contextmanager
def file_progress(
    label: str, total_bytes: int, *, enabled: bool | None = None
) -> Iterator[Callable[[int], None]]:
    """Yield a callback taking "bytes done" (which may go backwards on re-sends)."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield lambda _done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    with Progress(
        "[bold]{task.description}",
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total_bytes)
        yield lambda done: progress.update(task, completed=done)
