"""``vidlift report --format html``: one self-contained HTML page (cli layer).

Totals, throughput over time and files finished over time (inline SVG), failures grouped
by reason with their rows, the slowest files, re-sent bytes. Reads the journal and, when
present, the run history (:mod:`vidlift.cli.history`); no scripts, no external assets.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from vidlift.cli.failures import FailedJob, FailureGroup, group_failures
from vidlift.cli.history import read_history
from vidlift.cli.svgplot import line_chart
from vidlift.cli.view import human_bytes, human_duration
from vidlift.journal.base import Journal
from vidlift.journal.state import JobState

__all__ = ["render_html_report"]

_TOP = 10
_ROWS_PER_REASON = 200
_FALLBACK_BUCKETS = 40
_MAX_POINTS = 600  # per plot: a week of one-second samples stays a small page


def _thin(points: list[tuple[float, float]], *, average: bool) -> list[tuple[float, float]]:
    """At most about ``_MAX_POINTS`` points: each group of k becomes its last x with the
    group's mean y (``average``, for rates) or its last y (for running counts)."""
    k = -(-len(points) // _MAX_POINTS)
    if k <= 1:
        return points
    groups = [points[i : i + k] for i in range(0, len(points), k)]
    if average:
        return [(g[-1][0], sum(y for _, y in g) / len(g)) for g in groups]
    return [points[0], *(g[-1] for g in groups)]


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;
max-width:1120px;color:#1d2733;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;
border-bottom:1px solid #d8dee6;padding-bottom:4px}
.sub{color:#5b6778;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #d8dee6;border-radius:6px;padding:10px 14px;min-width:130px}
.card b{display:block;font-size:20px}.card span{color:#5b6778;font-size:12px}
.bad b{color:#b3261e}.good b{color:#1e7b34}
.plots{display:flex;flex-wrap:wrap;gap:16px}
svg{border:1px solid #d8dee6;border-radius:6px;background:#fbfcfd}
svg .t{font-size:13px;font-weight:600;fill:#1d2733}svg .n{font-size:13px;fill:#5b6778}
svg .g{stroke:#e3e8ee}svg .y{font-size:11px;fill:#5b6778;text-anchor:end}
svg .x{font-size:11px;fill:#5b6778;text-anchor:middle}
svg .l{fill:none;stroke:#2764c5;stroke-width:2}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
th{background:#f3f5f8;font-weight:600}td.r,th.r{text-align:right}
.reason{font-weight:600;color:#b3261e}.muted{color:#5b6778}
code{font-size:12px;word-break:break-all}
"""


@dataclass(slots=True)
class _Data:
    counts: dict[str, int] = field(default_factory=dict)
    total_bytes: int = 0
    done_bytes: int = 0
    done_times: list[float] = field(default_factory=list)
    done_sizes: list[tuple[float, int]] = field(default_factory=list)
    failed: list[FailedJob] = field(default_factory=list)
    finished: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: list[list[tuple[float, int]]] = field(default_factory=list)


async def _read(journal: Journal, journal_path: Path) -> _Data:
    data = _Data(counts={state.value: 0 for state in JobState})
    async for record in journal.iter_jobs():
        data.counts[record.state.value] += 1
        data.total_bytes += record.size_bytes
        if record.state is JobState.DONE:
            data.done_bytes += record.size_bytes
            data.done_times.append(record.updated_at)
            data.done_sizes.append((record.updated_at, record.size_bytes))
        elif record.state is JobState.FAILED:
            path = record.source_name
            data.failed.append(
                FailedJob(
                    record.job_id, path, record.location, record.last_error or "", record.attempts
                )
            )
    for entry in read_history(journal_path):
        if entry["kind"] == "run_start":
            data.samples.append([])
        elif entry["kind"] == "sample" and data.samples:
            data.samples[-1].append((float(entry["t"]), int(entry["sent"])))
        elif entry["kind"] in ("done", "failed"):
            data.finished[str(entry.get("id"))] = entry  # the last attempt of each job
    return data


def _throughput(data: _Data) -> list[tuple[float, float]]:
    """(time, bytes/s): from the history's samples, else from finished files' sizes."""
    points: list[tuple[float, float]] = []
    for run in data.samples:
        pairs = itertools.pairwise(run)
        run_points = [
            (t1, max(0.0, (b1 - b0) / (t1 - t0))) for (t0, b0), (t1, b1) in pairs if t1 > t0
        ]
        if run_points and points:  # the pause between two runs: nothing sent
            points += [(points[-1][0], 0.0), (run[0][0], 0.0)]
        points += run_points
    if len(points) >= 2 or len(data.done_sizes) < 2:
        return points
    done = sorted(data.done_sizes)
    start, end = done[0][0], done[-1][0]
    width = max((end - start) / _FALLBACK_BUCKETS, 0.01)
    buckets = [0] * (int((end - start) / width) + 1)
    for moment, size in done:
        buckets[int((moment - start) / width)] += size
    return [(start, 0.0)] + [
        (start + (i + 1) * width, total / width) for i, total in enumerate(buckets)
    ]


def _cards(data: _Data, resent: int, retries: int) -> str:
    share = 100 * data.done_bytes / data.total_bytes if data.total_bytes else 100.0
    cards = [
        ("good", str(data.counts["done"]), "files done"),
        ("bad" if data.counts["failed"] else "", str(data.counts["failed"]), "files failed"),
        ("", str(sum(data.counts.values()) - data.counts["done"] - data.counts["failed"]), "left"),
        ("", human_bytes(data.done_bytes), f"of {human_bytes(data.total_bytes)} ({share:.1f}%)"),
        ("bad" if resent else "", human_bytes(resent), "re-sent"),
        ("", str(retries), "retries"),
    ]
    if data.done_times:
        span = max(data.done_times) - min(data.done_times)
        cards.append(("", human_duration(span), "first to last file done"))
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card {cls}"><b>{escape(value)}</b><span>{escape(label)}</span></div>'
            for cls, value, label in cards
        )
        + "</div>"
    )


def _plots(data: _Data) -> str:
    rate = _thin(_throughput(data), average=True)
    done = sorted(data.done_times)
    origin = min([p[0] for p in rate] + done) if (rate or done) else 0.0

    def since(x: float) -> str:
        return human_duration(x - origin)

    files = [(moment, float(count)) for count, moment in enumerate(done, start=1)]
    if files:
        files.insert(0, (files[0][0], 0.0))
    files = _thin(files, average=False)
    return (
        '<div class="plots">'
        + line_chart(
            rate, title="Throughput", x_label=since, y_label=lambda y: f"{human_bytes(y)}/s"
        )
        + line_chart(
            files, title="Files finished", x_label=since, y_label=lambda y: f"{y:.0f}", step=True
        )
        + "</div>"
        + f'<p class="muted">Time axis: since {escape(_stamp(origin))}.</p>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    head = "".join(
        f'<th class="r">{escape(h)}</th>' if i in right else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="r">{escape(c)}</td>' if i in right else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _failures(groups: list[FailureGroup]) -> str:
    if not groups:
        return '<p class="muted">No failed job.</p>'
    parts = []
    for group in groups:
        count = f'<span class="reason">{len(group.jobs)} &times;</span>'
        parts.append(f"<p>{count} {escape(group.reason)}</p>")
        rows = [
            (job.job_id, job.location, job.path, str(job.attempts), job.error)
            for job in group.jobs[:_ROWS_PER_REASON]
        ]
        parts.append(_table(("id", "row", "path", "attempts", "error"), rows, {3}))
    return "".join(parts)


def _file_rows(entries: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for e in entries:
        seconds = float(e["seconds"])
        size = int(e.get("size", 0))
        rate = f"{human_bytes(size / seconds)}/s" if seconds > 0 and size else "-"
        rows.append(
            (
                str(e["id"]),
                str(e["path"]),
                human_bytes(size),
                f"{seconds:.1f}s" if seconds < 60 else human_duration(seconds),
                rate,
                str(e["retries"]),
                human_bytes(int(e["resent"])),
            )
        )
    return rows


def _slowest_and_resent(data: _Data) -> str:
    done = [e for e in data.finished.values() if e["kind"] == "done"]
    if not done:
        return (
            '<h2>Slowest files</h2><p class="muted">No run history next to this journal '
            "(vidlift run writes it; older runs did not).</p>"
        )
    headers = ("id", "path", "size", "took", "rate", "retries", "re-sent")
    right = {2, 3, 4, 5, 6}
    slowest = sorted(done, key=lambda e: -float(e["seconds"]))[:_TOP]
    resent = sorted(
        (e for e in data.finished.values() if int(e["resent"]) > 0), key=lambda e: -int(e["resent"])
    )[:_TOP]
    html = f"<h2>Slowest files</h2>{_table(headers, _file_rows(slowest), right)}"
    html += "<h2>Re-sent bytes</h2>"
    if not resent:
        return html + '<p class="muted">Nothing was sent twice.</p>'
    return html + _table(headers, _file_rows(resent), right)


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def render_html_report(journal: Journal, journal_path: Path) -> str:
    """The whole page."""
    data = await _read(journal, journal_path)
    resent = sum(int(e["resent"]) for e in data.finished.values())
    retries = sum(int(e["retries"]) for e in data.finished.values())
    title = f"vidlift report: {journal_path.name}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="sub">{escape(str(journal_path))} &middot; generated {_stamp(time.time())}</p>'
        f"<h2>Totals</h2>{_cards(data, resent, retries)}"
        f"<h2>Over time</h2>{_plots(data)}"
        f"<h2>Failures by reason</h2>{_failures(group_failures(data.failed))}"
        f"{_slowest_and_resent(data)}"
        "</body></html>\n"
    )
