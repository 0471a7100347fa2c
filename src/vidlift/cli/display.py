"""The live display of a batch on a terminal, drawn with rich (cli layer).

Three header lines that fit 80 columns (bytes with rate and ETA, files, elapsed time), a
bar, then one row per file in flight: name, size, share done, rate, state (``sending``,
``verifying``, ``retrying in 4s``). Notices (Ctrl-C, stopping) are printed above the live
area, so a redraw never paints over them. On exit the last frame shows the run's totals.
docs/OPERATIONS.md has a capture. Log lines for pipes live in :mod:`vidlift.cli.eventlog`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from vidlift.cli.view import BatchView, FileState, human_bytes, human_duration
from vidlift.jobs.events import BatchEvent, BatchRetrying, SourceNoticed

__all__ = ["LiveDisplay"]

_REFRESH_S = 0.25
_MAX_ROWS = 10
_BAR_WIDTH = 78
# size, done, rate, left, state ("waiting for processing": 22), and gaps
_FIXED_COLUMNS = 9 + 4 + 11 + 6 + 22 + 2 * 5


def _percent(done: int, total: int) -> str:
    return f"{100 * done / total:.0f}%" if total else "100%"


def _bar(done: int, total: int, width: int = _BAR_WIDTH) -> Text:
    filled = round(width * done / total) if total else width
    bar = Text("━" * filled, style="green")
    bar.append("━" * (width - filled), style="grey35")
    return bar


class LiveDisplay:
    """A rich live view on a terminal, redrawn by :meth:`pulse` in the event loop."""

    def __init__(self, view: BatchView, console: Console | None = None) -> None:
        self.view = view
        self._console = console or Console(stderr=True)
        self._notice = ""
        self._final = False
        self._live = Live(console=self._console, auto_refresh=False, transient=False)

    def __call__(self, event: BatchEvent) -> None:
        if isinstance(event, SourceNoticed):
            self.notice(event.message)
        elif isinstance(event, BatchRetrying):
            self.notice(f"vidlift: {event.step}: {event.error}; retrying in {event.delay_s:.0f}s")
        self.view.apply(event)

    def notice(self, text: str) -> None:
        """Print a message above the live area (it stays), and show it in the header."""
        self._notice = text
        self._console.print(Text(text, style="bold yellow"))
        self._refresh()

    def _header(self, s: dict[str, Any]) -> list[Text]:
        pct = _percent(s["bytes_done"], s["bytes_total"])
        return [
            Text(
                f"Transferred: {human_bytes(s['bytes_done'])} / {human_bytes(s['bytes_total'])}"
                f", {pct}, {human_bytes(s['rate_bytes_per_s'])}/s, ETA {s['eta']}"
            ),
            Text(
                f"Files:       {s['files_done']} / {s['files_total']} done, "
                f"{s['files_failed']} failed, {self._in_flight(s)}"
            ),
            Text(f"Elapsed:     {human_duration(s['elapsed_s'])}, retries {s['retries']}"),
        ]

    def _in_flight(self, s: dict[str, Any]) -> str:
        """``2/8 in flight``; files waiting for their verification batch lend their slot
        to another (so more than the concurrency can be open): said apart."""
        waiting = sum(1 for f in self.view.active.values() if f.state is FileState.VERIFYING)
        working = f"{s['active'] - waiting}/{s['concurrency']} in flight"
        return f"{working}, {waiting} verifying" if waiting else working

    def _files(self) -> Table:
        now = self.view.clock()
        table = Table(box=None, expand=False, pad_edge=False, header_style="bold")
        # The other columns keep their width; the file name gets what is left, up to 40.
        name_width = max(10, min(40, self._console.width - _FIXED_COLUMNS))
        table.add_column("file", no_wrap=True, overflow="ellipsis", max_width=name_width)
        table.add_column("size", justify="right", no_wrap=True, min_width=9)
        table.add_column("done", justify="right", no_wrap=True, min_width=4)
        table.add_column("rate", justify="right", no_wrap=True, min_width=11)
        table.add_column("left", justify="right", no_wrap=True, min_width=6)
        table.add_column("state", no_wrap=True, min_width=22)
        for file in list(self.view.active.values())[:_MAX_ROWS]:
            rate = file.meter.rate(now)
            left = (file.size_bytes - file.done_bytes) / rate if rate > 0 else None
            table.add_row(
                Path(file.path).name,
                human_bytes(file.size_bytes),
                _percent(file.done_bytes, file.size_bytes),
                f"{human_bytes(rate)}/s",
                human_duration(left),
                file.describe(now),
            )
        return table

    def _final_lines(self, s: dict[str, Any]) -> list[Text]:
        elapsed = max(s["elapsed_s"], 1e-9)
        total = human_bytes(s["bytes_total"])
        return [
            Text(
                f"Finished in {human_duration(elapsed)}: {s['files_done']} of "
                f"{s['files_total']} files done, {s['files_failed']} failed",
                style="bold",
            ),
            Text(
                f"Sent {human_bytes(s['bytes_sent'])} ({human_bytes(s['bytes_resent'])} again) "
                f"at {human_bytes(s['bytes_sent'] / elapsed)}/s on average, retries {s['retries']}"
            ),
            Text(f"On the platform: {human_bytes(s['bytes_done'])} of {total}"),
        ]

    def _render(self) -> Group:
        s = self.view.summary()
        parts: list[Any] = self._final_lines(s) if self._final else self._header(s)
        if self._notice and not self._final:
            parts.append(Text(self._notice, style="bold yellow"))
        parts.append(_bar(s["bytes_done"], s["bytes_total"]))
        if not self._final and self.view.active:
            parts.append(self._files())
            hidden = len(self.view.active) - _MAX_ROWS
            if hidden > 0:
                parts.append(Text(f"... and {hidden} more files in flight", style="dim"))
        if self.view.failures:
            parts.append(Text("recent failures:", style="bold red"))
            width = max(20, min(self._console.width, 200) - 2)
            parts.extend(Text(f"  {line}"[:width], style="red") for line in self.view.failures)
        return Group(*parts)

    def _refresh(self) -> None:
        self._live.update(self._render(), refresh=True)

    async def pulse(self) -> None:
        """Redraw a few times a second (in the event loop: no thread reads the view)."""
        while True:
            self._refresh()
            await anyio.sleep(_REFRESH_S)

    def __enter__(self) -> LiveDisplay:
        self._live.start()
        self._refresh()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._final = True
        self._refresh()
        self._live.stop()
