"""v2 pacing (issue 12): 60 calls a minute per token, 429 beyond. The v2 API client reads
the quota each answer states in its headers and holds calls while it is spent, with or
without a reset time in the answer (the real platform states none). The emulator's
window is scaled down (``api_window_s``); 429s are counted at the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidlift import MemoryJournal
from vidlift.jobs.pacing import ApiPacer
from vidlift.testing.emulator import Emulator
from vidlift.testing.library import write_sample_library

from .conftest import KiB, emulator_config
from .test_library_batch import batch, settings

pytestmark = pytest.mark.anyio

FILES = 30
LIMIT = 12  # calls per window: the run needs three windows at least
WINDOW_S = 1.0


async def migrate(emu: Emulator, manifest: Path, pacer: ApiPacer) -> int:
    """Run the library through v2 at 16 in flight; the 429s the emulator answered."""
    outcome = await batch(
        emu,
        manifest,
        MemoryJournal(),
        settings=settings(concurrency=16),
        site_id=emu.site_id,
        api_pacer=pacer,
    )
    assert outcome.done == FILES and outcome.failed == 0, outcome
    calls = emu.request_counts()
    assert len(emu.media()) == FILES and calls["v2_create"] == FILES
    assert calls["v2_api"] - calls.get("v2_error", 0) > 2 * LIMIT, calls  # several windows
    assert calls.get("v2_error", 0) == calls.get("v2_rate_limited", 0), calls
    return calls.get("v2_rate_limited", 0)


@pytest.mark.parametrize("with_reset", [True, False], ids=["reset-header", "jw-headers-only"])
async def test_v2_calls_are_paced_within_the_quota(tmp_path: Path, with_reset: bool) -> None:
    manifest = write_sample_library(tmp_path / "lib", FILES, sizes=(8 * KiB,))
    config = emulator_config(
        tmp_path,
        api_calls_per_minute=LIMIT,
        api_window_s=WINDOW_S,
        v2_reset_header=with_reset,
        fsync=False,
    )
    async with Emulator(config) as emu:
        pacer = ApiPacer(window_s=WINDOW_S)
        assert await migrate(emu, manifest, pacer) == 0  # not one call refused
        assert pacer.pauses >= 2  # it waited for the quota's end, window after window


async def test_without_a_pacer_the_same_run_is_refused(tmp_path: Path) -> None:
    """The control: what the run above would meet unpaced (so its 0 means something)."""
    manifest = write_sample_library(tmp_path / "lib", FILES, sizes=(8 * KiB,))
    config = emulator_config(
        tmp_path, api_calls_per_minute=LIMIT, api_window_s=WINDOW_S, fsync=False
    )

    class Unpaced(ApiPacer):
        def observe(self, rate_limit: object) -> None:  # type: ignore[override]
            return None  # never learns the quota

        def rate_limited(self, reset_at: float | None) -> None:
            return None

    async with Emulator(config) as emu:
        assert await migrate(emu, manifest, Unpaced()) > 0
