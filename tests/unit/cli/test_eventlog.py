"""Log lines: quoted text values, one JSON object per line."""

from __future__ import annotations

import io
import json

from vidlift.cli.eventlog import LineDisplay, format_text_line
from vidlift.cli.view import BatchView
from vidlift.jobs.events import JobFailed, JobStarted


def test_text_values_are_quoted_so_a_newline_cannot_split_a_line() -> None:
    line = format_text_line(
        "T", "job_failed", {"path": 'evil\nname "x" a=b.mp4', "size": 3, "ok": True, "n": None}
    )
    assert "\n" not in line
    assert line == 'T job_failed path="evil\\nname \\"x\\" a=b.mp4" size=3 ok=true n=null'


def test_every_event_and_summary_is_one_line() -> None:
    for as_json in (False, True):
        out = io.StringIO()
        display = LineDisplay(BatchView(), as_json=as_json, stream=out)
        with display:
            display(JobStarted("j1", "a\nb.mp4", 10, resumed=False))
            display(JobFailed("j1", "a\nb.mp4", "boom\nagain"))
        lines = out.getvalue().splitlines()
        assert len(lines) == 3, lines
        assert [json.loads(line)["event"] if as_json else line.split(" ")[1] for line in lines] == [
            "job_started",
            "job_failed",
            "summary",
        ]
