"""Fixtures for batch tests: an emulator in this process, `vidlift` as a subprocess."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan

SECRET = "batch-tests-secret-5d1e77"
KiB = 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET)) as emu:
        yield emu


def emulator_config(
    tmp_path: Path, faults: FaultPlan | None = None, **kwargs: object
) -> EmulatorConfig:
    return EmulatorConfig(
        data_dir=tmp_path / "emu",
        api_secret=SECRET,
        faults=faults or FaultPlan(),
        **kwargs,  # type: ignore[arg-type]
    )


def cli_env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDLIFT_")}
    env.update(
        VIDLIFT_ENDPOINT=emu.endpoint,
        VIDLIFT_API_KEY=emu.api_key,
        VIDLIFT_API_SECRET=emu.api_secret,
        VIDLIFT_BACKOFF_BASE_S="0.02",
        VIDLIFT_BACKOFF_MAX_S="0.2",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


async def run_cli(args: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> CliResult:
    """Run `python -m vidlift ARGS` to completion (without blocking the emulator)."""
    result = await anyio.run_process(
        [sys.executable, "-m", "vidlift", *args], env=env, cwd=cwd, check=False
    )
    return CliResult(result.returncode, result.stdout.decode(), result.stderr.decode())
