"""Chaos, on JW's v1 and v2 APIs alike (one parametrized suite): a real `vidlift run`
against a faulty `vidlift serve` that is killed with -9 and restarted every few seconds;
and a faulty batch whose client is killed with -9 again and again. Expected: every file
done, byte-identical (checksums and a byte compare), exactly one video per job, and little
re-sent.

The figures are printed (`pytest -s`); benchmarks/soak.py runs the same at scale.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from .chaos import (
    ALL_FAULT_KINDS,
    V2_CHAOS_FAULTS,
    V2_FAULT_KINDS,
    ChaosFigures,
    ChaosPlan,
    run_chaos,
    v2_plan,
)

pytestmark = pytest.mark.anyio


def show(title: str, figures: ChaosFigures) -> str:
    text = f"{title}\n{figures.table()}\n{json.dumps(figures.as_dict(), sort_keys=True)}"
    print(text)
    return text


def assert_nothing_lost(figures: ChaosFigures, plan: ChaosPlan, text: str) -> None:
    assert figures.problems == [], text
    assert figures.files_done == figures.files, text  # 100% completed
    assert figures.files_identical == figures.files, text  # 100% byte-identical
    assert figures.videos_total == figures.files, text
    assert figures.duplicate_videos == 0, text
    # A finished upload is never sent twice: re-sent bytes are what faults cut, not files.
    assert figures.resent_pct < plan.max_resent_pct, text


# The same scenarios on both APIs: (plan, the fault kinds each run must have injected).
EMULATOR_KILLS = {
    "v1": (
        ChaosPlan(files=250, restart_emulator_every_s=5.0, deadline_s=300.0, seed=11),
        ALL_FAULT_KINDS,
    ),
    "v2": (
        v2_plan(
            files=40,
            restart_emulator_every_s=3.0,
            deadline_s=300.0,
            seed=21,
            # 20 MiB/s: the batch lasts long enough for several kills of the platform,
            # and a part (8 in flight) still goes up between two kills.
            faults=replace(V2_CHAOS_FAULTS, bandwidth_bytes_per_s=20 * 1024 * 1024),
        ),
        V2_FAULT_KINDS,
    ),
}
CLIENT_KILLS = {
    "v1": (
        ChaosPlan(
            files=80,
            restart_emulator_every_s=None,
            kill_client_after_done=(1, 5),
            max_client_kills=8,
            deadline_s=300.0,
            seed=12,
        ),
        ("drop_mid_segment", "lost_ack", "upload_503"),
    ),
    "v2": (
        v2_plan(
            files=24,
            restart_emulator_every_s=None,
            kill_client_after_done=(1, 3),
            max_client_kills=4,
            deadline_s=300.0,
            seed=22,
        ),
        ("part_drop", "part_lost_answer"),
    ),
}


@pytest.mark.timeout(330)
@pytest.mark.parametrize("api", sorted(EMULATOR_KILLS))
async def test_chaos_batch_survives_faults_and_emulator_kill_9(tmp_path: Path, api: str) -> None:
    plan, kinds = EMULATOR_KILLS[api]
    figures = await run_chaos(plan, tmp_path / "chaos", log=print)
    text = show(
        f"chaos {api}: faults + emulator kill -9 every {plan.restart_emulator_every_s} s", figures
    )
    assert_nothing_lost(figures, plan, text)
    assert figures.emulator_restarts >= 3, text
    assert figures.client_runs == 1, text  # one run finished the batch despite all that
    # Every kind but at most one fired (a kind of a few % over ~100 requests may draw none).
    fired = [kind for kind in kinds if figures.faults.get(kind, 0) > 0]
    assert len(fired) >= len(kinds) - 1, (kinds, text)


@pytest.mark.timeout(330)
@pytest.mark.parametrize("api", sorted(CLIENT_KILLS))
async def test_faulty_batch_survives_client_kill_9_again_and_again(
    tmp_path: Path, api: str
) -> None:
    plan, kinds = CLIENT_KILLS[api]
    figures = await run_chaos(plan, tmp_path / "kills", log=print)
    text = show(f"chaos {api}: faults + client kill -9 x{plan.max_client_kills}", figures)
    assert_nothing_lost(figures, plan, text)
    # A run may finish its last files before its kill comes (a fast moment of the
    # machine): then fewer kills than planned, but never fewer than half of them.
    assert plan.max_client_kills // 2 <= figures.client_kills <= plan.max_client_kills, text
    assert figures.client_runs == figures.client_kills + 1, text
    # Faults on the wire as well: which of them fire in a short run is the seeded draw's
    # (and the kills') business, so any of the kinds counts (v2 sends only ~60 parts).
    assert sum(figures.faults.get(kind, 0) for kind in kinds) >= 2, (kinds, text)
