"""Fixtures: a real emulator on loopback, sample files, a fast retry policy."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vidlift.config import RetrySettings, UploadSettings
from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan

SECRET = "client-tests-secret-7f3a9c"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fast_settings() -> UploadSettings:
    """Small segments and quick retries, so faults show within a short test."""
    return UploadSettings(
        chunk_size_bytes=64 * 1024,
        piece_bytes=16 * 1024,
        retry=RetrySettings(max_attempts=6, base_delay_s=0.01, max_delay_s=0.05),
    )


def make_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET)) as emu:
        yield emu


def faulty_config(tmp_path: Path, faults: FaultPlan) -> EmulatorConfig:
    return EmulatorConfig(data_dir=tmp_path / "emu", api_secret=SECRET, faults=faults)
