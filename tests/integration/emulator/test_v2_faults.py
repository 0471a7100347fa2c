"""The v2 faults of the emulator's fault plans, over loopback (docs/EMULATOR.md, "v2")."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.emulator.v2kit import (
    auth,
    complete,
    create,
    inspect,
    list_parts,
    media_url,
    put,
)
from vidlift.testing.emulator import Emulator, EmulatorConfig, FaultPlan, load_fault_plan

pytestmark = pytest.mark.anyio

Factory = Callable[..., AbstractAsyncContextManager[Emulator]]


@pytest.fixture
def faulty(tmp_path: Path) -> Factory:
    def start(**faults: float) -> Emulator:
        plan = FaultPlan(**faults)  # type: ignore[arg-type]
        return Emulator(EmulatorConfig(data_dir=tmp_path / "data", fsync=False, faults=plan))

    return start


async def _clean_upload(http: aiohttp.ClientSession, emu: Emulator) -> tuple[dict[str, Any], str]:
    created = await create(http, emu)
    return created, (await list_parts(http, emu, created))[0]["upload_link"]


async def test_dropped_part_put_stores_nothing(
    faulty: Factory, http: aiohttp.ClientSession
) -> None:
    async with faulty(part_drop_p=1.0) as emu:
        created, link = await _clean_upload(http, emu)
        with pytest.raises(aiohttp.ClientError):
            await put(http, link, b"d" * 200_000)
        assert "etag" not in (await list_parts(http, emu, created))[0]
        assert emu.fault_counts()["part_drop"] >= 1  # aiohttp retries a PUT once


async def test_lost_part_answer_keeps_the_part(
    faulty: Factory, http: aiohttp.ClientSession
) -> None:
    async with faulty(part_lost_answer_p=1.0) as emu:
        created, link = await _clean_upload(http, emu)
        with pytest.raises(aiohttp.ClientError):
            await put(http, link, b"l" * 3000)
        assert (await list_parts(http, emu, created))[0]["etag"]


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("part_500_p", 500, "InternalError"),
        ("part_503_p", 503, "SlowDown"),
        ("part_expired_p", 403, "AccessDenied"),
    ],
)
async def test_refused_part_puts(
    faulty: Factory, http: aiohttp.ClientSession, fault: str, status: int, code: str
) -> None:
    async with faulty(**{fault: 1.0}) as emu:
        created, link = await _clean_upload(http, emu)
        answer_status, _, text = await put(http, link, b"r" * 3000)
        assert answer_status == status and f"<Code>{code}</Code>" in text
        assert "etag" not in (await list_parts(http, emu, created))[0]


async def test_lost_create_answer_media_found_by_external_id(
    faulty: Factory, http: aiohttp.ClientSession
) -> None:
    async with faulty(v2_create_lost_answer_p=1.0) as emu:
        body = {"upload": {"method": "multipart"}, "metadata": {"external_id": "lost-1"}}
        with pytest.raises(aiohttp.ClientError):
            async with http.post(media_url(emu), json=body, headers=auth(emu.api_secret)):
                pass
        params = {"q": "external_id:lost-1"}
        async with http.get(media_url(emu), params=params, headers=auth(emu.api_secret)) as r:
            assert (await r.json())["total"] == 1


async def test_lost_complete_answer_media_is_processing(
    faulty: Factory, http: aiohttp.ClientSession
) -> None:
    async with faulty(v2_complete_lost_answer_p=1.0) as emu:
        created, link = await _clean_upload(http, emu)
        assert (await put(http, link, b"c" * 3000))[0] == 200
        # aiohttp re-sends an idempotent PUT once when the connection closes unanswered:
        # the second complete reads 409, which tells the first one went through
        status, answer = await complete(http, emu, created)
        assert (status, answer["errors"][0]["code"]) == (409, "upload_already_completed")
        assert emu.fault_counts()["v2_complete_lost_answer"] == 1
        assert emu.request_counts()["dropped"] == 1
        assert (await inspect(http, emu, created["id"]))["size"] == 3000


async def test_injected_429_and_processing_failure(
    faulty: Factory, http: aiohttp.ClientSession
) -> None:
    async with faulty(v2_processing_failed_p=1.0) as emu:
        created = await create(http, emu, method="direct")
        assert (await put(http, created["upload_link"], b"p" * 3000))[0] == 200
        emu.shift_clock(1.0)
        received = await inspect(http, emu, created["id"])
        assert received["status"] == "failed" and "injected" in received["error_message"]
    async with (
        faulty(v2_api_429_p=1.0) as emu,
        http.get(media_url(emu), headers=auth(emu.api_secret)) as r,
    ):
        assert r.status == 429 and r.headers["X-RateLimit-Remaining"] == "0"


def test_fault_plan_files_know_the_v2_keys() -> None:
    plan = load_fault_plan(Path("configs/emulator/none.toml"))
    assert plan.part_drop_p == 0.0 and not plan.active
    assert load_fault_plan(Path("configs/emulator/chaos.toml")).part_503_p > 0


async def test_lost_media_list_answer(faulty: Factory, http: aiohttp.ClientSession) -> None:
    async with faulty(v2_list_lost_answer_p=1.0) as emu:
        created = await create(http, emu, custom_params={"b": "x"})
        with pytest.raises(aiohttp.ClientError):
            async with http.get(media_url(emu), headers=auth(emu.api_secret)) as r:
                await r.read()
        assert emu.fault_counts()["v2_list_lost_answer"] >= 1
        async with http.get(media_url(emu, created["id"]), headers=auth(emu.api_secret)) as r:
            assert r.status == 200  # a show is not a listing
