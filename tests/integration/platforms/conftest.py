"""Fixtures of the v2 platform tests: the real emulator, the real transport, a tiny
test-only driver loop standing in for the job loop (which alone decides and retries)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from vidlift.client.source import SourceFile
from vidlift.client.transport import AiohttpTransport, HttpRequest, HttpResponse
from vidlift.errors import (
    ConnectionDropped,
    PartLinkRefused,
    RateLimited,
    TransportError,
    UploadServerBusy,
)
from vidlift.platforms.base import FinishedUpload
from vidlift.platforms.v2 import V2Platform, V2Settings
from vidlift.platforms.v2.transfer import V2DirectTransfer, V2Transfer
from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan

MIB = 1024 * 1024
SECRET = "v2-platform-tests-secret-5e1d"
RETRYABLE = (TransportError, UploadServerBusy, PartLinkRefused, RateLimited)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def emulator_config(tmp_path: Path, **faults: float) -> EmulatorConfig:
    return EmulatorConfig(
        data_dir=tmp_path / "emu",
        api_secret=SECRET,
        fsync=False,
        faults=FaultPlan(**faults),  # type: ignore[arg-type]
    )


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    async with Emulator(emulator_config(tmp_path)) as emu:
        yield emu


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    transport = AiohttpTransport()
    yield transport
    await transport.aclose()


def settings_for(emu: Emulator, **overrides: int | bool) -> V2Settings:
    values: dict[str, int | bool] = {"part_floor_bytes": 5 * MIB, "parts_in_flight": 3, **overrides}
    return V2Settings(
        site_id=emu.site_id,
        api_secret=SECRET,
        endpoint=emu.endpoint,
        **values,  # type: ignore[arg-type]
    )


async def drive(
    transfer: V2Transfer | V2DirectTransfer,
    source: SourceFile,
    *,
    attempts: int = 30,
    on_failure: Callable[[Exception], None] | None = None,
) -> FinishedUpload:
    """A stand-in for the job loop: run() again after each retryable failure."""
    for _ in range(attempts):
        async with source.open(256 * 1024) as reader:
            try:
                return await transfer.run(reader)
            except RETRYABLE as exc:
                if on_failure is not None:
                    on_failure(exc)
    raise AssertionError(f"not finished after {attempts} attempts")


class AnswerLosingTransport(AiohttpTransport):
    """The real transport, but the answer of requests whose URL contains ``losing`` is
    read and thrown away, as when the connection breaks after the server acted."""

    def __init__(self, losing: str, times: int = 1) -> None:
        super().__init__()
        self._losing = losing
        self.left = times

    async def send(self, request: HttpRequest, *, timeout_s: float | None = None) -> HttpResponse:
        response = await super().send(request, timeout_s=timeout_s)
        if self._losing in request.url and self.left > 0:
            self.left -= 1
            raise ConnectionDropped("answer lost (test)")
        return response


__all__ = [
    "MIB",
    "SECRET",
    "AnswerLosingTransport",
    "V2Platform",
    "drive",
    "emulator_config",
    "make_file",
    "md5_of",
    "settings_for",
]
