"""The live display's frames, drawn on an 80-column console."""

from __future__ import annotations

import io

from rich.console import Console

from vidlift.cli.display import LiveDisplay
from vidlift.cli.view import BatchView
from vidlift.jobs.events import (
    JobDone,
    JobProcessing,
    JobProgress,
    JobRetrying,
    JobStarted,
    JobVerifying,
)

MiB = 1024 * 1024


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def frame(display: LiveDisplay, width: int = 80) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(display._render())
    return out.getvalue().splitlines()


def test_header_fits_80_columns_and_files_show_their_state() -> None:
    clock = Clock()
    view = BatchView(clock=clock)
    view.total_jobs, view.total_bytes, view.concurrency = 1234, 987 * 1024 * MiB, 64
    display = LiveDisplay(view, Console(file=io.StringIO(), width=80))
    names = ("a-very-long-file-name-that-goes-on-and-on-and-on.mp4", "b.mp4", "c.mp4", "d.mp4")
    for n, name in enumerate(names):
        display(JobStarted(f"j{n}", f"/srv/{name}", 100 * MiB, resumed=False))
    for second in range(1, 5):
        clock.now += 1
        for n in range(3):
            display(JobProgress(f"j{n}", second * 10 * MiB, 100 * MiB))
    display(JobRetrying("j1", "connection reset", 4.0, "TransportError"))
    display(JobVerifying("j2"))
    display(JobProcessing("j3"))
    lines = frame(display)
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].startswith("Transferred: 120.0 MiB / 987.0 GiB, 0%, 30.0 MiB/s, ETA 9h")
    assert lines[1] == "Files:       0 / 1234 done, 0 failed, 3/64 in flight, 1 verifying"
    assert lines[2] == "Elapsed:     4s, retries 1"
    text = "\n".join(lines)
    assert "retrying in 4s" in text and "verifying" in text and "sending" in text
    assert "waiting for processing" in text
    assert "a-very-long-file" in text and " 6s " in text  # 60 MiB left at 10 MiB/s


def test_the_final_frame_shows_the_real_totals() -> None:
    clock = Clock()
    view = BatchView(clock=clock)
    view.total_jobs, view.total_bytes = 1, 10 * MiB
    display = LiveDisplay(view, Console(file=io.StringIO(), width=80))
    display(JobStarted("j", "/x.mp4", 10 * MiB, resumed=False))
    display(JobProgress("j", 6 * MiB, 10 * MiB))
    display(JobProgress("j", 4 * MiB, 10 * MiB))  # a segment lost: 2 MiB to send again
    display(JobProgress("j", 10 * MiB, 10 * MiB))
    display(JobDone("j", "/x.mp4", "key", 10 * MiB))
    clock.now += 4
    display._final = True
    lines = frame(display)
    assert lines[0] == "Finished in 4s: 1 of 1 files done, 0 failed"
    assert lines[1] == "Sent 12.0 MiB (2.0 MiB again) at 3.0 MiB/s on average, retries 0"
    assert lines[2] == "On the platform: 10.0 MiB of 10.0 MiB"
