"""Chaos: a real `vidlift run` of a few hundred files against a faulty `vidlift serve` that
is killed with -9 and restarted every few seconds; and a faulty batch whose client is
killed with -9 again and again. Expected: every file done, byte-identical (sha256 and a
byte compare), exactly one video per job, and little re-sent.

The figures are printed (`pytest -s`); benchmarks/soak.py runs the same at scale.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .chaos import ALL_FAULT_KINDS, ChaosFigures, ChaosPlan, run_chaos

pytestmark = pytest.mark.anyio


def show(title: str, figures: ChaosFigures) -> str:
    text = f"{title}\n{figures.table()}\n{json.dumps(figures.as_dict(), sort_keys=True)}"
    print(text)
    return text


def assert_nothing_lost(figures: ChaosFigures, text: str) -> None:
    assert figures.problems == [], text
    assert figures.files_done == figures.files, text  # 100% completed
    assert figures.files_identical == figures.files, text  # 100% byte-identical
    assert figures.videos_total == figures.files, text
    assert figures.duplicate_videos == 0, text
    # A finished upload is never sent twice: re-sent bytes are what faults cut, not files.
    assert figures.resent_pct < 25, text


@pytest.mark.timeout(330)
async def test_chaos_batch_survives_faults_and_emulator_kill_9(tmp_path: Path) -> None:
    plan = ChaosPlan(files=250, restart_emulator_every_s=5.0, deadline_s=300.0, seed=11)
    figures = await run_chaos(plan, tmp_path / "chaos", log=print)
    text = show("chaos: faults + emulator kill -9 every 5 s", figures)
    assert_nothing_lost(figures, text)
    assert figures.emulator_restarts >= 3, text
    assert figures.client_runs == 1, text  # one run finished the batch despite all that
    for kind in ALL_FAULT_KINDS:
        assert figures.faults.get(kind, 0) > 0, (kind, text)


@pytest.mark.timeout(330)
async def test_faulty_batch_survives_client_kill_9_again_and_again(tmp_path: Path) -> None:
    plan = ChaosPlan(
        files=80,
        restart_emulator_every_s=None,
        kill_client_after_done=(1, 5),
        max_client_kills=8,
        deadline_s=300.0,
        seed=12,
    )
    figures = await run_chaos(plan, tmp_path / "kills", log=print)
    text = show("chaos: faults + client kill -9 x8", figures)
    assert_nothing_lost(figures, text)
    assert figures.client_kills == 8, text
    assert figures.client_runs == 9, text
    for kind in ("drop_mid_segment", "lost_ack", "upload_503"):
        assert figures.faults.get(kind, 0) > 0, (kind, text)
