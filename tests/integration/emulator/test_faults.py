"""Each fault of a FaultPlan fires, does what docs/EMULATOR.md says, and is counted."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import aiohttp
import pytest

from tests.integration.emulator.wire import Upload, call, create, on_port, send
from vidlift.errors import ConfigError
from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan, load_fault_plan

pytestmark = pytest.mark.anyio

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "emulator"


def _config(tmp_path: Path, **faults: float) -> EmulatorConfig:
    return EmulatorConfig(data_dir=tmp_path / "data", faults=FaultPlan(**faults))  # type: ignore[arg-type]


async def _ranges_after_restart(tmp_path: Path, up: Upload, total: int) -> str:
    """Restart without faults and probe the last byte: what the server kept."""
    async with Emulator(_config(tmp_path)) as emu, aiohttp.ClientSession() as http:
        moved = on_port(up, emu.port)
        return (await send(http, moved, bytes(total), total - 1, total - 1)).text


async def test_drop_mid_segment_counts_nothing(tmp_path: Path) -> None:
    async with Emulator(_config(tmp_path, drop_mid_segment_p=1.0)) as emu:
        async with aiohttp.ClientSession() as http:
            up = await create(http, emu)
            with pytest.raises(aiohttp.ClientError):
                await send(http, up, bytes(100_000), 0, 49_999)
        assert emu.fault_counts() == {"drop_mid_segment": 1}
    assert await _ranges_after_restart(tmp_path, up, 100_000) == "99999-99999/100000"


async def test_lost_ack_saves_the_segment_but_never_answers(tmp_path: Path) -> None:
    async with Emulator(_config(tmp_path, lost_ack_p=1.0)) as emu:
        async with aiohttp.ClientSession() as http:
            up = await create(http, emu)
            with pytest.raises(aiohttp.ClientError):
                await send(http, up, bytes(1000), 0, 499)
        assert emu.fault_counts() == {"lost_ack": 1}
    assert await _ranges_after_restart(tmp_path, up, 1000) == "0-499/1000,999-999/1000"


async def test_upload_503(tmp_path: Path) -> None:
    async with (
        Emulator(_config(tmp_path, upload_503_p=1.0)) as emu,
        aiohttp.ClientSession() as http,
    ):
        up = await create(http, emu)
        reply = await send(http, up, bytes(10), 0, 9)
        assert (reply.status, reply.headers["retry-after"]) == (503, "1")
        assert emu.fault_counts() == {"upload_503": 1}


async def test_api_429_and_500(tmp_path: Path) -> None:
    async with Emulator(_config(tmp_path, api_429_p=1.0)) as emu, aiohttp.ClientSession() as http:
        status, doc = await call(http, emu, "list")
        assert (status, doc["code"], doc["rate_limit"]["remaining"]) == (
            429,
            "RateLimitExceeded",
            0,
        )
        assert doc["rate_limit"]["reset"] >= int(time.time())
        assert emu.fault_counts() == {"api_429": 1}
    async with Emulator(_config(tmp_path, api_500_p=1.0)) as emu, aiohttp.ClientSession() as http:
        status, doc = await call(http, emu, "list")
        assert (status, doc["code"]) == (500, "InternalError")
        assert emu.fault_counts() == {"api_500": 1}
    plan = _config(tmp_path, api_nonce_reused_p=1.0)
    async with Emulator(plan) as emu, aiohttp.ClientSession() as http:
        status, doc = await call(http, emu, "list")
        assert (status, doc["code"]) == (400, "NonceInvalid")
        assert emu.fault_counts() == {"api_nonce_reused": 1}


async def test_latency_and_slow_answers_delay(tmp_path: Path) -> None:
    plan = _config(tmp_path, latency_ms=40.0, slow_answer_p=1.0, slow_answer_ms=60.0)
    async with Emulator(plan) as emu, aiohttp.ClientSession() as http:
        started = time.perf_counter()
        status, _ = await call(http, emu, "list")
        assert status == 200
        assert time.perf_counter() - started >= 0.1
        assert emu.fault_counts() == {"latency": 1, "slow_answer": 1}


async def test_truncated_answer_cuts_the_body(tmp_path: Path) -> None:
    async with (
        Emulator(_config(tmp_path, truncated_answer_p=1.0)) as emu,
        aiohttp.ClientSession() as http,
    ):
        with pytest.raises(aiohttp.ClientPayloadError):
            await call(http, emu, "list")
        assert emu.fault_counts() == {"truncated_answer": 1}


async def test_lose_segment_keeps_zeros_that_checksums_reveal(tmp_path: Path) -> None:
    data = os.urandom(2000)
    async with (
        Emulator(_config(tmp_path, lose_segment_p=1.0)) as emu,
        aiohttp.ClientSession() as http,
    ):
        up = await create(http, emu)
        assert (await send(http, up, data, 0, 999)).text == "0-999/2000"
        assert (await send(http, up, data, 1000, 1999)).status == 200
        video = emu.videos()[0]
        assert video.size == 2000
        assert video.md5 == hashlib.md5(bytes(2000)).hexdigest() != hashlib.md5(data).hexdigest()
        assert emu.fault_counts() == {"lose_segment": 2}


async def test_forget_completed_starts_a_new_upload_under_the_same_id(tmp_path: Path) -> None:
    data = os.urandom(300)
    async with (
        Emulator(_config(tmp_path, forget_completed=True)) as emu,
        aiohttp.ClientSession() as http,
    ):
        up = await create(http, emu)
        assert (await send(http, up, data, 0, 299)).status == 200
        assert emu.fault_counts() == {"forget_completed": 1}
        probe = await send(http, up, data, 0, 0)
        assert (probe.status, probe.text) == (201, "0-0/300")
        assert emu.videos()[0].status == "ready"  # the platform keeps the finished video
        assert (await send(http, up, data, 1, 299)).status == 200
        assert emu.request_counts()["files_completed"] == 2
        assert emu.videos()[0].md5 == hashlib.md5(data).hexdigest()


async def test_bandwidth_cap_slows_uploads(tmp_path: Path) -> None:
    config = EmulatorConfig(faults=FaultPlan(bandwidth_bytes_per_s=1_000_000))
    async with Emulator(config) as emu, aiohttp.ClientSession() as http:
        up = await create(http, emu)
        started = time.perf_counter()
        await send(http, up, bytes(300_000), 0, 299_999)
        assert time.perf_counter() - started >= 0.2
        assert emu.fault_counts()["bandwidth_wait"] >= 1


async def _statuses(plan: FaultPlan) -> list[int]:
    async with Emulator(EmulatorConfig(faults=plan)) as emu, aiohttp.ClientSession() as http:
        up = await create(http, emu)
        return [(await send(http, up, bytes(100), i, i)).status for i in range(24)]


async def test_the_seed_makes_faults_repeat() -> None:
    first = await _statuses(FaultPlan(seed=11, upload_503_p=0.5))
    again = await _statuses(FaultPlan(seed=11, upload_503_p=0.5))
    other = await _statuses(FaultPlan(seed=12, upload_503_p=0.5))
    assert first == again
    assert 503 in first and 201 in first
    assert other != first


@pytest.mark.parametrize("name", ["none", "flaky", "chaos"])
def test_shipped_fault_plans_load(name: str) -> None:
    plan = load_fault_plan(CONFIGS / f"{name}.toml")
    assert plan.active is (name != "none")


def test_fault_plan_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("drop_mid_segment = 0.5\n")
    with pytest.raises(ConfigError, match="drop_mid_segment"):
        load_fault_plan(bad)
    bad.write_text("[faults]\nlost_ack_p = 2\n")
    with pytest.raises(ConfigError, match="lost_ack_p"):
        load_fault_plan(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_fault_plan(tmp_path / "missing.toml")
