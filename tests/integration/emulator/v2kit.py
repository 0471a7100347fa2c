"""Helpers of the emulator's v2 tests: plain aiohttp calls, no vidlift client code."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import aiohttp

from vidlift.testing.emulator import Emulator

MIB = 1024 * 1024


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def media_url(emu: Emulator, media_id: str = "") -> str:
    tail = f"{media_id}/" if media_id else ""
    return f"{emu.endpoint}/v2/sites/{emu.site_id}/media/{tail}"


async def create(
    http: aiohttp.ClientSession, emu: Emulator, method: str = "multipart", **metadata: Any
) -> dict[str, Any]:
    body = {"upload": {"method": method}, "metadata": {"title": "clip", **metadata}}
    async with http.post(media_url(emu), json=body, headers=auth(emu.api_secret)) as response:
        assert response.status == 201, await response.text()
        document: dict[str, Any] = await response.json()
        return document


async def list_parts(
    http: aiohttp.ClientSession,
    emu: Emulator,
    created: dict[str, Any],
    page: int = 1,
    page_length: int = 10,
) -> list[dict[str, Any]]:
    url = f"{emu.endpoint}/v2/uploads/{created['upload_id']}/parts"
    params = {"page": str(page), "page_length": str(page_length)}
    async with http.get(url, params=params, headers=auth(created["upload_token"])) as response:
        assert response.status == 200, await response.text()
        parts: list[dict[str, Any]] = (await response.json())["parts"]
        return parts


async def put(http: aiohttp.ClientSession, link: str, data: bytes) -> tuple[int, str, str]:
    """PUT raw bytes to a pre-signed link: (status, ETag header, body)."""
    body = io.BytesIO(data) if len(data) > 1024 * 1024 else data
    async with http.put(link, data=body) as response:
        return response.status, response.headers.get("ETag", ""), await response.text()


async def complete(
    http: aiohttp.ClientSession, emu: Emulator, created: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    url = f"{emu.endpoint}/v2/uploads/{created['upload_id']}/complete"
    async with http.put(url, headers=auth(created["upload_token"])) as response:
        return response.status, await response.json()


async def inspect(http: aiohttp.ClientSession, emu: Emulator, media_id: str) -> dict[str, Any]:
    async with http.get(f"{emu.endpoint}/_emulator/media/{media_id}") as response:
        assert response.status == 200
        document: dict[str, Any] = await response.json()
        return document


def quoted_md5(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'
